"""The shared workflows (workflows/*.json) in ComfyUI's real web front end, driven headless.

Static checks of the files, then one browser session (tests/ui/ui_suite.js: Debian's chromium through
playwright-core) against the session's ComfyUI server with the tiny models: the template browser lists the
six workflows with thumbnails; each opens from it with no missing nodes or models and no unexpected console
error; five run from the Run button (steps set to 2), workflow 2 with its HunyuanVideo part replaced by
frames of the example clip (its full graph is validated by ComfyUI with placeholder checkpoints). Screenshots
land in tests/ui/artifacts/. Needs chromium (apt-get install chromium) and `npm ci` in tests/ui: .ci/run
installs both; the tests fail without them.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from make_media import probe_media

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
UI = TESTS / "ui"
WORKFLOWS = ROOT / "workflows"
ARTIFACTS = UI / "artifacts"
EXAMPLE = ROOT / "example_media" / "foley_example.mp4"
NAMES = ["video_to_foley", "hunyuanvideo_t2v_to_foley", "text_to_audio", "stock_samplers", "text_steered_foley",
         "audio_to_audio_variation"]
RUN = NAMES  # every workflow is queued from the UI (workflow 2 without its HunyuanVideo part)
HUNYUAN = "hunyuanvideo_t2v_to_foley"
PACK_NAME = "ComfyUI-HunyuanVideo-Foley"  # the checkout's folder name under custom_nodes (conftest.py)
STEPS = 2
# placeholder checkpoints for workflow 2 (validation checks names only)
HUNYUAN_FILES = {"diffusion_models": ["hunyuan_video_t2v_720p_bf16.safetensors"],
                 "text_encoders": ["clip_l.safetensors", "llava_llama3_fp8_scaled.safetensors"],
                 "vae": ["hunyuan_video_vae_bf16.safetensors"]}
# loaders of single files -> the folder their `models` metadata must name (the CLAP / SigLIP2 folders have none)
LOADERS = {"FoleyModelLoader": "foley", "FoleyVAELoader": "foley", "FoleySynchformerLoader": "foley",
           "UNETLoader": "diffusion_models", "DualCLIPLoader": "text_encoders", "VAELoader": "vae"}
# shown by the missing-models dialog only: it asks huggingface.co for the file size, which the page's CSP blocks
DIALOG_NOISE = ("violates the following Content Security Policy directive", "Fetch API cannot load https://huggingface.co/",
                "Error fetching file size")


def load(name):
    return json.loads((WORKFLOWS / f"{name}.json").read_text())


# --- the files -----------------------------------------------------------------------------------------------

def test_workflows_folder_holds_the_six_ui_workflows_and_thumbnails():
    # every *.json in workflows/ is a template in the browser: no API-format copies there
    assert sorted(p.stem for p in WORKFLOWS.glob("*.json")) == sorted(NAMES)
    for name in NAMES:
        wf = load(name)
        assert {"nodes", "links", "groups", "version", "extra"} <= wf.keys() and wf["version"] >= 0.4, name
        assert "class_type" not in json.dumps(wf), f"{name} looks like an API-format graph"
        thumb = WORKFLOWS / f"{name}.jpg"  # what the template browser requests for a custom node's template
        data = thumb.read_bytes()
        assert data[:3] == b"\xff\xd8\xff" and len(data) < 100_000, (name, len(data))


@pytest.mark.parametrize("name", NAMES)
def test_workflow_documents_its_models(name):
    wf = load(name)
    notes = [n for n in wf["nodes"] if n["type"] in ("MarkdownNote", "Note")]
    assert notes, f"{name} has no note"
    text = " ".join(v for n in notes for v in n["widgets_values"] if isinstance(v, str))
    assert "models/foley" in text
    types = {n["type"] for n in wf["nodes"]}
    needed = {"FoleyModelLoader": "hunyuanvideo_foley.pth", "FoleyVAELoader": "vae_128d_48k.pth",
              "FoleySynchformerLoader": "synchformer_state_dict.pth", "FoleyCLAPLoader": "larger_clap_general",
              "FoleySigLIP2Loader": "siglip2-base-patch16-512"}
    for node_type, file in needed.items():
        if node_type in types:
            assert file in text, (name, file)
    for n in wf["nodes"]:
        if n["type"] not in LOADERS:
            continue
        models = n.get("properties", {}).get("models")
        assert models, f"{name}: {n['type']} has no models metadata"
        files = [v for v in n["widgets_values"] if isinstance(v, str)]
        for m in models:
            # the front end only reports entries whose name is a widget value, and only offers downloads from
            # huggingface.co / civitai.com for .safetensors / .sft names (the .pth files are listed, not fetched)
            assert m["name"] in files, (name, m)
            assert urlparse(m["url"]).netloc == "huggingface.co" and m["url"].endswith("/" + m["name"]), m
            assert m["directory"] == LOADERS[n["type"]], (name, m)


def test_example_clip_has_knocks_at_the_bounces():
    """example_media/foley_example.mp4 (made by make_example.py), which workflows 1, 4, 5 and 6 load."""
    import numpy as np

    from make_media import read_audio

    assert EXAMPLE.stat().st_size < 300_000
    info = probe_media(EXAMPLE)
    assert (info["video"]["codec"], info["video"]["width"], info["video"]["height"]) == ("h264", 320, 240)
    assert info["video"]["fps"] == 25 and info["video"]["frames"] == 100
    assert (info["audio"]["codec"], info["audio"]["channels"]) == ("aac", 1)
    audio, rate = read_audio(EXAMPLE)
    loud = np.flatnonzero(np.abs(audio[0]) > 0.05) / rate
    onsets = [t for i, t in enumerate(loud) if i == 0 or t - loud[i - 1] > 0.15]
    assert onsets == pytest.approx([0.48, 1.40, 2.20, 2.88, 3.44, 3.88], abs=0.01)


# --- the browser session ---------------------------------------------------------------------------------------

def _browser_or_fail():
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    problems = []
    if shutil.which("node") is None:
        problems.append("node is not installed")
    if not chromium:
        problems.append("chromium is not installed (apt-get install chromium)")
    if not (UI / "node_modules" / "playwright-core" / "package.json").is_file():
        problems.append("tests/ui/node_modules is missing (cd tests/ui && npm ci)")
    if problems:
        pytest.fail("browser tests cannot run: " + "; ".join(problems) + ". .ci/run installs all of it.", pytrace=False)
    return chromium


@pytest.fixture(scope="module")
def ui(models, comfy_server, comfy_input_dir, tmp_path_factory):
    """Runs tests/ui/ui_suite.js once -> its results (see the script)."""
    chromium = _browser_or_fail()
    shutil.copy(EXAMPLE, comfy_input_dir / EXAMPLE.name)
    models_dir = Path(comfy_server.base_dir) / "models"
    for folder, files in HUNYUAN_FILES.items():  # so that workflow 2 opens without a missing-models warning
        (models_dir / folder).mkdir(parents=True, exist_ok=True)
        for f in files:
            (models_dir / folder / f).write_bytes(b"placeholder")
    work = tmp_path_factory.mktemp("ui")
    config = {"module": PACK_NAME, "workflows": NAMES, "run": RUN, "steps": STEPS, "example_video": EXAMPLE.name,
              "probe_workflow": str(WORKFLOWS / "video_to_foley.json")}
    (work / "config.json").write_text(json.dumps(config))
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    proc = subprocess.run(["node", str(UI / "ui_suite.js"), comfy_server.url, str(work / "config.json"),
                           str(work / "results.json"), str(ARTIFACTS)], cwd=UI, capture_output=True, text=True,
                          timeout=540, env=dict(os.environ, CHROMIUM_PATH=chromium))
    results_file = work / "results.json"
    assert results_file.is_file(), f"ui_suite.js wrote no results (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    results = json.loads(results_file.read_text())
    shutil.copy(results_file, ARTIFACTS / "results.json")
    assert not results.get("crash"), f"ui_suite.js stopped: {results['crash']}\n{proc.stderr}\n--- server log ---\n" \
                                     f"{comfy_server.log()[-4000:]}"
    return results


def test_front_end_starts_without_errors(ui):
    assert ui["startup_errors"] == []


def test_template_browser_lists_the_six_workflows(ui):
    assert sorted(ui["templates_api"].get(PACK_NAME, [])) == sorted(NAMES)
    browser = ui["template_browser"]
    for name in NAMES:
        assert name in browser["text"]
    assert len(browser["cards"]) == len(NAMES) and all(c["loaded"] for c in browser["cards"]), browser["cards"]
    thumbs = {urlparse(r["url"]).path: r for r in ui["template_responses"] if r["url"].endswith(".jpg")}
    for name in NAMES:
        r = thumbs[f"/api/workflow_templates/{PACK_NAME}/{name}.jpg"]
        assert r["status"] == 200 and r["type"].startswith("image/jpeg"), r
    assert browser["errors"] == []


@pytest.mark.parametrize("name", NAMES)
def test_workflow_opens_from_the_template_browser(ui, name):
    opened = ui["open"][name]
    assert opened["activeWorkflow"].startswith(name)
    assert opened["unregistered"] == [] and opened["missingNodes"] == []
    assert opened["missingModels"] == [] and opened["dialogs"] == []
    assert opened["layoutProblems"] == []
    assert opened["errors"] == []
    assert sorted(opened["nodeTypes"]) == sorted(n["type"] for n in load(name)["nodes"])
    assert Path(opened["screenshot"]).is_file()


def _run(ui, name):
    run = ui["runs"][name]
    assert run["status"] == "success", run.get("error") or run.get("queue_errors")
    assert run["node_errors"] == {} and run["errors"] == []
    assert run["steps_set_on"], "no steps widget was lowered"
    return run


def test_video_to_foley_runs_from_the_ui_and_previews_the_video(ui, comfy_server):
    run = _run(ui, "video_to_foley")
    (saved,) = comfy_server.output_files({"outputs": run["outputs"]}, kind="images")
    info = probe_media(saved)
    example = probe_media(EXAMPLE)
    assert info["audio"] is not None and info["video"]["frames"] == example["video"]["frames"]
    # the <video> the front end shows on Save Video plays the whole clip
    assert run["preview"]["duration"] == pytest.approx(example["video"]["duration_s"], abs=0.1), run["preview"]


@pytest.mark.parametrize("name", ["text_to_audio", "stock_samplers", "text_steered_foley", "audio_to_audio_variation"])
def test_workflow_runs_from_the_ui(ui, comfy_server, name):
    run = _run(ui, name)
    files = comfy_server.output_files({"outputs": run["outputs"]})
    assert files and all(Path(f).is_file() for f in files), run["outputs"]
    for f in files:
        assert probe_media(f)["audio"]["samples"] > 0


def test_hunyuanvideo_workflow_validates_with_its_checkpoints(ui, comfy_inproc):
    prompt = ui["runs"][HUNYUAN]["api_prompt"]  # what Run sends for the full graph (front end's graphToPrompt)
    for folder, files in HUNYUAN_FILES.items():
        target = Path(comfy_inproc.folder_paths.get_folder_paths(folder)[0])
        target.mkdir(parents=True, exist_ok=True)
        for f in files:
            (target / f).write_bytes(b"placeholder")
    ok, error, outputs, node_errors = comfy_inproc.validate(prompt)
    assert ok, (error, node_errors)
    assert node_errors == {}
    kinds = {prompt[i]["class_type"] for i in outputs}
    assert kinds == {"SaveVideo", "PreviewAudio"}
    assert {n["class_type"] for n in prompt.values()} >= {"UNETLoader", "DualCLIPLoader", "SamplerCustomAdvanced",
                                                          "CreateVideo", "FoleySampler", "FoleyMuxVideo"}


def test_hunyuanvideo_workflow_foley_part_runs_on_generated_frames(ui, comfy_server):
    run = _run(ui, HUNYUAN)
    assert "UNETLoader" not in run["nodes_after_swap"] and "CreateVideo" in run["nodes_after_swap"]
    (saved,) = comfy_server.output_files({"outputs": run["outputs"]}, kind="images")
    info = probe_media(saved)
    assert info["video"]["fps"] == 24 and info["audio"] is not None
    assert run["preview"]["duration"] == pytest.approx(info["video"]["duration_s"], abs=0.1)


def test_missing_foley_checkpoint_is_reported_by_the_front_end(ui):
    """A loader naming an absent file: the front end's missing-models dialog lists it under models/foley (it
    offers no download for .pth files: only .safetensors / .sft)."""
    probe = ui["missing_model_probe"]
    assert probe["warned"] == [[{"name": "hunyuanvideo_foley_not_there.pth", "directory": "foley",
                                 "url": "https://huggingface.co/tencent/HunyuanVideo-Foley/resolve/main/hunyuanvideo_foley.pth"}]]
    (dialog,) = probe["dialogs"]
    assert "foley / hunyuanvideo_foley_not_there.pth" in dialog and "Invalid directory" not in dialog
    assert [e for e in probe["errors"] if not any(s in e for s in DIALOG_NOISE)] == []
