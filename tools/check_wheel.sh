#!/usr/bin/env bash
# The installed package, as a user gets it: build the sdist and the wheel, check what they hold, install the
# wheel with its core dependencies only into a clean venv, and run the core there (outside the repository,
# so nothing is imported from src/). Run from anywhere; `.ci/run` calls it after `make test`.
#
#   tools/check_wheel.sh            # PYTHON (default .venv/bin/python, which has `build`) builds;
#                                   # VENV_PYTHON (default python3) makes the clean venv
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
VENV_PYTHON="${VENV_PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/colormae-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS
step() { printf '== %s (%ds)\n' "$*" $((SECONDS - start)); }

step "build sdist + wheel"
"$PYTHON" -m build --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
wheel=("$WORK"/dist/colormae-*.whl)
sdist=("$WORK"/dist/colormae-*.tar.gz)

step "contents: package data, LICENSE / CITATION.cff / CHANGELOG.md in both"
"$PYTHON" - "${wheel[0]}" "${sdist[0]}" "$ROOT" <<'EOF'
import sys, tarfile, zipfile
from pathlib import Path
wheel, sdist, root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
in_wheel = zipfile.ZipFile(wheel).namelist()
in_sdist = tarfile.open(sdist).getnames()
shipped = [p.relative_to(root / "src").as_posix() for sub in ("configs", "data/files")
           for p in sorted((root / "src/colormae" / sub).iterdir()) if p.is_file()]
missing = [p for p in shipped if p not in in_wheel]
for name in ("LICENSE", "CITATION.cff", "CHANGELOG.md"):
    if not any(n.endswith(f".dist-info/licenses/{name}") for n in in_wheel):
        missing.append(f"wheel metadata: {name}")
    if not any(n.count("/") == 1 and n.endswith(f"/{name}") for n in in_sdist):
        missing.append(f"sdist: {name}")
if missing:
    sys.exit("missing from the distributions: " + ", ".join(missing))
print(f"ok: {len(shipped)} package data files, LICENSE / CITATION.cff / CHANGELOG.md in wheel and sdist")
EOF

step "clean venv: torch==2.14.1 torchvision==0.29.1, then the wheel (core dependencies only)"
"$VENV_PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
pip_install() { "$VPY" -m pip install "$@" >>"$WORK/pip.log" 2>&1 || { tail -50 "$WORK/pip.log"; exit 1; }; }
pip_install torch==2.14.1 torchvision==0.29.1
pip_install "${wheel[0]}"
extras=$("$VPY" -c "import importlib.util as u; print(' '.join(m for m in ('transformers', 'matplotlib',
  'tensorboard', 'pycocotools', 'sklearn', 'skimage', 'mlxtend', 'cv2', 'tifffile') if u.find_spec(m)))")
[ -z "$extras" ] || { echo "the core install brought optional packages: $extras"; exit 1; }
BIN="$WORK/venv/bin"
cd "$WORK"

step "colormae --version"
"$BIN/colormae" --version
step "colormae pretrain --help"
"$BIN/colormae" pretrain --help >/dev/null
step "colormae patterns generate"
"$BIN/colormae" patterns generate --color green --count 16 --size 32 -o "$WORK/green.npz"
step "5 pretraining steps on mnist5k"
"$BIN/colormae" pretrain --out "$WORK/run" model=mae_vit_tiny_32px data=mnist5k masking=green \
    bank_size=32 pattern_size=32 batch_size=16 max_steps=5 num_workers=0 log_every=1 amp=none
test "$(wc -l <"$WORK/run/metrics.jsonl")" -ge 5
step "colormae.load('random:mae_vit_tiny_32px')"
"$VPY" -c "import colormae; m = colormae.load('random:mae_vit_tiny_32px'); print('loaded', m.name)"
step "colormae segment --help names the [dense] extra"
"$BIN/colormae" segment --help | grep -F 'pip install "colormae[dense]"'
set +e
"$BIN/colormae" segment "$WORK/run" --out "$WORK/seg" 2>"$WORK/seg.err"
rc=$?
set -e
cat "$WORK/seg.err"
[ "$rc" -eq 2 ] && grep -qF 'pip install "colormae[dense]"' "$WORK/seg.err"
step "wheel check passed"
