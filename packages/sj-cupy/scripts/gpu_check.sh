#!/usr/bin/env bash
# sj-cupy's device check, run from the repository root on a CUDA machine (one prepared run):
#   1. install the wheels carried in packages/sj-cupy/build/wheels (sj-core, sj-cupy, sj-triton) without deps,
#   2. `sj backends`, 3. tests/cupy (GPU conformance, streams, devices, torch.compile, DDP; CPU compile tests),
#   4. the benchmark (cupy vs triton vs torch, fp32 then fp16).
# Logs go to $OUT (or ./gpu_check_out). Build the wheels first, here:
#   pip wheel --no-deps -w packages/sj-cupy/build/wheels packages/sj-core packages/sj-cupy packages/sj-triton
set -u
OUT=${OUT:-gpu_check_out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 SJ_CACHE_DIR=/tmp/sj-cache
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site packages/sj-cupy/build/wheels/*.whl \
  || exit 1
export PYTHONPATH=/tmp/site
nvidia-smi -L
python3 -c "import cupy, torch, triton; print('cupy', cupy.__version__, 'torch', torch.__version__, 'triton', triton.__version__)"
python3 -m sj.cli.main backends 2>&1 | tee "$OUT/backends.log"
timeout "${TEST_TIMEOUT:-330}" python3 -m pytest -q -p no:cacheprovider -n "${WORKERS:-12}" tests/cupy -rs --maxfail="${MAXFAIL:-25}" \
  --ignore=tests/cupy/test_cupy_compile.py 2>&1 | tee "$OUT/tests.log" | tail -40
timeout "${BENCH_TIMEOUT:-150}" python3 packages/sj-cupy/benchmarks/bench_multistep.py 2>&1 | tee "$OUT/bench.log"
timeout 60 python3 packages/sj-cupy/benchmarks/bench_multistep.py --dtype float16 --T 16 64 --backends triton cupy \
  2>&1 | tee "$OUT/bench_fp16.log"
