#!/usr/bin/env bash
# Check `colormae convert --to mmseg` against the real mmsegmentation: builds a separate virtual
# environment (mm* are not colormae dependencies), then runs tests/convert/test_mm_real.py, which builds
# the official MAE UperNet config's backbone, loads the converted file through init_cfg (model.pretrained)
# and through load_from, and compares blocks 3/5/7/11 with colormae's segmentation backbone (1e-4).
#
#   tools/check_mm_exports.sh [VENV]        (default VENV: /tmp/mmvenv; about 1.5 GB with torch)
#
# Versions: mmsegmentation 1.2.2 and mmengine 0.10.7 with mmcv-lite 2.1.0. mmseg 1.2.2 refuses mmcv 2.2.0
# at import (it asserts mmcv < 2.2.0), and mmcv-lite has no compiled ops: the test gives mmseg.models a
# stand-in mmcv.ops (the MAE backbone and UperNet call none of its functions).
set -euo pipefail
VENV=${1:-/tmp/mmvenv}
[ $# -gt 0 ] && shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q "torch==2.14.1" "torchvision==0.29.1"
"$VENV/bin/pip" install -q "mmsegmentation==1.2.2" "mmengine==0.10.7" "mmcv-lite==2.1.0" ftfy regex pytest
"$VENV/bin/pip" install -q -e "$ROOT"
cd "$ROOT"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/convert/test_mm_real.py "$@"
