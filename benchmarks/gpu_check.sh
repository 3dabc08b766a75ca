#!/usr/bin/env bash
# The GPU check of sj's GPU backends, one command (about 6 minutes on one H100; the step limits add up to 9), from the
# repository root:
#   bash benchmarks/gpu_check.sh [--dry-run] [RESULTS_DIR]
# RESULTS_DIR defaults to $OUT (the device tool's output folder), else ./gpu_check_results.
#
# Steps (each with a time limit; one that fails or times out is reported and the next still runs):
#  install   every packages/* importable with its entry points (pip --no-deps -e when hatchling is there, else a
#            no-network shim: src/ folders on PYTHONPATH plus generated .dist-info); wheels in .whl/ are installed
#            into /tmp/site first: for the SpikingJelly comparison, before the run, here:
#              pip download --no-deps spikingjelly==2.0.0 'loguru>=0.7,<1' -d .whl   (1.2 MB, pure Python)
#              echo /.whl/ >> .git/info/exclude      and carry .whl with the device tool
#  host      benchmarks/bench_gpu_host.py: host time per LIF call with launches stubbed (CPU-only, this machine's CPU)
#  aot       python -m sj.triton.aot --full: every Triton kernel compiled for sm_80 and sm_90 and checked
#  bench     benchmarks/bench_gpu_multistep.py: LIF [T, 64, 65536], T 4/16/32/64, fp16/bf16/fp32: single-call,
#            pipelined and kernel time of triton (tuned and default blocks), cupy and SpikingJelly's Triton LIF, the
#            bandwidth floor, and the issue's GPU targets evaluated (met/not met, worst case) at the end of bench.log
#  triton    tests/triton on CUDA (conformance, CUDA graphs and reduce-overhead for both backends, the compiled-mode
#            checks), conformance every 2nd case (SJ_CONFORMANCE_STRIDE=2), block sizes untuned (SJ_TRITON_AUTOTUNE=0)
#  cupy      tests/cupy on CUDA (conformance every 2nd case, streams, devices, DDP, emulated sample, caches)
# The figures come first: if the device tool's 10-minute limit cuts the run, it cuts the tests.
#  overhead  (not by default) benchmarks/bench_gpu_overhead.py --profile triton: cProfile of the real GPU path
#  core      (not by default) tests/core on CUDA
# Files (8, what the device tool returns at most): summary.txt, install.log, host.log, aot.log, triton.log, cupy.log,
# bench.log, bench.json. Exit status 0 when every step passed.
# GPU_CHECK_STEPS picks steps (default "host aot bench triton cupy"); BENCH_ARGS replaces the benchmark's arguments.
# --dry-run (on any machine): prints each step's command and limit, runs the steps that need no GPU in a short form
# (host bench, ahead-of-time covering set for one dtype) and checks that the GPU steps' scripts and tests load.
set -u
DRY=0
[ "${1:-}" = "--dry-run" ] && { DRY=1; shift; }
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
    if [ $DRY -eq 1 ] && [ -z "${RUN_IN_DRY:-}" ]; then
        note "[dry-run] $name (limit ${limit}s, log $log): $*"
        return
    fi
    local t=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" > "$RES/$log" 2>&1
    local rc=$?
    local tail_line
    tail_line=$(grep -E "passed|failed|error|kernels compiled|target |us \|" "$RES/$log" | tail -1)
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

note "gpu_check $(date -u +%FT%TZ) in $(pwd); results in $RES$([ $DRY -eq 1 ] && echo ' (dry run)')"
if [ -d .whl ] && ls .whl/*.whl > /dev/null 2>&1; then  # carried wheels (SpikingJelly 2.0.0, loguru, ...)
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ $DRY -eq 0 ]; then
    install_packages > "$RES/install.log" 2>&1 || status=1
    note "install: $(tail -1 "$RES/install.log")"
fi
"$PY" -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')" 2>&1 | tee -a "$SUMMARY"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader 2>&1 | tee -a "$SUMMARY"
"$PY" -c "import sys; from sj.cli.main import main; sys.exit(main(['backends']))" >> "$SUMMARY" 2>&1

JOBS=$(nproc 2>/dev/null || echo 4)
XDIST=()
"$PY" -c "import xdist" 2>/dev/null && XDIST=(-n $(( JOBS > 12 ? 12 : JOBS )))
PYTEST=("$PY" -m pytest -q -p no:cacheprovider -W ignore::RuntimeWarning)
read -r -a BENCH <<< "${BENCH_ARGS:---T 4 16 32 64 --dtypes fp16 bf16 fp32 --neurons lif --warmup 3 --reps 7}"
STEPS=" ${GPU_CHECK_STEPS:-host aot bench triton cupy} "
TESTS_ENV=(env SJ_CONFORMANCE_STRIDE=2 SJ_TRITON_AUTOTUNE=0)

# One list of steps: under --dry-run, step() prints each one's command and limit instead of running it, and the
# summary lines read from the logs are skipped.
[[ $STEPS == *" host "* ]] && step host 40 host.log "$PY" benchmarks/bench_gpu_host.py
[[ $DRY -eq 0 && $STEPS == *" host "* ]] && grep -E " us \|" "$RES/host.log" >> "$SUMMARY"
[[ $STEPS == *" aot "* ]] && step aot 60 aot.log "$PY" -m sj.triton.aot --full --jobs "$JOBS"
[[ $DRY -eq 0 && $STEPS == *" aot "* ]] && grep FAILED "$RES/aot.log" | head -20 >> "$SUMMARY"
[[ $STEPS == *" bench "* ]] && step bench 150 bench.log "$PY" benchmarks/bench_gpu_multistep.py \
    --out "$RES/bench.json" "${BENCH[@]}"
[[ $DRY -eq 0 && $STEPS == *" bench "* ]] && grep "^target " "$RES/bench.log" >> "$SUMMARY"
[[ $STEPS == *" triton "* ]] && step "tests/triton (CUDA)" 130 triton.log "${TESTS_ENV[@]}" "${PYTEST[@]}" \
    "${XDIST[@]}" tests/triton
[[ $STEPS == *" cupy "* ]] && step "tests/cupy (CUDA)" 150 cupy.log "${TESTS_ENV[@]}" "${PYTEST[@]}" "${XDIST[@]}" \
    tests/cupy
[[ $STEPS == *" overhead "* ]] && step overhead 90 overhead.log "$PY" benchmarks/bench_gpu_overhead.py \
    --profile triton
[[ $STEPS == *" core "* ]] && step "tests/core (CUDA)" 240 core.log "${PYTEST[@]}" "${XDIST[@]}" tests/core

if [ $DRY -eq 1 ]; then  # after the plan, what runs without a GPU, shortened
    export RUN_IN_DRY=1
    step "host (short)" 300 host.log "$PY" benchmarks/bench_gpu_host.py --rounds 2 --calls 50 --dtypes fp16
    step "aot (covering set, fp16, sm_90)" 600 aot.log "$PY" -m sj.triton.aot --dtypes fp16 --archs 90 --jobs "$JOBS"
    step "bench script loads" 60 bench.log "$PY" benchmarks/bench_gpu_multistep.py --help
    step "overhead script loads" 60 overhead.log "$PY" benchmarks/bench_gpu_overhead.py --help
    step "tests collect" 300 collect.log "${PYTEST[@]}" --collect-only tests/triton tests/cupy
fi

note "total $(( $(date +%s) - T0 ))s, status $status"
exit $status
