#!/usr/bin/env bash
# One-shot GPU check for colormae, for a bare CUDA machine (torch, torchvision, timm, transformers; no
# internet, no pip install). Run from the source tree:
#     bash benchmarks/gpu_check.sh            # PYTHON=python3.11 bash benchmarks/gpu_check.sh
# It runs, each under its own time limit (about 9 minutes in all):
#   1. the CUDA tests (pytest -m gpu; skipped if pytest is missing),
#   2. the GPU benchmarks: benchmarks/pretrain.py --device cuda, benchmarks/masking.py,
#      benchmarks/patterns.py --device cuda, benchmarks/loader.py --device cuda, benchmarks/detect.py
#      --device cuda (a ViTDet ViT-B Mask R-CNN training step at 1024 px in bf16: img/s, peak memory,
#      ratio to torchvision R50-FPN), benchmarks/segment_step.py --device cuda (UperNet ViT-B/16 512 px
#      bf16 step: img/s, peak memory) (each skipped if its file or a module it needs is missing),
#   3. a short real pretraining on CUDA with bf16 (ViT-B/16, 224 px, synthetic ImageFolder),
#   4. the same job under torchrun (1 process, NCCL, DDP) with a resume,
#   5. the end-to-end figure (benchmarks/e2e_pretrain.py, about 4 minutes): ViT-B/16 ColorMAE-G pretraining
#      from 4096 generated JPEGs (bf16, torch.compile, GPU data path, batch 256) in img/s next to the
#      same step on synthetic tensors on the GPU, then ViT-L/16 peak memory at batch 256 with activation
#      checkpointing (and without); alone: python benchmarks/e2e_pretrain.py --device cuda
# then prints a summary: PASS / FAIL / SKIP, seconds, and the last lines of each benchmark.
# Optional packages (tensorboard, pyyaml, mlxtend, scikit-image, grad-cam, safetensors) may be absent.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
WORK="$(mktemp -d -t colormae_gpu_check.XXXXXX)"
LOGS="${GPU_CHECK_LOGS:-$WORK/logs}"
mkdir -p "$LOGS"
declare -a SUMMARY=()

# check NAME LIMIT_SECONDS COMMAND... : run, time and record one item (log in $LOGS/NAME.log)
check() {
    local name="$1" limit="$2"; shift 2
    local start=$SECONDS status
    echo "=== $name (limit ${limit}s): $*"
    timeout --signal=INT --kill-after=15 "$limit" "$@" > "$LOGS/$name.log" 2>&1
    local rc=$?
    case $rc in
        0) status=PASS ;;
        124|130|137) status="FAIL (timeout ${limit}s)" ;;
        *) status="FAIL (exit $rc)" ;;
    esac
    tail -n 4 "$LOGS/$name.log" | sed 's/^/    /'
    SUMMARY+=("$(printf '%-22s %-22s %4ss' "$name" "$status" "$((SECONDS - start))")")
}
skip() { SUMMARY+=("$(printf '%-22s %-22s' "$1" "SKIP ($2)")"); echo "=== $1: skipped ($2)"; }
have() { "$PY" -c "import $1" > /dev/null 2>&1; }

echo "python: $("$PY" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)')"
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: CUDA is not available to $PY"; exit 2
fi
"$PY" -c "import torch; p = torch.cuda.get_device_properties(0); print('gpu:', p.name, f'{p.total_memory / 2**30:.0f} GiB')"

# 1. CUDA tests
mapfile -t GPU_TESTS < <(grep -rl --include='test_*.py' 'mark.gpu' tests)
if ! have pytest; then
    skip cuda-tests "pytest missing"
elif [[ ${#GPU_TESTS[@]} -eq 0 ]]; then
    skip cuda-tests "no gpu-marked tests"
else
    check cuda-tests 120 "$PY" -m pytest -q -m gpu -p no:cacheprovider "${GPU_TESTS[@]}"
fi


# 2. GPU benchmarks
for bench in "pretrain.py --device cuda" "masking.py" "patterns.py --device cuda" "loader.py --device cuda" \
             "detect.py --device cuda" "segment_step.py --device cuda"; do
    file="${bench%% *}"
    if [[ -f "benchmarks/$file" ]]; then
        # shellcheck disable=SC2086
        check "bench-${file%.py}" 90 "$PY" benchmarks/$bench
    else
        skip "bench-${file%.py}" "benchmarks/$file not found"
    fi
done

# 3. + 4. short real pretraining on synthetic images (no data set needed)
"$PY" - "$WORK/images" <<'PYEOF'
import sys
from pathlib import Path

import numpy as np
from PIL import Image

root = Path(sys.argv[1])
rng = np.random.default_rng(0)
for split in ("train", "val"):
    for c in range(2):
        folder = root / split / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(256 if split == "train" else 8):
            base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            img = Image.fromarray(base).resize((256, 256), Image.BICUBIC)
            img.save(folder / f"{i}.png")
PYEOF
TRAIN=(model=mae_vit_base_patch16 "data=$WORK/images" num_workers=6 masking=green bank_size=256
       batch_size=64 epochs=20 warmup_epochs=1 max_steps=30 amp=bf16 log_every=5 ckpt_every=15)
check pretrain-bf16 90 "$PY" -m colormae pretrain --no-progress --out "$WORK/run1" "${TRAIN[@]}"
if [[ -f "$WORK/run1/metrics.jsonl" ]]; then
    echo "    last metrics: $(tail -n 1 "$WORK/run1/metrics.jsonl")"
fi
TRUN=("$PY" -m torch.distributed.run --standalone --nproc_per_node=1)
check torchrun-nccl 60 "${TRUN[@]}" -m colormae pretrain --no-progress --out "$WORK/run2" "${TRAIN[@]}" \
    max_steps=10 ckpt_every=5
check torchrun-resume 60 "${TRUN[@]}" -m colormae pretrain --no-progress --out "$WORK/run2" "${TRAIN[@]}" \
    max_steps=20 ckpt_every=5 --resume

# 5. end to end: JPEG folder -> GPU data path -> compiled bf16 step, vs synthetic; ViT-L memory
if [[ -f benchmarks/e2e_pretrain.py ]]; then
    check e2e-pretrain 420 "$PY" benchmarks/e2e_pretrain.py --device cuda
else
    skip e2e-pretrain "benchmarks/e2e_pretrain.py not found"
fi

echo
echo "================ colormae GPU check summary ================"
printf '%s\n' "${SUMMARY[@]}"
for name in bench-pretrain bench-masking bench-patterns bench-loader e2e-pretrain bench-detect bench-segment_step; do
    if [[ -f "$LOGS/$name.log" ]]; then
        echo "--- $name (last lines)"
        tail -n 8 "$LOGS/$name.log"
    fi
done
echo "logs: $LOGS"
printf '%s\n' "${SUMMARY[@]}" | grep -q FAIL && exit 1 || exit 0
