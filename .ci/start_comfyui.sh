#!/usr/bin/env bash
# Start the ComfyUI that .ci/setup_env.sh installed, with this checkout as a custom node.
# ComfyUI's home (models/, input/, output/) is ./comfyui; put the model files in ./comfyui/models/foley.
# COMFYUI_ROOT / VENV pick another build (default .cache/comfyui-0.3.75 and .venv, the first setup_env.sh call of
# the README), e.g. COMFYUI_ROOT=.cache/comfyui-0.33.0 VENV=.venv-0.33 for one built from a ComfyUI source tarball.
# Extra arguments go to ComfyUI's main.py (e.g. --listen 0.0.0.0 --port 8188).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMFY=$(cd "${COMFYUI_ROOT:-$REPO/.cache/comfyui-0.3.75}" && pwd)
VPY=$(cd "${VENV:-$REPO/.venv}" && pwd)/bin/python
HOME_DIR="$REPO/comfyui"
mkdir -p "$HOME_DIR/custom_nodes" "$HOME_DIR/models/foley"
[ -e "$HOME_DIR/custom_nodes/ComfyUI-HunyuanVideo-Foley" ] || ln -s "$REPO" "$HOME_DIR/custom_nodes/ComfyUI-HunyuanVideo-Foley"
DEVICE=()
"$VPY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' || DEVICE=(--cpu)
exec "$VPY" "$COMFY/main.py" --base-directory "$HOME_DIR" --database-url sqlite:///:memory: \
  --disable-api-nodes "${DEVICE[@]}" "$@"
