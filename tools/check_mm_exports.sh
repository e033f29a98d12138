#!/usr/bin/env bash
# Check `colormae convert --to mmseg` (and `--to mmdet-vitdet`) against the real projects: builds a
# separate virtual environment (mm* are not colormae dependencies), then runs tests/convert/test_mm_real.py,
# which builds the official configs' backbones, loads the converted files through each route (init_cfg and
# load_from) and compares their features with colormae's dense backbones (1e-4).
#
#   tools/check_mm_exports.sh [VENV] [MMDETECTION_CHECKOUT]
#
# VENV defaults to /tmp/mmvenv (about 1.5 GB with torch). mmdet's ViTDet lives in the mmdetection repository
# (projects/ViTDet), not in its wheel: give a checkout to run the mmdet part too (mmdet 3.3.0 is installed).
# Versions: mmsegmentation 1.2.2 and mmengine 0.10.7 with mmcv-lite 2.1.0; mmseg 1.2.2 refuses mmcv 2.2.0
# at import (it asserts mmcv < 2.2.0), and mmcv-lite has no compiled ops: the test gives mmseg / mmdet a
# stand-in mmcv.ops (the backbones never call it).
set -euo pipefail
VENV=${1:-/tmp/mmvenv}
MMDET=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q "torch==2.14.1" "torchvision==0.29.1"
"$VENV/bin/pip" install -q "mmsegmentation==1.2.2" "mmengine==0.10.7" "mmcv-lite==2.1.0" ftfy regex pytest
[ -z "$MMDET" ] || "$VENV/bin/pip" install -q "mmdet==3.3.0"
"$VENV/bin/pip" install -q -e "$ROOT"
cd "$ROOT"
PYTHONPATH=${MMDET:+$(cd "$MMDET" && pwd)} "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider \
    tests/convert/test_mm_real.py
