"""Re-generate the shared workflows (workflows/<name>.json + <name>.jpg thumbnails) through the real front end.

    .venv/bin/python tests/ui/build_workflows.py [name ...]

Starts a throw-away ComfyUI (the CI one in .cache/comfyui-0.3.75, or $COMFYUI_ROOT) with this checkout as a
custom node and the example clips of example_media/ in its input folder, then runs build_workflows.js against it.
Needs what the browser tests need: chromium (apt-get install chromium) and `npm ci` in tests/ui.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

UI = Path(__file__).resolve().parent
ROOT = UI.parent.parent
sys.path.insert(0, str(UI.parent / "harness"))
PACK_NAME = "ComfyUI-HunyuanVideo-Foley"
SETTINGS = {
    "Comfy.TutorialCompleted": True,
    "LiteGraph.Canvas.MinFontSizeForLOD": 0,           # text stays drawn when zoomed out (thumbnails)
    "Comfy.Graph.CanvasInfo": False,                   # no render statistics in the corner
    "Comfy.Minimap.Visible": False,
    "Comfy.Workflow.ShowMissingModelsWarning": False,  # no model files here
}


def main(names):
    from comfy_server import ComfyServer

    comfy_root = Path(os.environ.get("COMFYUI_ROOT") or ROOT / ".cache" / "comfyui-0.3.75")
    with tempfile.TemporaryDirectory(prefix="foley-build-") as tmp:
        base = Path(tmp) / "base"
        (base / "custom_nodes").mkdir(parents=True)
        os.symlink(ROOT, base / "custom_nodes" / PACK_NAME, target_is_directory=True)
        (base / "user" / "default").mkdir(parents=True)
        (base / "user" / "default" / "comfy.settings.json").write_text(json.dumps(SETTINGS))
        inputs = Path(tmp) / "input"
        inputs.mkdir()
        for clip in ("foley_example.mp4", "foley_example_6s.mp4", "foley_example_start.jpg"):
            shutil.copy(ROOT / "example_media" / clip, inputs / clip)
        server = ComfyServer(comfy_root, base, input_dir=inputs)
        try:
            subprocess.run(["node", str(UI / "build_workflows.js"), server.url, *names], cwd=UI, check=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
