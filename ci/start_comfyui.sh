#!/usr/bin/env bash
# Start the ComfyUI that ci/setup_env.sh installed, with this checkout as a custom node.
# ComfyUI's home (models/, input/, output/) is ./comfyui; put the model files in ./comfyui/models/foley.
# Extra arguments go to ComfyUI's main.py (e.g. --listen 0.0.0.0 --port 8188).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VPY="$REPO/.venv/bin/python"
HOME_DIR="$REPO/comfyui"
mkdir -p "$HOME_DIR/custom_nodes" "$HOME_DIR/models/foley"
[ -e "$HOME_DIR/custom_nodes/ComfyUI-HunyuanVideo-Foley" ] || ln -s "$REPO" "$HOME_DIR/custom_nodes/ComfyUI-HunyuanVideo-Foley"
DEVICE=()
"$VPY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' || DEVICE=(--cpu)
exec "$VPY" "$REPO/.cache/comfyui-0.3.75/main.py" --base-directory "$HOME_DIR" --database-url sqlite:///:memory: \
  --disable-api-nodes "${DEVICE[@]}" "$@"
