"""Missing Foley model files in the front end, and the loaders listing only the files that are there.

A server whose models folders are empty opens the shipped candidates_to_best workflow (all five Foley loaders);
tests/ui/models_suite.js reports what the front end shows. Front ends 1.49 and later mark a combo value that is
not among the options as missing and offer the download of the node's `models` entry (huggingface.co, .pth
allowed); 1.32.9 lists the `models` entries whose file the server does not have, with no download for .pth.
The CLAP and SigLIP2 folders are never listed (a folder name is not a model file name to the front end).
Run with another front end: COMFYUI_FRONT_END_ROOT=<unpacked front end> (.ci/fetch_frontend.py).
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
UI = TESTS / "ui"
WORKFLOW = ROOT / "workflows" / "candidates_to_best.json"
PACK_NAME = "ComfyUI-HunyuanVideo-Foley"
FOLEY_FILES = ["hunyuanvideo_foley.pth", "vae_128d_48k.pth", "synchformer_state_dict.pth"]


def _version(text):
    return tuple(int(p) for p in text.split(".")[:3])


@pytest.fixture(scope="module")
def empty_server(comfy_root, tmp_path_factory):
    """A ComfyUI with the pack and no model files at all."""
    from comfy_server import ComfyServer

    base = tmp_path_factory.mktemp("no_models")
    (base / "custom_nodes").mkdir()
    os.symlink(ROOT, base / "custom_nodes" / PACK_NAME, target_is_directory=True)
    (base / "user" / "default").mkdir(parents=True)
    (base / "user" / "default" / "comfy.settings.json").write_text('{"Comfy.TutorialCompleted": true}')
    front_end = os.environ.get("COMFYUI_FRONT_END_ROOT")
    server = ComfyServer(comfy_root, base, extra_args=["--front-end-root", str(Path(front_end).resolve())]
                         if front_end else [])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def opened(empty_server, tmp_path_factory):
    from test_ui import _browser_or_fail

    chromium = _browser_or_fail()
    work = tmp_path_factory.mktemp("models_ui")
    proc = subprocess.run(["node", str(UI / "models_suite.js"), empty_server.url, str(WORKFLOW), ",".join(FOLEY_FILES),
                           str(work / "results.json"), str(work / "missing_models.png")], cwd=UI, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, CHROMIUM_PATH=chromium))
    results_file = work / "results.json"
    assert results_file.is_file(), f"models_suite.js wrote no results (rc {proc.returncode}):\n{proc.stderr}"
    results = json.loads(results_file.read_text())
    assert not results.get("crash"), results["crash"]
    return results


def test_loaders_list_only_the_model_files_that_are_there(empty_server):
    info = empty_server.object_info()
    for node, name in [("FoleyModelLoader", "file"), ("FoleyVAELoader", "file"), ("FoleySynchformerLoader", "file"),
                       ("FoleyCLAPLoader", "folder"), ("FoleySigLIP2Loader", "folder")]:
        options = info[node]["input"]["required"][name][1].get("options", info[node]["input"]["required"][name][0])
        assert options == [], (node, options)


def test_workflow_with_the_foley_files_absent_lists_each_with_a_download(opened):
    version = opened["version"] or "0"
    print(f"front end {version}: {json.dumps(opened['rows'], indent=1)}")
    rows = opened["rows"]
    if _version(version) >= (1, 49):
        for name in FOLEY_FILES:
            assert rows[name] is not None, (name, rows)
            assert "foley" in rows[name]["text"] and rows[name]["download"], (name, rows[name])
    else:
        # 1.32.9: the dialog names each file with its folder; it offers no download for .pth
        # ("Only allowed suffixes are: '.safetensors', '.sft'")
        (warned,) = opened["warned"]
        assert sorted(m["name"] for m in warned) == sorted(FOLEY_FILES), warned
        assert all(m["directory"] == "foley" and m["url"].startswith("https://huggingface.co/") for m in warned)
        (dialog,) = opened["dialogs"]
        for name in FOLEY_FILES:
            assert f"foley / {name}" in dialog, dialog
            assert not rows[name]["download"], rows[name]
