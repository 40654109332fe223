"""The shared workflows (workflows/*.json) in ComfyUI's real web front end, driven headless.

Static checks of the files, then one browser session (tests/ui/ui_suite.js: Debian's chromium through
playwright-core) against the session's ComfyUI server with the tiny models: the template browser lists the
shared workflows with thumbnails; each opens from it with no missing nodes or models and no unexpected console
error; all run from the Run button (steps set to 2), the HunyuanVideo ones with their HunyuanVideo part replaced by
frames of the example clip (their full graphs are validated by ComfyUI with placeholder checkpoints), the long-video
workflow with windows short enough that the example clip takes several; the saved videos, and for inpainting and
extension the audio kept, are checked. Screenshots land in tests/ui/artifacts/. Needs chromium (apt-get install
chromium) and `npm ci` in tests/ui: .ci/run installs both; the tests fail without them.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from make_media import probe_media, read_audio
from workflow_files import HUNYUAN_FILES  # placeholder checkpoints: validation checks names only

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
UI = TESTS / "ui"
WORKFLOWS = ROOT / "workflows"
ARTIFACTS = UI / "artifacts"
EXAMPLE = ROOT / "example_media" / "foley_example.mp4"
EXAMPLE_6S = ROOT / "example_media" / "foley_example_6s.mp4"  # the same scene over 6 s, for the scores (>= 4.8 s)
NAMES = ["video_to_foley", "hunyuanvideo15_t2v_to_foley", "hunyuanvideo15_i2v_to_foley",
         "hunyuanvideo_t2v_to_foley", "text_to_audio", "stock_samplers", "text_steered_foley",
         "audio_to_audio_variation", "long_video_to_foley", "time_range_prompts", "audio_inpainting",
         "audio_extension", "candidates_to_best", "reference_sound_to_foley", "two_sources_stereo_mix"]
CANDIDATES = "candidates_to_best"
RUN = NAMES  # every workflow is queued from the UI (the HunyuanVideo ones without their HunyuanVideo part)
# ...when a selected test is marked `ui_runs` (what the runs make: the backend's work); otherwise only these run,
# for what depends on the front end (the Run button, the video preview, the candidates view). .ci/run's pass with
# the newest front end deselects the `ui_runs` tests: 0.33's own front end pass already ran them on the same ComfyUI.
FRONT_END_RUNS = ["video_to_foley", "candidates_to_best"]
# widgets set in the UI before Run: windows of 1.6 s with 0.4 s overlap, so that the 4 s example clip (one
# window at the saved 10 s) is sampled on several blended windows (the widgets round to 0.1 s: see below)
# candidates_to_best runs as shipped (seed control on randomize): a click in its candidates view must keep them
WIDGETS = {"long_video_to_foley": {"FoleyWindowing": {"window_seconds": 1.6, "overlap_seconds": 0.4}}}
# workflows that load the example clip and save it with new audio (SaveVideo), all 4.0 s long
VIDEO_RUNS = ["video_to_foley", "stock_samplers", "text_steered_foley", "audio_to_audio_variation",
              "long_video_to_foley", "time_range_prompts", "audio_inpainting", "audio_extension",
              "reference_sound_to_foley"]
# text/image to video with HunyuanVideo (1.5 and 1.0), then Foley on the frames
HUNYUAN = ["hunyuanvideo15_t2v_to_foley", "hunyuanvideo15_i2v_to_foley", "hunyuanvideo_t2v_to_foley"]
EXAMPLE_IMAGE = ROOT / "example_media" / "foley_example_start.jpg"  # the image-to-video workflow's start frame
REFERENCE_SOUND = ROOT / "example_media" / "foley_reference_metal.flac"  # reference_sound_to_foley's recording
TWO_SOURCES = ROOT / "example_media" / "foley_two_sources.mp4"  # two_sources_stereo_mix's red ball and blue block
PACK_NAME = "ComfyUI-HunyuanVideo-Foley"  # the checkout's folder name under custom_nodes (conftest.py)
STEPS = 2
# placeholder checkpoints for the HunyuanVideo workflows (validation checks names only)
# what each HunyuanVideo workflow makes its video with, beside the shared loaders and samplers
HUNYUAN_CORE = {"hunyuanvideo15_t2v_to_foley": ({"EmptyHunyuanVideo15Latent", "CFGGuider"}, "hunyuan_video_15"),
                "hunyuanvideo15_i2v_to_foley": ({"HunyuanVideo15ImageToVideo", "CLIPVisionEncode", "LoadImage",
                                                 "CFGGuider"}, "hunyuan_video_15"),
                "hunyuanvideo_t2v_to_foley": ({"EmptyHunyuanLatentVideo", "FluxGuidance"}, "hunyuan_video")}
# loaders of single files -> the folder their `models` metadata must name (the CLAP / SigLIP2 folders have none)
LOADERS = {"FoleyModelLoader": "foley", "FoleyVAELoader": "foley", "FoleySynchformerLoader": "foley",
           "UNETLoader": "diffusion_models", "DualCLIPLoader": "text_encoders", "VAELoader": "vae",
           "CLIPVisionLoader": "clip_vision"}
# shown by the missing-models dialog only: it asks huggingface.co for the file size, which the page's CSP blocks
DIALOG_NOISE = ("violates the following Content Security Policy directive", "Fetch API cannot load https://huggingface.co/",
                "Error fetching file size")


# one browser session opens, runs and checks every workflow (on a CPU: most of the time is the candidates' scoring)
SUITE_SECONDS = 1500
pytestmark = [pytest.mark.browser, pytest.mark.timeout(SUITE_SECONDS + 300)]


def load(name):
    return json.loads((WORKFLOWS / f"{name}.json").read_text())


# --- the files -----------------------------------------------------------------------------------------------

def test_workflows_folder_holds_the_ui_workflows_and_thumbnails():
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
    """example_media/foley_example.mp4 (made by make_example.py), which the workflows on a given video load."""
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


SMOOTH_SECONDS, SMOOTH_CANDIDATES = 60.0, 6


def _smooth_view_files(folder):
    """A foley_candidates payload of 6 candidates over a 60 s video, with its files in the input folder (served by
    /view as type "input"): the view is played with it to see whether long clips with many candidates stay smooth."""
    import wave

    import numpy as np
    from PIL import Image

    from make_media import make_video

    entry = lambda name: {"filename": name, "subfolder": "", "type": "input"}  # noqa: E731
    make_video(folder / "smooth_60s.mp4", n_frames=int(SMOOTH_SECONDS * 25), fps=25, width=320, height=240,
               with_audio=False)
    rng = np.random.default_rng(0)
    rate = 16000
    candidates = []
    for i in range(SMOOTH_CANDIDATES):
        level = rng.random((72, 1200)) ** (2 + i)
        Image.fromarray((np.stack([level ** 0.5, level, 0.35 + 0.5 * level], -1) * 255).astype(np.uint8)).save(
            folder / f"smooth_spec_{i}.png")
        samples = (0.1 * rng.standard_normal(int(SMOOTH_SECONDS * rate)) * 32767).astype(np.int16)
        with wave.open(str(folder / f"smooth_audio_{i}.wav"), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate), w.writeframes(samples.tobytes())
        candidates.append({"index": i, "desync": 0.1 * i, "offset": 0.0, "offsets": [0.0, 0.0], "clap": 0.5,
                           "audio": entry(f"smooth_audio_{i}.wav"), "spectrogram": entry(f"smooth_spec_{i}.png")})
    return {"start_time": 0.0, "seconds": SMOOTH_SECONDS, "best": 0, "selected": 0, "candidates": candidates,
            "video": entry("smooth_60s.mp4")}


def _runs_for(items):
    """The workflows to run in the UI for the selected tests `items`: all of them if a `ui_runs` test is selected."""
    return RUN if any(item.get_closest_marker("ui_runs") for item in items) else FRONT_END_RUNS


@pytest.fixture(scope="module")
def ui(request, models, comfy_server, comfy_input_dir, tmp_path_factory):
    """Runs tests/ui/ui_suite.js once -> its results (see the script)."""
    chromium = _browser_or_fail()
    shutil.copy(EXAMPLE, comfy_input_dir / EXAMPLE.name)
    shutil.copy(EXAMPLE_6S, comfy_input_dir / EXAMPLE_6S.name)
    shutil.copy(EXAMPLE_IMAGE, comfy_input_dir / EXAMPLE_IMAGE.name)
    shutil.copy(REFERENCE_SOUND, comfy_input_dir / REFERENCE_SOUND.name)
    shutil.copy(TWO_SOURCES, comfy_input_dir / TWO_SOURCES.name)
    models_dir = Path(comfy_server.base_dir) / "models"
    for folder, files in HUNYUAN_FILES.items():  # so that HunyuanVideo workflows open without a missing-models warning
        (models_dir / folder).mkdir(parents=True, exist_ok=True)
        for f in files:
            (models_dir / folder / f).write_bytes(b"placeholder")
    work = tmp_path_factory.mktemp("ui")
    config = {"module": PACK_NAME, "workflows": NAMES, "run": _runs_for(request.session.items), "steps": STEPS,
              "widgets": WIDGETS,
              "hunyuan": HUNYUAN,
              "example_video": EXAMPLE.name, "probe_workflow": str(WORKFLOWS / "video_to_foley.json"),
              "smooth_view": _smooth_view_files(comfy_input_dir)}
    (work / "config.json").write_text(json.dumps(config))
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    proc = subprocess.run(["node", str(UI / "ui_suite.js"), comfy_server.url, str(work / "config.json"),
                           str(work / "results.json"), str(ARTIFACTS)], cwd=UI, capture_output=True, text=True,
                          timeout=SUITE_SECONDS, env=dict(os.environ, CHROMIUM_PATH=chromium))
    results_file = work / "results.json"
    assert results_file.is_file(), f"ui_suite.js wrote no results (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    results = json.loads(results_file.read_text())
    shutil.copy(results_file, ARTIFACTS / "results.json")
    assert not results.get("crash"), f"ui_suite.js stopped: {results['crash']}\n{proc.stderr}\n--- server log ---\n" \
                                     f"{comfy_server.log()[-4000:]}"
    return results


def test_front_end_starts_without_errors(ui):
    assert ui["startup_errors"] == []
    # where the suite's time goes (depends on the machine: reported, not asserted)
    print(f"UI suite ({len(ui['runs'])} workflows run): " + ", ".join(f"{k} {v:.0f} s" for k, v in ui["timing"].items()))


def test_template_browser_lists_the_shared_workflows(ui):
    assert sorted(ui["templates_api"].get(PACK_NAME, [])) == sorted(NAMES)
    browser = ui["template_browser"]
    for name in NAMES:
        assert name in browser["text"]
    cards = browser["cards"]  # scrolled into view one by one: a card shows its image only while in view
    assert [c["name"] for c in cards] == NAMES and all(c["loaded"] for c in cards), cards
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
    assert opened["missingModels"] == [] and opened["missingMedia"] == []
    assert opened["notices"] == []  # no warning dialog (1.32) or error overlay (1.49 on)
    assert opened["layoutProblems"] == []
    assert opened["errors"] == []
    assert sorted(opened["nodeTypes"]) == sorted(n["type"] for n in load(name)["nodes"])
    assert Path(opened["screenshot"]).is_file()


# laid out so that the front end draws them with their text at the zoom it opens a template with (it fits all nodes
# into 75 % of the window; below about 57 % zoom it draws nodes without text at its default settings)
LEGIBLE = ["video_to_foley", "text_to_audio"]


def test_workflows_opened_with_default_settings_are_screenshot_and_measured(ui):
    for name in NAMES:
        opened = ui["open"][name]["legibility"]  # measured on the opening from the template browser
        print(f"{name}: opened at zoom {opened['scale']:.2f} in a {opened['canvas'][0]}x{opened['canvas'][1]} canvas, "
              f"{'text not drawn' if opened['low_quality'] else 'text drawn'}")
        assert opened["min_font_size_for_lod"] > 0  # the front end's default, not the tests' 0
        assert Path(opened["screenshot"]).is_file()


@pytest.mark.parametrize("name", LEGIBLE)
def test_workflow_opens_legible_with_default_settings(ui, name):
    opened = ui["open"][name]["legibility"]
    assert not opened["low_quality"], opened


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


@pytest.mark.ui_runs
@pytest.mark.parametrize("name", [n for n in RUN if n != "video_to_foley" and n not in HUNYUAN])
def test_workflow_runs_from_the_ui(ui, comfy_server, name):
    run = _run(ui, name)
    files = comfy_server.output_files({"outputs": run["outputs"]})
    assert files and all(Path(f).is_file() for f in files), run["outputs"]
    for f in files:
        assert probe_media(f)["audio"]["samples"] > 0


@pytest.mark.ui_runs
@pytest.mark.parametrize("name", VIDEO_RUNS)
def test_video_workflow_saves_the_whole_clip_with_new_audio(ui, comfy_server, name):
    """All of the example clip (100 frames, 4.0 s) with its new audio, also where a part of the audio is re-made
    (inpainting), given audio is continued (extension) or the model runs on windows."""
    run = _run(ui, name)
    (saved,) = comfy_server.output_files({"outputs": run["outputs"]}, kind="images")
    info, example = probe_media(saved), probe_media(EXAMPLE)
    assert info["video"]["frames"] == example["video"]["frames"]
    assert info["audio"]["duration_s"] == pytest.approx(example["video"]["duration_s"], abs=0.05), info
    assert run["preview"]["duration"] == pytest.approx(example["video"]["duration_s"], abs=0.1), run["preview"]


def _by_type(prompt, class_type):
    return {i: n for i, n in prompt.items() if n["class_type"] == class_type}


@pytest.mark.ui_runs
def test_long_video_workflow_samples_through_windows(ui):
    """Saved with 10 s windows (the example clip is one); run from the UI with 1.6 s windows, i.e. several."""
    from foley_models import media, windows

    (saved,) = [n for n in load("long_video_to_foley")["nodes"] if n["type"] == "FoleyWindowing"]
    assert saved["widgets_values"][:2] == [10.0, 2.0]
    run = _run(ui, "long_video_to_foley")
    prompt = run["api_prompt"]
    ((window_id, window),) = _by_type(prompt, "FoleyWindowing").items()
    seconds = (window["inputs"]["window_seconds"], window["inputs"]["overlap_seconds"])
    assert seconds == (1.6, 0.4)  # as set (the front end rounds these widgets to 0.1 s: 1.28 would become 1.3)
    length = media.latent_length(probe_media(EXAMPLE)["video"]["frames"])
    assert len(windows.window_spans(length, *(round(s * media.LATENT_RATE) for s in seconds))) > 1
    assert len(windows.window_spans(length, *(round(s * media.LATENT_RATE) for s in (10.0, 2.0)))) == 1
    assert prompt[window["inputs"]["model"][0]]["class_type"] == "FoleyModelLoader"
    ((_, sampler),) = _by_type(prompt, "FoleySampler").items()
    assert sampler["inputs"]["model"] == [window_id, 0]


@pytest.mark.ui_runs
def test_reference_workflow_puts_the_encoded_recording_on_both_sides(ui):
    """Both conditionings of the sampler carry the VAE latent of the shipped recording (core ReferenceLatent); what
    the model then sees at each step is tests/test_reference.py's."""
    prompt = _run(ui, "reference_sound_to_foley")["api_prompt"]
    ((cond_id, _),) = _by_type(prompt, "FoleyConditioning").items()
    ((_, sampler),) = _by_type(prompt, "FoleySampler").items()
    for side, slot in (("positive", 0), ("negative", 1)):
        reference = prompt[sampler["inputs"][side][0]]
        assert reference["class_type"] == "ReferenceLatent"
        assert reference["inputs"]["conditioning"] == [cond_id, slot]
        encode = prompt[reference["inputs"]["latent"][0]]
        assert encode["class_type"] == "FoleyVAEEncode"
        assert prompt[encode["inputs"]["audio"][0]]["inputs"]["audio"] == REFERENCE_SOUND.name


@pytest.mark.ui_runs
def test_two_sources_workflow_saves_the_clip_with_a_stereo_mix_of_both_passes(ui, comfy_server):
    run = _run(ui, "two_sources_stereo_mix")
    (saved,) = comfy_server.output_files({"outputs": run["outputs"]}, kind="images")
    info, clip = probe_media(saved), probe_media(TWO_SOURCES)
    assert info["video"]["frames"] == clip["video"]["frames"]
    assert info["audio"]["channels"] == 2
    assert info["audio"]["duration_s"] == pytest.approx(clip["video"]["duration_s"], abs=0.05), info
    (left, right), _ = read_audio(saved)
    assert abs(left).max() > 0 and abs(left - right).max() > 0.01 * abs(left).max()  # panned, not mono twice
    prompt = run["api_prompt"]
    # each colour's mask reaches both encoders of its pass and its position track, and nothing else
    masks = _by_type(prompt, "ThresholdMask")
    assert sorted(prompt[m["inputs"]["mask"][0]]["inputs"]["channel"] for m in masks.values()) == ["blue", "red"]
    for mask_id in masks:
        users = sorted(n["class_type"] for n in prompt.values() if n["inputs"].get("mask") == [mask_id, 0])
        assert users == ["FoleyPositionFromMask", "FoleySyncEncode", "FoleyVisualEncode"]
    ((_, mix),) = _by_type(prompt, "FoleyMixLayers").items()
    layers = prompt[mix["inputs"]["layers"][0]]
    assert prompt[layers["inputs"]["layers"][0]]["class_type"] == "FoleyAddLayer"  # two layers in the mix


@pytest.mark.ui_runs
def test_time_range_prompts_cover_the_clip(ui):
    prompt = _run(ui, "time_range_prompts")["api_prompt"]
    ranges = sorted((n["inputs"]["start"], n["inputs"]["end"], n["inputs"]["conditioning"][0])
                    for n in _by_type(prompt, "FoleyConditioningTimeRange").values())
    assert [r[:2] for r in ranges] == [(0.0, 2.0), (2.0, 4.0)]  # no gap, to the clip's end
    texts = {prompt[prompt[c]["inputs"]["text"][0]]["inputs"]["prompt"] for _, _, c in ranges}
    assert len(texts) == 2  # two different prompts
    ((combine_id, combine),) = _by_type(prompt, "ConditioningCombine").items()
    assert {combine["inputs"]["conditioning_1"][0], combine["inputs"]["conditioning_2"][0]} == \
        set(_by_type(prompt, "FoleyConditioningTimeRange"))
    ((_, sampler),) = _by_type(prompt, "FoleySampler").items()
    assert sampler["inputs"]["positive"] == [combine_id, 0]


def _preview_audio(comfy_server, run):
    from make_media import read_audio

    (path,) = comfy_server.output_files({"outputs": run["outputs"]}, kind="audio")
    audio, rate = read_audio(path)
    assert rate == 48000 and audio.shape[0] == 1
    return audio[0]


def _vae_round_trip(comfy_inproc, seconds=None):
    """The example clip's sound track (as GetVideoComponents gives it; the first `seconds` as TrimAudioDuration
    does) through the test VAE: encoded, decoded -> 48 kHz mono samples."""
    import numpy as np
    from comfy_api.latest import InputImpl

    from graph import node

    audio = InputImpl.VideoFromFile(str(EXAMPLE)).get_components().audio
    if seconds is not None:
        audio = dict(audio, waveform=audio["waveform"][..., :round(seconds * audio["sample_rate"])])
    (vae,) = node(comfy_inproc, "FoleyVAELoader", file="vae_128d_48k.pth")
    (latent,) = node(comfy_inproc, "FoleyVAEEncode", vae=vae, audio=audio)
    (decoded,) = node(comfy_inproc, "FoleyVAEDecode", vae=vae, latent=latent)
    return np.asarray(decoded["waveform"][0, 0])


MARGIN = 16 * 960  # the VAE decoder's receptive field: 16 latent frames (foley_models.dac_vae.CHUNK_CONTEXT)


@pytest.mark.ui_runs
def test_inpainting_workflow_keeps_the_sound_outside_the_range(ui, comfy_server, comfy_inproc):
    """Outside 1.2-2.4 s and the decoder's margin the result is the original track as the VAE reproduces it;
    inside, new sound."""
    import numpy as np

    out = _preview_audio(comfy_server, _run(ui, "audio_inpainting"))
    kept = _vae_round_trip(comfy_inproc)
    assert out.shape == kept.shape
    start, end = 60 * 960, 120 * 960  # 1.2 s and 2.4 s in samples at 48 kHz
    tol = 2e-4 * max(1.0, np.abs(kept).max())  # the preview's FLAC is 16-bit
    np.testing.assert_allclose(out[:start - MARGIN], kept[:start - MARGIN], atol=tol, rtol=0)
    np.testing.assert_allclose(out[end + MARGIN:], kept[end + MARGIN:], atol=tol, rtol=0)
    assert np.abs(out[start + MARGIN:end - MARGIN] - kept[start + MARGIN:end - MARGIN]).mean() > 10 * tol


@pytest.mark.ui_runs
def test_extension_workflow_keeps_the_given_start(ui, comfy_server, comfy_inproc):
    """The first 1.5 s (the given audio) come out as the VAE reproduces them, up to the decoder's margin before
    the seam; the rest of the 4 s is generated."""
    import numpy as np

    out = _preview_audio(comfy_server, _run(ui, "audio_extension"))
    given = _vae_round_trip(comfy_inproc, seconds=1.5)
    assert len(given) == 75 * 960 and out.shape[-1] > 3.9 * 48000
    tol = 2e-4 * max(1.0, np.abs(given).max())
    np.testing.assert_allclose(out[:len(given) - MARGIN], given[:len(given) - MARGIN], atol=tol, rtol=0)
    assert np.abs(out[len(given) + MARGIN:]).mean() > 10 * tol


@pytest.mark.ui_runs
@pytest.mark.parametrize("name", HUNYUAN)
def test_hunyuanvideo_workflow_validates_with_its_checkpoints(ui, comfy_inproc, name):
    prompt = ui["runs"][name]["api_prompt"]  # what Run sends for the full graph (front end's graphToPrompt)
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
    core, clip_type = HUNYUAN_CORE[name]
    assert {n["class_type"] for n in prompt.values()} >= {"UNETLoader", "DualCLIPLoader", "SamplerCustomAdvanced",
                                                          "CreateVideo", "FoleySampler", "FoleyMuxVideo"} | core
    ((_, clip),) = _by_type(prompt, "DualCLIPLoader").items()
    assert clip["inputs"]["type"] == clip_type
    # the Foley encoders watch the frames HunyuanVideo made
    ((create_id, _),) = _by_type(prompt, "CreateVideo").items()
    for encoder in ("FoleyVisualEncode", "FoleySyncEncode"):
        ((_, node),) = _by_type(prompt, encoder).items()
        assert node["inputs"]["video"] == [create_id, 0], encoder


@pytest.mark.ui_runs
@pytest.mark.parametrize("name", HUNYUAN)
def test_hunyuanvideo_workflow_foley_part_runs_on_generated_frames(ui, comfy_server, name):
    run = _run(ui, name)
    assert "UNETLoader" not in run["nodes_after_swap"] and "CreateVideo" in run["nodes_after_swap"]
    (saved,) = comfy_server.output_files({"outputs": run["outputs"]}, kind="images")
    info = probe_media(saved)
    assert info["video"]["fps"] == 24 and info["audio"] is not None
    assert run["preview"]["duration"] == pytest.approx(info["video"]["duration_s"], abs=0.1)


def test_missing_foley_checkpoint_is_reported_by_the_front_end(ui):
    """A loader naming an absent file: the front end reports it with its folder (models/foley) and download address
    and tells the user: 1.32 in its missing-models dialog (no download for .pth files: only .safetensors / .sft),
    1.49 and later in an error overlay."""
    missing = "hunyuanvideo_foley_not_there.pth"
    probe = ui["missing_model_probe"]
    assert probe["warned"] == [{"name": missing, "directory": "foley",
                                "url": "https://huggingface.co/tencent/HunyuanVideo-Foley/resolve/main/hunyuanvideo_foley.pth"}]
    (notice,) = probe["notices"]  # shown by this load (not one left from before)
    assert missing in notice and "Invalid directory" not in notice, notice
    assert [e for e in probe["errors"] if not any(s in e for s in DIALOG_NOISE)] == []


def test_missing_node_is_reported_by_the_front_end(ui):
    """A node type that nothing registers: the front end reports it missing and tells the user (1.32: a dialog;
    1.49 and later: an error overlay): what the openings' `missingNodes == []` relies on."""
    probe = ui["missing_node_probe"]
    assert probe["warned"] == ["FoleyNodeThatIsNotThere"]
    (notice,) = probe["notices"]
    assert "FoleyNodeThatIsNotThere" in notice, notice
    assert probe["errors"] == []


# --- several candidates, scored, the best kept (candidates_to_best) --------------------------------------------

def test_six_second_example_clip_is_the_four_second_scene_made_longer():
    info = probe_media(EXAMPLE_6S)
    assert (info["video"]["codec"], info["video"]["width"], info["video"]["height"]) == ("h264", 320, 240)
    assert info["video"]["fps"] == 25 and info["video"]["frames"] == 150  # 6 s: DeSync needs at least 4.8 s
    assert EXAMPLE_6S.stat().st_size < 300_000


def test_candidates_workflow_scores_four_candidates_and_saves_the_best(ui, comfy_server):
    wf = load(CANDIDATES)
    (cond,) = [n for n in wf["nodes"] if n["type"] == "FoleyConditioning"]
    assert 4 in cond["widgets_values"]  # batch_size
    run = _run(ui, CANDIDATES)
    prompt = run["api_prompt"]
    ((_, cond),) = _by_type(prompt, "FoleyConditioning").items()
    assert cond["inputs"]["batch_size"] == 4
    ((_, load_video),) = _by_type(prompt, "LoadVideo").items()
    assert load_video["inputs"]["file"] == EXAMPLE_6S.name
    ((select_id, select),) = _by_type(prompt, "FoleySelectBest").items()
    assert "video" in select["inputs"]
    ((_, mux),) = _by_type(prompt, "FoleyMuxVideo").items()
    assert mux["inputs"]["audio"] == [select_id, 0]
    (saved,) = comfy_server.output_files({"outputs": run["outputs"]}, kind="images")
    info = probe_media(saved)
    assert info["video"]["frames"] == 150 and info["audio"]["duration_s"] == pytest.approx(6.0, abs=0.05)
    (view,) = run["outputs"][select_id]["foley_candidates"]
    assert len(view["candidates"]) == 4 and view["selected"] == view["best"]


def _best(rows):  # the ranking of foley_models/ranking.py: lowest DeSync, then highest CLAP
    return min(rows, key=lambda r: (round(r["desync"], 6), -(r["clap"] if r["clap"] is not None else -2)))["index"]


def test_candidates_view_shows_every_candidate_with_its_spectrogram_and_scores(ui):
    view = ui["candidates"]["after_run"]
    assert [r["index"] for r in view["rows"]] == [0, 1, 2, 3]
    for r in view["rows"]:
        assert r["image"]["loaded"] and r["image"]["shown"] > 100, r
        assert "DeSync" in r["text"] and "CLAP" in r["text"], r
    assert view["video"]["muted"] and view["video"]["duration"] == pytest.approx(6.0, abs=0.1)
    (selected,) = [r["index"] for r in view["rows"] if r["selected"]]
    assert selected == view["best"] == _best(view["rows"])
    assert view["audio_src"].find(view["candidate_audio"][selected]) >= 0
    assert Path(ui["candidates"]["screenshot"]).is_file()
    assert ui["candidates"]["errors"] == []


def test_a_click_on_a_candidate_selects_it(ui):
    c = ui["candidates"]
    view = c["after_click"]
    assert c["clicked"] != c["after_run"]["selected"]
    assert view["choice"] == c["clicked"]
    assert [r["index"] for r in view["rows"] if r["selected"]] == [c["clicked"]]
    assert view["audio_src"].find(view["candidate_audio"][c["clicked"]]) >= 0
    assert c["click_how"] == "mouse"  # a real click reaches the strip (not hidden under the canvas)


def test_playing_the_video_moves_the_playhead(ui):
    play = ui["candidates"]["play"]
    assert play["play_error"] is None
    assert play["end"]["time"] - play["start"]["time"] > 0.5
    assert play["end"]["head"] > play["start"]["head"] + 5, play
    assert not play["end"]["audio_paused"]  # the selected candidate plays along


def test_without_a_video_the_view_plays_audio_only(ui):
    view = ui["candidates"]["audio_only"]
    assert view["video"] is None and "audio only" in view["text"]
    assert len(view["rows"]) == 4 and all(r["image"]["loaded"] for r in view["rows"])
    play = ui["candidates"]["audio_only_play"]
    assert play["play_error"] is None and play["end"]["head"] > play["start"]["head"], play


def test_a_sixty_second_view_with_six_candidates_plays_smoothly(ui):
    c = ui["candidates"]
    assert len(c["smooth_view"]["rows"]) == SMOOTH_CANDIDATES
    assert c["smooth_view"]["video"]["duration"] == pytest.approx(SMOOTH_SECONDS, abs=0.1)
    smooth = c["smooth"]
    assert smooth["play_error"] is None and smooth["end"]["time"] - smooth["start"]["time"] > 1.5
    assert smooth["end"]["head"] > smooth["start"]["head"]
    assert smooth["observer"], "no long-task observer in this chromium"
    assert smooth["frames"] > 0
    # frame times depend on the machine: reported, not asserted
    print(f"60 s view, {SMOOTH_CANDIDATES} candidates: {smooth['frames']} frames in 2.5 s, p95 frame "
          f"{smooth['p95_frame_ms']:.1f} ms, longest {smooth['max_frame_ms']:.1f} ms, long tasks (ms) "
          f"{[round(t) for t in smooth['long_tasks']]}")


def test_a_rerun_passes_the_clicked_candidate_downstream(ui, comfy_server):
    """The workflow as shipped has the sampler's seed on randomize: the click sets that seed back to the value the
    candidates came from, on fixed, and says so; the re-run finds the sampling in the cache and saves the clicked
    candidate."""
    (shipped,) = [n for n in load(CANDIDATES)["nodes"] if n["type"] == "FoleySampler"]
    assert "randomize" in shipped["widgets_values"]
    c = ui["candidates"]
    rerun = c["rerun"]
    assert rerun["status"] == "success", rerun.get("error")
    first = ui["runs"][CANDIDATES]["api_prompt"]
    ((sampler_id, sampler),) = _by_type(first, "FoleySampler").items()
    assert "fixed" in c["after_click"]["text"] and "randomize" in c["after_click"]["text"], c["after_click"]["text"]
    entry = comfy_server.get(f"/history/{rerun['prompt_id']}")[rerun["prompt_id"]]
    rerun_prompt = entry["prompt"][2]
    assert rerun_prompt[sampler_id]["inputs"]["seed"] == sampler["inputs"]["seed"]  # set back, not randomized
    (cached,) = [m[1]["nodes"] for m in entry["status"]["messages"] if m[0] == "execution_cached"]
    assert sampler_id in cached and set(_by_type(first, "FoleyScore")) <= set(cached)  # not sampled nor scored again
    node_id = str(c["after_run"]["node_id"])
    (view,) = rerun["outputs"][node_id]["foley_candidates"]
    assert view["selected"] == c["clicked"]
    # the saved video's sound is the clicked candidate (AAC: closest, not equal)
    import numpy as np

    from make_media import read_audio

    (saved,) = comfy_server.output_files({"outputs": rerun["outputs"]}, kind="images")
    sound = read_audio(saved)[0][0]
    temp = Path(comfy_server.base_dir) / "temp"
    errors = []
    for candidate in view["candidates"]:
        audio = read_audio(temp / candidate["audio"]["filename"])[0].mean(axis=0)
        n = min(len(audio), len(sound))
        errors.append(float(np.abs(audio[:n] - sound[:n]).mean()))
    assert int(np.argmin(errors)) == c["clicked"], errors