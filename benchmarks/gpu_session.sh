#!/usr/bin/env bash
# Issue 23's measurements in ONE device call on a lent GPU machine.
#
# Here, once (the GPU machine has no registry; diffusers & co. travel as wheels):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl diffusers==0.42.1 open_clip_torch==3.3.0 ftfy wcwidth transformers==5.23.0 regex
# (bitsandbytes is left out: its wheel, 105 MB, is over the 64 MiB a device call carries)
# Then the device call:  run(command="bash benchmarks/gpu_session.sh", carry=[".whl"], timeout_s=590)
# All the cases take longer than one call, and a session has 900 s of device time in all, so
# choose: ONLY= the cases (training, ganmut, unet_only, generator), DTYPES= the generator's
# dtypes, TESTS=0 skips the CUDA tests (~60 s), SESSION_S= the benchmark's own limit (450).
# Issue 23's open numbers, in two calls:
#   TESTS=0 ONLY=unet_only,generator DTYPES=float16 SESSION_S=540 bash benchmarks/gpu_session.sh
#     (goals: the cold warm-up with one graph per module, also UNet only; a restart's warm-up)
#   ONLY=training,generator DTYPES=bfloat16 bash benchmarks/gpu_session.sh
#     (goal: training steps/s; cuDNN search on/off; a profile in $OUT/train_profile.txt; bf16)
# Commit $OUT/gpu_session.json as benchmarks/gpu_results/<date>-<gpu>-runN.json: BENCHMARKS.md shows it.
# Results: $OUT/gpu_session.json (rewritten after every case), $OUT/gpu_tests.log, $OUT/gpu_session.log.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.csv" 2>&1
# 1. the CUDA paths of the tests: compiled images match uncompiled, one graph per module (~1 min)
if [ "${TESTS:-1}" != 0 ]; then
  timeout 90 python3 -m pytest -q -x -p no:cacheprovider tests/test_generation_pipeline.py \
    -k "speed or compiled or warm" > "$OUT/gpu_tests.log" 2>&1
  echo "tests rc=$?" >> "$OUT/gpu_tests.log"
fi
# 2. every number (training first, bf16 last: a run cut short keeps the most important ones)
timeout "${SESSION_S:-450}" python3 -m benchmarks.gpu_session --out "$OUT" --repeats 3 --train-steps 20 \
  --only "${ONLY:-training,ganmut,unet_only,generator}" --dtypes "${DTYPES:-float16,bfloat16}" \
  > "$OUT/gpu_session.log" 2>&1
echo "session rc=$?" >> "$OUT/gpu_session.log"
tail -c 6000 "$OUT/gpu_session.log"
