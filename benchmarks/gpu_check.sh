#!/usr/bin/env bash
# The GPU check of the repository, one command (about 7 minutes on one H200, at most 13),
# run from the repository root as
#   bash benchmarks/gpu_check.sh [RESULTS_DIR]
# RESULTS_DIR defaults to $OUT (the device tool's output folder), else ./gpu_check_results.
#
# 1. makes every packages/* (and the test-only packages tests/*/*/pyproject.toml) importable with its entry
#    points: `pip install --no-deps --no-build-isolation -e`
#    when the build backend (hatchling) is installed, else a no-network shim (src/ folders on PYTHONPATH plus a
#    generated .dist-info with each package's entry points), since the GPU machine has no package index;
# 2. `sj backends`; 3. tests/core (CUDA where the tests use it), tests/cupy if present, tests/triton on CUDA
#    (not the interpreter; SJ_TRITON_AUTOTUNE=0 so the ~900 conformance configurations compile once each);
# 4. benchmarks/bench_gpu_multistep.py (every backend available on CUDA, ratios to torch and to a bandwidth floor);
# 5. benchmarks/bench_gpu_overhead.py --profile triton (host vs GPU time per call, cProfile of the triton path).
# Each step has a time limit; a step that fails or times out is reported and the next one still runs.
# Files written (at most 8): summary.txt (with `sj backends`), install.log, core.log, cupy.log, triton.log,
# bench.log, bench.json, overhead.log. Exit status: 0 when every step passed.
# GPU_CHECK_STEPS (default "core cupy triton bench overhead") picks steps; BENCH_ARGS replaces the benchmark's
# default arguments (e.g. BENCH_ARGS="--T 4 32 --dtypes fp16 --neurons lif" for a short run).
# SpikingJelly's Triton LIF is timed too when it imports: carry its wheel with loguru's and SciencePlots'
# (pip install --no-deps --target DIR, then DIR on PYTHONPATH).
set -u
RES="${1:-${OUT:-gpu_check_results}}"
mkdir -p "$RES"
PY="${PYTHON:-python3}"
SUMMARY="$RES/summary.txt"
: > "$SUMMARY"
export PYTHONUNBUFFERED=1 SJ_CACHE_DIR="${SJ_CACHE_DIR:-/tmp/sj-gpu-check-cache}"
unset TRITON_INTERPRET
status=0
T0=$(date +%s)

note() { echo "$*" | tee -a "$SUMMARY"; }

step() {  # step NAME LIMIT_S LOG COMMAND...
    local name=$1 limit=$2 log=$3; shift 3
    local t=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" > "$RES/$log" 2>&1
    local rc=$?
    local tail_line
    tail_line=$(grep -E "passed|failed|error" "$RES/$log" | tail -1)
    [ $rc -eq 124 ] && tail_line="TIMED OUT after ${limit}s; $tail_line"
    note "$name: rc=$rc in $(( $(date +%s) - t ))s  ${tail_line}"
    [ $rc -eq 0 ] || status=1
}

install_packages() {
    if "$PY" -c "import hatchling" 2>/dev/null; then
        local args=()
        for p in packages/*/ tests/*/*/pyproject.toml; do args+=(-e "${p%pyproject.toml}"); done
        # SJ_CPU_SKIP_BUILD: the GPU check needs no prebuilt CPU kernels (building them takes minutes)
        SJ_CPU_SKIP_BUILD=1 "$PY" -m pip install --no-deps --no-build-isolation --no-index -q "${args[@]}" && return 0
        echo "pip install failed; using the shim"
    fi
    local shim=/tmp/sj-gpu-check-dist
    rm -rf "$shim" && mkdir -p "$shim"
    "$PY" - "$shim" <<'PYEOF'
import pathlib, sys, tomllib
shim = pathlib.Path(sys.argv[1])
paths = []
projects = sorted(pathlib.Path("packages").glob("*/pyproject.toml")) + sorted(pathlib.Path("tests").glob("*/*/pyproject.toml"))
for pyproject in projects:
    meta = tomllib.loads(pyproject.read_text())["project"]
    name, version = meta["name"], meta.get("version", "0")
    info = shim / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    eps = meta.get("entry-points", {})
    scripts = meta.get("scripts", {})
    lines = []
    for group, entries in [("console_scripts", scripts), *eps.items()]:
        if entries:
            lines.append(f"[{group}]")
            lines += [f"{k} = {v}" for k, v in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    paths.append(str((pyproject.parent / "src").resolve()))
    print("shim:", name, version, {g: sorted(e) for g, e in eps.items()})
(shim / "PYTHONPATH").write_text(":".join([*paths, str(shim)]))
PYEOF
    export PYTHONPATH="$(cat "$shim/PYTHONPATH")${PYTHONPATH:+:$PYTHONPATH}"
    echo "PYTHONPATH=$PYTHONPATH"
}

note "gpu_check $(date -u +%FT%TZ) in $(pwd); results in $RES"
install_packages > "$RES/install.log" 2>&1 || status=1
note "install: $(tail -1 "$RES/install.log")"
"$PY" -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__, torch.cuda.get_device_name())" 2>&1 | tee -a "$SUMMARY"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader 2>&1 | tee -a "$SUMMARY"
"$PY" -c "import sys; from sj.cli.main import main; sys.exit(main(['backends']))" >> "$SUMMARY" 2>&1

XDIST=()
"$PY" -c "import xdist" 2>/dev/null && XDIST=(-n 12)
PYTEST=("$PY" -m pytest -q -p no:cacheprovider -W ignore::RuntimeWarning)

STEPS=" ${GPU_CHECK_STEPS:-core cupy triton bench overhead} "
# Limits from the H200 run of session 9: tests/core passed 84 % in 90 s with 8 workers; tests/cupy took 41-51 s
# with 12-16 workers (over 120 s with one).
[[ $STEPS == *" core "* ]] && step "tests/core" 240 core.log "${PYTEST[@]}" "${XDIST[@]}" tests/core
if [[ $STEPS == *" cupy "* && -d tests/cupy ]]; then
    step "tests/cupy" 180 cupy.log "${PYTEST[@]}" "${XDIST[@]}" tests/cupy
fi
[[ $STEPS == *" triton "* ]] && step "tests/triton (CUDA)" 120 triton.log env SJ_TRITON_AUTOTUNE=0 "${PYTEST[@]}" \
    "${XDIST[@]}" tests/triton
read -r -a BENCH <<< "${BENCH_ARGS:---warmup 2 --reps 5}"
[[ $STEPS == *" bench "* ]] && step "benchmark" 100 bench.log "$PY" benchmarks/bench_gpu_multistep.py \
    --out "$RES/bench.json" "${BENCH[@]}"
[[ $STEPS == *" overhead "* ]] && step "overhead" 90 overhead.log "$PY" benchmarks/bench_gpu_overhead.py \
    --profile triton

note "total $(( $(date +%s) - T0 ))s, status $status"
exit $status
