"""Session fixtures running a real ComfyUI (0.3.75 by default, or the one at $COMFYUI_ROOT; see .ci/setup_env.sh)
with this checkout as a custom node.

comfy_inproc  -> harness.comfy_inproc.InProcessComfy   (ComfyUI inside the pytest process; one per session)
comfy_server  -> harness.comfy_server.ComfyServer      (main.py subprocess on 127.0.0.1:<free port>)
foley_models_dir -> Path with a `foley/` subfolder registered as the `foley` model folder in both
comfy_input_dir  -> Path used as ComfyUI's input directory by both (drop videos there before running)
"""
import json
import os
import re
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS / "harness"))

PACK_NAME = "ComfyUI-HunyuanVideo-Foley"  # directory name of the checkout under custom_nodes/
PACK_MODULE = f"custom_nodes.{PACK_NAME}"  # what ComfyUI reports as the nodes' python_module
PACK_NODE_PREFIX = "Foley"
MODEL_FOLDER = "foley"
DEFAULT_COMFYUI = ROOT / ".cache" / "comfyui-0.3.75"
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*.*")


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name.startswith("test_ui"):
            item.add_marker(pytest.mark.browser)


def _check_pack(log_text, pack_dir, loaded_ok, node_ids, harness):
    """Fail the fixture if the pack did not import cleanly or registered no Foley* node."""
    problems = []
    if loaded_ok is False:
        problems.append("ComfyUI reports the pack as IMPORT FAILED")
    markers = (str(pack_dir), f"custom_nodes/{PACK_NAME}", str(ROOT))
    problems += [f"traceback through the pack:\n{tb}" for tb in _TRACEBACK.findall(log_text)
                 if any(m in tb for m in markers)]
    if not any(n.startswith(PACK_NODE_PREFIX) for n in node_ids):
        problems.append(f"no node id starting with {PACK_NODE_PREFIX!r} registered by the pack (pack ids: {node_ids})")
    if problems:
        pytest.fail(f"[{harness}] {PACK_NAME} did not load:\n" + "\n".join(problems) + f"\n--- ComfyUI log ---\n{log_text}",
                    pytrace=False)


@pytest.fixture(scope="session")
def comfy_root():
    root = Path(os.environ.get("COMFYUI_ROOT") or DEFAULT_COMFYUI).resolve()
    if not (root / "main.py").is_file() or not (root / "nodes.py").is_file():
        pytest.fail(f"ComfyUI not found at {root}. From the repo root run:\n"
                    "    bash .ci/setup_env.sh .venv .cache/comfyui-0.3.75\n"
                    "(or build another from its source with .ci/setup_env.sh and point COMFYUI_ROOT at it)", pytrace=False)
    return root


@pytest.fixture(scope="session")
def foley_models_dir(tmp_path_factory):
    """Temp dir whose `foley/` subfolder is registered (extra_model_paths) as model folder `foley` in both
    harnesses, before ComfyUI boots. Put checkpoints in foley_models_dir / "foley"."""
    d = tmp_path_factory.mktemp("models")
    (d / MODEL_FOLDER).mkdir()
    return d


@pytest.fixture(scope="session")
def comfy_input_dir(tmp_path_factory):
    """ComfyUI's input directory for both harnesses (LoadVideo / LoadAudio read file names from here)."""
    return tmp_path_factory.mktemp("input")


@pytest.fixture(scope="session")
def extra_model_paths_yaml(foley_models_dir, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("config") / "extra_model_paths.yaml"
    cfg.write_text(f"foley_tests:\n    base_path: {json.dumps(str(foley_models_dir))}\n    {MODEL_FOLDER}: {MODEL_FOLDER}\n")
    return cfg


def _make_base(tmp_path_factory, name):
    base = tmp_path_factory.mktemp(name)
    (base / "custom_nodes").mkdir()
    os.symlink(ROOT, base / "custom_nodes" / PACK_NAME, target_is_directory=True)  # the checkout IS the node
    (base / "user" / "default").mkdir(parents=True)  # skips the web UI's first-run template browser
    (base / "user" / "default" / "comfy.settings.json").write_text(
        '{"Comfy.TutorialCompleted": true, "LiteGraph.Canvas.MinFontSizeForLOD": 0}')
    return base


@pytest.fixture(scope="session")
def comfy_inproc(comfy_root, tmp_path_factory, extra_model_paths_yaml, comfy_input_dir):
    from comfy_inproc import InProcessComfy

    base = _make_base(tmp_path_factory, "comfy_inproc")
    c = InProcessComfy(comfy_root, base, extra_model_paths=[extra_model_paths_yaml], input_dir=comfy_input_dir)
    assert c.import_failed == [], f"comfy_extras modules failed to import: {c.import_failed}"
    pack_dir = base / "custom_nodes" / PACK_NAME
    c.pack_node_ids = c.node_ids_from(PACK_MODULE)
    _check_pack("\n".join(c.log), pack_dir, c.custom_node_results.get(str(pack_dir)), c.pack_node_ids, "in-process")
    return c


@pytest.fixture(scope="session")
def comfy_server(comfy_root, tmp_path_factory, extra_model_paths_yaml, comfy_input_dir):
    from comfy_server import ComfyServer

    base = _make_base(tmp_path_factory, "comfy_server")
    # COMFYUI_FRONT_END_ROOT: a front end other than the one the ComfyUI under test pins (.ci/fetch_frontend.py)
    front_end = os.environ.get("COMFYUI_FRONT_END_ROOT")
    s = ComfyServer(comfy_root, base, extra_model_paths=[extra_model_paths_yaml], input_dir=comfy_input_dir,
                    extra_args=["--front-end-root", str(Path(front_end).resolve())] if front_end else [])
    try:
        log = s.log()
        pack_dir = base / "custom_nodes" / PACK_NAME
        failed = re.search(r"\(IMPORT FAILED\): .*" + re.escape(f"custom_nodes/{PACK_NAME}"), log) is not None
        s.pack_node_ids = s.node_ids_from(PACK_MODULE)
        _check_pack(log, pack_dir, not failed, s.pack_node_ids, "server")
        assert "IMPORT FAILED" not in log, f"ComfyUI reported IMPORT FAILED:\n{log}"
        yield s
    finally:
        s.stop()



@pytest.fixture(scope="session")
def models(foley_models_dir):
    """Tiny random models in the official formats, under their official names, in models/foley."""
    from tiny_models import write_tiny_models

    foley = foley_models_dir / MODEL_FOLDER
    if not (foley / "hunyuanvideo_foley.pth").exists():
        write_tiny_models(foley)
    return foley


@pytest.fixture(scope="session")
def comfyui(models, comfy_inproc, comfy_input_dir):
    """The in-process ComfyUI with the tiny models and a 2 s clip (48 frames at 24 fps) in its input folder."""
    from graph import CLIP
    from make_media import make_video

    make_video(comfy_input_dir / CLIP, n_frames=48, fps=24, width=64, height=48)
    return comfy_inproc
