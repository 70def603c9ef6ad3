#!/usr/bin/env bash
# Set up mipnet-mmpose on a fresh machine (Python 3.11 + pip) in the venv `.venv/` of this checkout.
#
#   bash tools/setup.sh          # idempotent: re-running only installs what is missing
#
# Order matters (see requirements.txt): torch and the build tools first, then mmcv built with its
# ops against that torch (no build isolation), then the rest of the stack, then this plugin.
# pip's cache is kept, so the mmcv wheel is built once per machine and re-used afterwards: the whole
# script took 9 min on 2 idle cores with an empty cache, 2 min with the wheel cached (2026-12-03).
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: bash tools/setup.sh [-h | --help]

Installs the pinned OpenMMLab stack (requirements.txt) and this plugin (editable) into the
venv .venv/ of this checkout, creating it if needed; re-running installs only what is missing.
Environment: PYTHON (the interpreter that creates the venv, default python3), VENV (the venv
folder, default .venv), MAX_JOBS (parallel jobs of the mmcv build, default 2), CONSTRAINTS (the
pins, default requirements.txt; tools/setup_new_torch.sh passes its own with a newer torch).
--help prints this and installs nothing.
USAGE
}
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    '') ;;
    *) usage >&2; echo "tools/setup.sh: unknown argument '$1'" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
CONSTRAINTS=${CONSTRAINTS:-requirements.txt}

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# Every step is constrained by the pins, so that no later dependency (pandas, matplotlib...)
# upgrades numpy, torch or opencv behind our back.
PIP=("$PY" -m pip install --disable-pip-version-check -c "$CONSTRAINTS")
pin() { grep -E "^$1==" "$CONSTRAINTS"; }

# 1. torch, numpy and what mmcv's and chumpy's setup.py import (setuptools < 81 keeps pkg_resources).
"${PIP[@]}" "setuptools<81" wheel ninja "$(pin numpy)" "$(pin torch)" "$(pin torchvision)"

# 2. mmcv with its compiled ops, built against the torch above.
if ! "$PY" -c "import mmcv, mmcv.ops" 2>/dev/null; then
    MAX_JOBS=${MAX_JOBS:-2} MMCV_WITH_OPS=1 "${PIP[@]}" --no-build-isolation "$(pin mmcv)"
fi

# 3. chumpy (an mmpose requirement that mmpose never imports) cannot build in isolation.
"${PIP[@]}" --no-build-isolation chumpy==0.70

# 4. The rest of the stack. openmim without its openxlab dependency, which would
#    downgrade setuptools; mim's train/test commands do not need it.
"${PIP[@]}" "$(pin opencv-python)" "$(pin mmengine)" "$(pin mmdet)" "$(pin mmpose)" \
    "$(pin xtcocotools)"
"${PIP[@]}" --no-deps "$(pin openmim)"
"${PIP[@]}" Click colorama model-index pandas requests rich tabulate
# ViTPose (mmpretrain) and RTMPose's Albumentation step; albumentations and qudida from source so
# they use opencv-python (their wheels pull opencv-python-headless).
"${PIP[@]}" "$(pin mmpretrain)" "$(pin albumentations)" --no-binary qudida,albumentations

# 5. This plugin (editable, so `mim train` finds it through custom_imports) and the test extras.
"${PIP[@]}" -r requirements-tests.txt
"${PIP[@]}" -e . --no-deps

"$PY" -c "import mmcv.ops, mmdet, mmpose, mipnet_mmpose; print('mipnet-mmpose ready:', mipnet_mmpose.__version__, '| mmpose', mmpose.__version__)"
