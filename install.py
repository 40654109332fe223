"""ComfyUI-Manager's post-install hook, run with this pack's folder as the working directory.

The Manager installs requirements.txt itself; this only prepares ComfyUI's folders: creates models/foley (where
the model files go: `python download_models.py` fetches them) and copies the example clips of the shared workflows
into ComfyUI's input folder when they are not there. ComfyUI is found from the pack's place,
ComfyUI/custom_nodes/<pack>. Problems are printed, never fatal: the nodes work without either step.
"""
import importlib.util
import logging
import os
import sys

PACK_DIR = os.path.dirname(os.path.abspath(__file__))


def comfyui_root(pack_dir=PACK_DIR):
    custom_nodes = os.path.dirname(pack_dir)
    return os.path.dirname(custom_nodes) if os.path.basename(custom_nodes) == "custom_nodes" else None


def _example_clips_module():
    # by its path: the nodes package itself imports ComfyUI, which the Manager's install step does not load
    spec = importlib.util.spec_from_file_location("foley_example_clips", os.path.join(PACK_DIR, "nodes",
                                                                                        "example_clips.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    root = comfyui_root()
    if root is None:
        print(f"HunyuanVideo-Foley: {PACK_DIR} is not in a ComfyUI custom_nodes folder; nothing to prepare")
        return 0
    models = os.path.join(root, "models", "foley")
    try:
        os.makedirs(models, exist_ok=True)
        print(f"HunyuanVideo-Foley: model files go into {models} (`python download_models.py` in {PACK_DIR} "
              f"fetches them)")
    except OSError as e:
        print(f"HunyuanVideo-Foley: could not create {models}: {e}")
    _example_clips_module().copy_example_clips(os.path.join(root, "input"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
