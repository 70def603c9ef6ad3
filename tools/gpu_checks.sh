#!/usr/bin/env bash
# The first things to run on a machine with an NVIDIA GPU (no GPU was available while this
# plugin was written: every figure so far is from a CPU). Each step prints its time and
# writes its log (and JSON) under OUT_DIR; a failing step does not stop the later ones.
#
#   bash tools/gpu_checks.sh [OUT_DIR]        # default work_dirs/gpu_checks; about 5-10 min
#   PY=.venv-torch2.14.1/bin/python bash tools/gpu_checks.sh work_dirs/gpu_checks_torch2.14.1
#
# Needs the venv of tools/setup.sh (or of tools/setup_new_torch.sh, through PY) made on that
# machine: torch from PyPI is a CUDA build; mmcv's ops are then CPU-only (built without a GPU),
# which MIPNet does not use (`import mmpose.models` needs them to import, nothing more).
set -uo pipefail

usage() {
    cat <<'USAGE'
usage: bash tools/gpu_checks.sh [-h | --help] [OUT_DIR]

On a machine with an NVIDIA GPU, in this order: what torch sees (stops here without a GPU),
tools/benchmark.py --smoke on CUDA in float32 and with --amp (float16, mmengine's
AmpOptimWrapper), its training section at HRNet-W32 batch 32 both ways (the paper's
training-cost figure), and the sample training for 2 epochs with `mim train ... --amp`.
Logs and JSON go to OUT_DIR (default work_dirs/gpu_checks). Environment: PY (the venv's
python, default .venv/bin/python).
--help prints this and runs nothing.
USAGE
}
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; echo "tools/gpu_checks.sh: unknown argument '$1'" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${1:-work_dirs/gpu_checks}
mkdir -p "$OUT"
FAILED=()
step() {  # step NAME COMMAND...: run it, log it, time it
    local name=$1 start=$SECONDS
    shift
    echo "=== $name: $*"
    "$@" 2>&1 | tee "$OUT/$name.log"
    local status=${PIPESTATUS[0]}
    echo "=== $name: exit $status after $((SECONDS - start)) s"
    [ "$status" -eq 0 ] || FAILED+=("$name")
    return "$status"
}

# 1. The GPU as torch sees it; nothing else is worth running without one.
step gpu "$PY" -c "
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f'tools/gpu_checks.sh: torch {torch.__version__} sees no CUDA GPU (torch.cuda.is_available() is False): run it on a machine with an NVIDIA GPU and the CUDA build of torch that tools/setup.sh installs from PyPI')
import mmcv, mmcv.ops, mmpose, mipnet_mmpose
print('torch', torch.__version__, '| CUDA', torch.version.cuda, '| cuDNN', torch.backends.cudnn.version())
print('GPU:', torch.cuda.get_device_name(0), '|', round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1), 'GiB')
print('bf16 supported:', torch.cuda.is_bf16_supported(), '| mmcv', mmcv.__version__, '| mmpose', mmpose.__version__)
" || exit 1

# 2. Every benchmark section on a tiny HRNet on the GPU, then its training step in float16.
step smoke "$PY" tools/benchmark.py --smoke --device cuda --json "$OUT/smoke.json"
step smoke_amp "$PY" tools/benchmark.py --smoke --device cuda --amp --sections training \
    --json "$OUT/smoke_amp.json"

# 3. The training step of HRNet-W32 at batch 32 (N=2: stock, shared trunk, the authors'
#    duplicated batch), float32 and float16; inference at batch 8 and 32.
step w32 "$PY" tools/benchmark.py --device cuda --models w32 --batches 8 32 --train-batch 32 \
    --sections complexity inference training --json "$OUT/w32.json"
step w32_amp "$PY" tools/benchmark.py --device cuda --amp --models w32 --train-batch 32 \
    --sections training --json "$OUT/w32_amp.json"

# 4. The sample training as a user runs it, in mixed precision (MMPose's --amp), then its test.
WORK="$OUT/sample_amp"
step sample_amp "$(dirname "$PY")/mim" train mmpose configs/mipnet_sample_hrnet-w16_coco-mini-128x96.py \
    --work-dir "$WORK" --amp --cfg-options train_cfg.max_epochs=2 train_cfg.val_interval=2
step sample_amp_test "$(dirname "$PY")/mim" test mmpose configs/mipnet_sample_hrnet-w16_coco-mini-128x96.py \
    --checkpoint "$WORK/epoch_2.pth" --work-dir "$WORK/test"

if [ ${#FAILED[@]} -gt 0 ]; then
    echo "tools/gpu_checks.sh: failed: ${FAILED[*]} (logs in $OUT)" >&2
    exit 1
fi
echo "tools/gpu_checks.sh: all passed (logs and JSON in $OUT)"
