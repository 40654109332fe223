"""tools/foley_batch.py: workflow files run through real ComfyUI servers over their HTTP API, once or per CSV row.

Two ComfyUI 0.3.75 servers (main.py on 127.0.0.1, --cpu) with the tiny models in a private models folder and
their own input folders (so the videos really are uploaded to each). The UI -> API converter
(tools/batch/workflow_api.py) is checked on every file in workflows/ against the servers' /object_info, and each
converted prompt is queued to a server, which must answer without node_errors (the run is then cancelled).
Batch runs use `--steps 2` (the command's own override) so that the tiny models finish in seconds.
"""
import copy
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from comfy_server import ComfyServer
from make_media import make_video, probe_media
from workflow_files import write_placeholders

# the checkout's root is on pytest's path
from tools.batch.comfy_client import format_prompt_error
from tools.batch.overrides import apply_overrides
from tools.batch.report import scores
from tools.batch.scheduler import destinations
from tools.batch.workflow_api import (
    ConversionError,
    input_specs,
    is_api_format,
    to_api,
    ui_to_api,
    widget_values,
)

ROOT = Path(__file__).resolve().parent.parent

BATCH = ROOT / "tools" / "foley_batch.py"
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
EXAMPLE_VIDEOS = sorted(p.name for p in (ROOT / "example_media").glob("*.mp4"))  # what the workflows may load
PACK_NAME = "ComfyUI-HunyuanVideo-Foley"
STEPS = "2"
FRONT_END_ONLY = ("Note", "MarkdownNote", "Reroute", "PrimitiveNode")


# --- servers --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def batch_models(models, tmp_path_factory):
    """A private copy of the tiny models (the missing-model test takes one away for a moment)."""
    root = tmp_path_factory.mktemp("batch_models")
    shutil.copytree(models, root / "foley")
    config = root / "extra_model_paths.yaml"
    config.write_text(f"foley_batch_tests:\n    base_path: {json.dumps(str(root))}\n    foley: foley\n")
    return root / "foley", config


@pytest.fixture(scope="module")
def servers(comfy_root, batch_models, tmp_path_factory):
    """Two ComfyUI servers, started side by side."""
    _, config = batch_models
    bases = []
    for name in ("batch_a", "batch_b"):
        base = tmp_path_factory.mktemp(name)
        (base / "custom_nodes").mkdir()
        os.symlink(ROOT, base / "custom_nodes" / PACK_NAME, target_is_directory=True)
        write_placeholders(base / "models")
        bases.append(base)
    started, errors = [None, None], []

    def start(i):
        try:
            started[i] = ComfyServer(comfy_root, bases[i], extra_model_paths=[config])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        if errors:
            raise errors[0]
        yield started
    finally:
        stops = [threading.Thread(target=s.stop) for s in started if s is not None]  # side by side too
        for t in stops:
            t.start()
        for t in stops:
            t.join()


@pytest.fixture(scope="module")
def object_info(servers):
    return servers[0].object_info()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch_clips")
    make_video(d / "ball.mp4", n_frames=24, fps=24, width=64, height=48)
    make_video(d / "door slam.mp4", n_frames=36, fps=24, width=48, height=64, with_audio=False)
    return d


def batch(*args, timeout=300):
    proc = subprocess.run([sys.executable, str(BATCH), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, check=False)
    return proc


def load(path):
    return json.loads(Path(path).read_text())


def validate_all(server, prompts):
    """POST /prompt of each prompt -> {name: (HTTP status, answer)}, without running them: they are queued behind
    a text-only run of 1000 steps, then deleted from the queue, and that run is interrupted."""
    blocker = load(ROOT / "tests" / "workflows" / "text_to_audio_api.json")
    blocker["10"]["inputs"]["duration"] = 5.0
    blocker["11"]["inputs"]["steps"] = 1000  # the most it takes
    code, answer = server.post("/prompt", {"prompt": blocker, "client_id": "batch-tests"})
    assert code == 200, answer
    blocker_id = answer["prompt_id"]
    answers = {}
    try:
        for name, prompt in prompts.items():
            answers[name] = server.post("/prompt", {"prompt": prompt, "client_id": "batch-tests"})
    finally:
        queued = [a.get("prompt_id") for _, a in answers.values() if a.get("prompt_id")]
        server.post("/queue", {"delete": queued})
        deadline = time.time() + 60
        while blocker_id not in server.get(f"/history/{blocker_id}") and time.time() < deadline:
            server.post("/interrupt", {"prompt_id": blocker_id})
            time.sleep(0.1)
    assert not any(p in server.get("/history") for p in queued), "a prompt ran"
    return answers


# --- the converter on the shared workflows --------------------------------------------------------------------

def _output_types(info):
    return info.get("output") or []


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.stem for p in WORKFLOWS])
def test_every_shared_workflow_converts_to_a_prompt_the_server_accepts(path, object_info, validated):
    workflow = load(path)
    prompt = to_api(workflow, object_info)
    active = [n for n in workflow["nodes"] if n["type"] not in FRONT_END_ONLY and n.get("mode", 0) not in (2, 4)]
    assert sorted(prompt) == sorted(str(n["id"]) for n in active)
    for node in active:
        entry, info = prompt[str(node["id"])], object_info[node["type"]]
        assert entry["class_type"] == node["type"]
        specs = {name: (kind, options) for name, kind, options in input_specs(info)}
        required = (info["input"].get("required") or {}).keys()
        assert set(required) <= set(entry["inputs"]), (node["type"], entry["inputs"])
        assert set(entry["inputs"]) <= set(specs), (node["type"], entry["inputs"])  # no upload/audioUI/control
        for name, value in entry["inputs"].items():
            kind, options = specs[name]
            if isinstance(value, list):  # a link: to an existing node's output of the input's type
                origin = prompt[value[0]]
                out_type = _output_types(object_info[origin["class_type"]])[value[1]]
                assert kind in ("*", out_type) or out_type == "*", (node["type"], name, kind, origin, out_type)
            elif kind == "INT":
                assert isinstance(value, int) and not isinstance(value, bool), (node["type"], name, value)
            elif kind == "FLOAT":
                assert isinstance(value, (int, float)), (node["type"], name, value)
            elif kind == "STRING":
                assert isinstance(value, str), (node["type"], name, value)
            elif kind == "COMBO" and node["type"] != "LoadVideo":
                assert value in options["options"], (node["type"], name, value)
    # the seed's "control after generate" value is not taken for the next widget
    for entry in prompt.values():
        if entry["class_type"] == "FoleySampler":
            assert entry["inputs"]["seed"] == 42 and entry["inputs"]["steps"] == 50
            assert entry["inputs"]["sampler_name"] == "euler" and entry["inputs"]["scheduler"] == "simple"
        if entry["class_type"] == "LoadVideo":
            assert entry["inputs"].keys() == {"file"} and entry["inputs"]["file"] in EXAMPLE_VIDEOS, entry["inputs"]
    code, answer = validated[path.stem]
    assert code == 200 and answer.get("node_errors") == {}, format_prompt_error(answer)


def rewired_video_to_foley():
    """video_to_foley with a Reroute on the video, the seed converted to an input fed by a PrimitiveNode (7), a
    bypassed FoleyWindowing between the model and the sampler, a muted PreviewAudio, a Note, a group and links
    saved as objects."""
    wf = load(ROOT / "workflows" / "video_to_foley.json")
    by_type = {n["type"]: n for n in wf["nodes"]}
    next_link = [max(link[0] for link in wf["links"]) + 1]

    def connect(origin, origin_slot, target, name, kind):
        link_id = next_link[0]
        next_link[0] += 1
        target_slot = next(i for i, inp in enumerate(target["inputs"]) if inp["name"] == name)
        old = target["inputs"][target_slot].get("link")
        wf["links"] = [link for link in wf["links"] if link[0] != old]
        wf["links"].append([link_id, origin["id"], origin_slot, target["id"], target_slot, kind])
        target["inputs"][target_slot]["link"] = link_id

    load_video, visual, sampler = by_type["LoadVideo"], by_type["FoleyVisualEncode"], by_type["FoleySampler"]
    reroute = {"id": 101, "type": "Reroute", "mode": 0, "inputs": [{"name": "", "type": "*", "link": None}],
               "outputs": [{"name": "", "type": "VIDEO", "links": []}], "properties": {}}
    primitive = {"id": 102, "type": "PrimitiveNode", "mode": 0, "inputs": [],
                 "outputs": [{"name": "INT", "type": "INT", "links": [], "widget": {"name": "seed"}}],
                 "widgets_values": [7, "fixed"], "properties": {"Run widget replace on values": False}}
    windowing = {"id": 103, "type": "FoleyWindowing", "mode": 4,
                 "inputs": [{"name": "model", "type": "MODEL", "link": None},
                            {"name": "window_seconds", "type": "FLOAT", "widget": {"name": "window_seconds"},
                             "link": None}],
                 "outputs": [{"name": "MODEL", "type": "MODEL", "links": []}], "widgets_values": [10, 2]}
    note = {"id": 104, "type": "Note", "mode": 0, "inputs": [], "outputs": [], "widgets_values": ["hello"]}
    wf["nodes"] += [reroute, primitive, windowing, note]
    connect(load_video, 0, reroute, "", "VIDEO")
    connect(reroute, 0, visual, "video", "VIDEO")
    connect(primitive, 0, sampler, "seed", "INT")
    connect(by_type["FoleyModelLoader"], 0, windowing, "model", "MODEL")
    connect(windowing, 0, sampler, "model", "MODEL")
    by_type["PreviewAudio"]["mode"] = 2
    wf["groups"].append({"title": "extra", "bounding": [0, 0, 100, 100]})
    keys = ("id", "origin_id", "origin_slot", "target_id", "target_slot", "type")
    wf["links"] = [dict(zip(keys, link)) for link in wf["links"]]
    return wf


@pytest.fixture(scope="module")
def validated(servers, object_info):
    """What the first server answers to POST /prompt of each shared workflow converted (and of the rewired one)."""
    prompts = {p.stem: to_api(load(p), object_info) for p in WORKFLOWS}
    prompts["rewired"] = to_api(rewired_video_to_foley(), object_info)
    return validate_all(servers[0], prompts)


def test_converter_follows_reroutes_primitives_bypass_and_mute(object_info, validated):
    """The rewired graph converts to the plain graph's prompt, less what is bypassed or muted."""
    plain = load(ROOT / "workflows" / "video_to_foley.json")
    expected = to_api(plain, object_info)
    by_type = {n["type"]: str(n["id"]) for n in plain["nodes"]}
    prompt = to_api(rewired_video_to_foley(), object_info)
    del expected[by_type["PreviewAudio"]]
    assert prompt[by_type["FoleySampler"]]["inputs"]["seed"] == 7  # the primitive's value
    expected[by_type["FoleySampler"]]["inputs"]["seed"] = 7
    assert prompt == expected
    code, answer = validated["rewired"]
    assert code == 200 and answer.get("node_errors") == {}, format_prompt_error(answer)


def test_widget_values_skip_front_end_values(object_info):
    ksampler = object_info["KSampler"]
    want = {"seed": 5, "steps": 20, "cfg": 8, "sampler_name": "euler", "scheduler": "normal", "denoise": 1}
    assert widget_values(ksampler, [5, "randomize", 20, 8, "euler", "normal", 1]) == want
    assert widget_values(ksampler, [5, 20, 8, "euler", "normal", 1]) == want  # saved without the control value
    assert widget_values(object_info["RandomNoise"], [3, "fixed"]) == {"noise_seed": 3}
    assert widget_values(object_info["LoadVideo"], ["a.mp4", "image"]) == {"file": "a.mp4"}  # upload button
    assert widget_values(object_info["LoadImage"], ["a.png", "image"]) == {"image": "a.png"}
    assert widget_values(object_info["SaveAudio"], ["x", None]) == {"filename_prefix": "x"}  # audio player
    # saved before an input existed: its default, as the front end would show
    assert widget_values(object_info["FoleyConditioning"], [5]) == {"duration": 5, "batch_size": 1}
    # saved as a dict by name (some custom nodes)
    assert widget_values(object_info["FoleyConditioning"], {"duration": 3, "batch_size": 2}) == {
        "duration": 3, "batch_size": 2}


def test_converter_drops_links_of_muted_nodes_and_unmatched_bypass(object_info):
    nodes = [
        {"id": 1, "type": "FoleyModelLoader", "mode": 2, "inputs": [], "outputs": [{"type": "MODEL", "links": [1]}],
         "widgets_values": ["hunyuanvideo_foley.pth", "default"]},
        {"id": 2, "type": "FoleyWindowing", "mode": 0, "inputs": [{"name": "model", "type": "MODEL", "link": 1}],
         "outputs": [{"type": "MODEL", "links": [2]}], "widgets_values": [10, 2]},
        {"id": 3, "type": "FoleyVAEDecode", "mode": 4,
         "inputs": [{"name": "vae", "type": "FOLEY_VAE", "link": None}, {"name": "latent", "type": "LATENT",
                                                                         "link": None}],
         "outputs": [{"type": "AUDIO", "links": [3]}]},
        {"id": 4, "type": "SaveAudio", "mode": 0, "inputs": [{"name": "audio", "type": "AUDIO", "link": 3}],
         "outputs": [], "widgets_values": ["a"]},
    ]
    links = [[1, 1, 0, 2, 0, "MODEL"], [3, 3, 0, 4, 0, "AUDIO"]]
    prompt = ui_to_api({"nodes": nodes, "links": links}, object_info)
    assert prompt["2"]["inputs"] == {"window_seconds": 10, "overlap_seconds": 2}  # the muted loader's link dropped
    assert prompt["4"]["inputs"] == {"filename_prefix": "a"}  # no AUDIO input on the bypassed decoder
    assert set(prompt) == {"2", "4"}


def test_converter_refuses_what_it_cannot_convert(object_info):
    api = load(ROOT / "tests" / "workflows" / "text_to_audio_api.json")
    assert is_api_format(api) and to_api(api) == api and to_api(api) is not api  # API format passes through
    with pytest.raises(ConversionError, match="not installed on the server: NoSuchNode"):
        to_api({"nodes": [{"id": 1, "type": "NoSuchNode", "mode": 0}], "links": []}, object_info)
    sub = {"nodes": [{"id": 1, "type": "5d1c-uuid", "mode": 0}], "links": [],
           "definitions": {"subgraphs": [{"id": "5d1c-uuid"}]}}
    with pytest.raises(ConversionError, match="subgraph"):
        to_api(sub, object_info)
    with pytest.raises(ConversionError, match="object_info"):
        to_api(load(WORKFLOWS[0]))


# --- pieces of the command ------------------------------------------------------------------------------------

def test_scores_are_read_from_numeric_node_outputs():
    outputs = {"9": {"images": [{"filename": "a.mp4", "subfolder": "", "type": "output"}]},
               "12": {"foley_scores": [{"candidates": [{"index": 0, "desync": 0.4, "clap": 0.31, "name": "x"},
                                                       {"index": 1, "desync": 0.2, "clap": None}]}]},
               "13": {"text": ["#  DeSync ..."]}}
    assert scores(outputs) == {"foley_scores": {"candidates": [{"index": 0, "desync": 0.4, "clap": 0.31},
                                                               {"index": 1, "desync": 0.2}]}}
    assert scores({"9": outputs["9"], "13": outputs["13"]}) is None


def test_result_file_names():
    items = [{"filename": "a_00001_.mp4"}, {"filename": "b.flac"}, {"filename": "c.flac"}]
    assert destinations(items, "out/001_ball") == ["out/001_ball.mp4", "out/001_ball_0.flac", "out/001_ball_1.flac"]


def test_overrides_reach_the_foley_nodes(object_info):
    prompt = to_api(load(ROOT / "workflows" / "hunyuanvideo_t2v_to_foley.json"), object_info)
    changed = apply_overrides(prompt, {"prompt": "rain", "seed": 9, "steps": 3, "candidates": 2, "start": 1.0,
                                       "duration": 2.0, "negative": "hiss"})
    kinds = {key: sorted(prompt[i]["class_type"] for i in ids) for key, ids in changed.items()}
    assert kinds == {"prompt": ["FoleyTextEncode"], "seed": ["FoleySampler"], "steps": ["FoleySampler"],
                     "candidates": ["FoleyConditioning"], "start": ["FoleySyncEncode", "FoleyVisualEncode"],
                     "duration": ["FoleySyncEncode", "FoleyVisualEncode"], "negative": ["FoleyTextEncode"]}
    # the HunyuanVideo sampler's seed and steps are left alone
    assert {n["class_type"]: n["inputs"].get("noise_seed") for n in prompt.values()}["RandomNoise"] == 42
    stock = to_api(load(ROOT / "workflows" / "stock_samplers.json"), object_info)
    changed = apply_overrides(stock, {"seed": 9, "steps": 3})
    assert [stock[i]["class_type"] for i in changed["seed"]] == ["RandomNoise"]
    assert [stock[i]["class_type"] for i in changed["steps"]] == ["BasicScheduler"]
    text_only = to_api(load(ROOT / "workflows" / "text_to_audio.json"), object_info)
    changed = apply_overrides(text_only, {"duration": 1.5})
    assert [text_only[i]["inputs"]["duration"] for i in changed["duration"]] == [1.5]


def test_the_command_needs_neither_comfyui_nor_site_packages(servers, tmp_path):
    """`python -S`: no site-packages at all (no torch, no tqdm, no ComfyUI): converts through the server."""
    out = tmp_path / "api.json"
    proc = subprocess.run([sys.executable, "-S", str(BATCH), "video_to_foley", "--server", servers[1].url,
                           "--prompt", "a cat", "--save-api", str(out)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    prompt = load(out)
    assert {n["class_type"]: n["inputs"] for n in prompt.values()}["FoleyTextEncode"]["prompt"] == "a cat"


# --- batch runs -----------------------------------------------------------------------------------------------

def test_csv_batch_over_two_servers(servers, clips, tmp_path):
    rows = tmp_path / "rows.csv"
    with open(rows, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "prompt", "negative_prompt", "seed", "start", "duration"])
        w.writerow([str(clips / "ball.mp4"), "a ball bounces", "", "", "", ""])
        w.writerow(["missing.mp4", "nothing", "", "", "", ""])
        w.writerow([str(clips / "door slam.mp4"), "a door slams", "hiss", "11", "0.25", "1"])
    out = tmp_path / "out"
    proc = batch("video_to_foley", "--server", servers[0].url, "--server", servers[1].url, "--csv", rows,
                 "--steps", STEPS, "--output", out)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # one row failed, the others ran
    assert "row 2: not run: video not found: " in proc.stderr
    assert "rows ok" in proc.stderr and "%|" in proc.stderr  # summary line, tqdm progress bar

    report = load(out / "report.json")
    assert [r["status"] for r in report["rows"]] == ["ok", "error", "ok"], report
    ok = [r for r in report["rows"] if r["status"] == "ok"]
    assert report["rows"][1]["message"] == f"not run: video not found: {rows.parent / 'missing.mp4'}"
    assert report["rows"][1]["server"] == "" and report["rows"][1]["prompt_id"] == ""
    assert report["rows"][1]["outputs"] == []
    assert {r["server"] for r in ok} == {servers[0].url, servers[1].url}  # both servers took a row
    assert [Path(p).name for r in ok for p in r["outputs"]] == ["001_ball.mp4", "003_door slam.mp4"]
    for r in ok:
        assert r["seconds"] > 0 and r["scores"] is None and r["prompt_id"]
        (path,) = r["outputs"]
        info = probe_media(path)  # decodes every stream: the file plays
        assert info["video"]["frames"] > 0 and info["audio"]["sample_rate"] == 48000 and info["audio"]["samples"] > 0
    with open(out / "report.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["status"] for r in table] == ["ok", "error", "ok"]
    assert table[0]["outputs"] == ok[0]["outputs"][0] and table[0]["scores"] == ""
    assert table[2]["seed"] == "11" and table[2]["prompt"] == "a door slams"

    # what the server ran for row 3: the row's values and the command's --steps
    server = next(s for s in servers if s.url == ok[1]["server"])
    history = server.get(f"/history/{ok[1]['prompt_id']}")[ok[1]["prompt_id"]]
    ran = {n["class_type"]: n["inputs"] for n in history["prompt"][2].values()}
    assert ran["FoleyTextEncode"] == {**ran["FoleyTextEncode"], "prompt": "a door slams", "negative_prompt": "hiss"}
    assert ran["FoleySampler"]["seed"] == 11 and ran["FoleySampler"]["steps"] == 2
    assert ran["FoleyVisualEncode"]["start_time"] == ran["FoleySyncEncode"]["start_time"] == 0.25
    assert ran["FoleyVisualEncode"]["duration"] == ran["FoleySyncEncode"]["duration"] == 1.0
    assert ran["LoadVideo"]["file"].startswith("foley_batch/door_slam-")  # uploaded to that server's input
    assert re.fullmatch(r"foley/video_to_foley-[0-9a-f]{6}-0003", ran["SaveVideo"]["filename_prefix"])
    assert (Path(server.input_dir) / ran["LoadVideo"]["file"]).is_file()
    audio = probe_media(ok[1]["outputs"][0])["audio"]
    assert audio["duration_s"] == pytest.approx(1.25, abs=0.05)  # silence, then the 1 s window from 0.25 s


def test_single_run_of_an_api_workflow_with_candidates(servers, tmp_path):
    """An API-format file as it is, text only: two candidates, each saved by SaveAudio, named after --output."""
    out = tmp_path / "rain.flac"
    proc = batch(ROOT / "tests" / "workflows" / "text_to_audio_api.json", "--server", servers[1].url,
                 "--prompt", "rain", "--duration", "0.8", "--candidates", "2", "--steps", STEPS, "--output", out)
    assert proc.returncode == 0, proc.stderr
    files = proc.stdout.split()
    assert [Path(f).name for f in files] == ["rain_0.flac", "rain_1.flac"]
    for f in files:
        assert probe_media(f)["audio"]["duration_s"] == pytest.approx(0.8, abs=0.05)


def test_missing_model_stops_with_the_loaders_message(servers, batch_models, clips, tmp_path):
    foley, _ = batch_models
    mmdit = foley / "hunyuanvideo_foley.pth"
    away = foley.parent / "hunyuanvideo_foley.pth.away"
    mmdit.rename(away)
    try:
        single = batch("video_to_foley", "--server", servers[0].url, "--video", clips / "ball.mp4",
                       "--output", tmp_path / "single")
        rows = tmp_path / "rows.csv"
        rows.write_text(f"path,prompt\n{clips / 'ball.mp4'},a\n{clips / 'ball.mp4'},b\n{clips / 'ball.mp4'},c\n")
        many = batch("video_to_foley", "--server", servers[0].url, "--server", servers[1].url, "--csv", rows,
                     "--output", tmp_path / "many", "--quiet")
    finally:
        away.rename(mmdit)
    message = "FoleyModelLoader (node 5): model file 'hunyuanvideo_foley.pth' not found in"
    assert single.returncode == 2 and message in single.stderr, single.stderr
    assert "huggingface.co/tencent/HunyuanVideo-Foley" in single.stderr.split(message)[1].splitlines()[0]
    assert many.returncode == 2 and message in many.stderr, many.stderr
    report = load(tmp_path / "many" / "report.json")
    assert all(r["status"] == "error" for r in report["rows"]) and report["stopped"]
    assert any(message in r["message"] for r in report["rows"])
    assert not list((tmp_path / "many").glob("*.mp4"))


def test_command_line_checks(servers, tmp_path):
    proc = batch("text_to_audio", "--server", "http://127.0.0.1:9", "--save-api", tmp_path / "a.json")
    assert proc.returncode == 2 and "no ComfyUI server answers" in proc.stderr
    proc = batch("text_to_audio", "--server", "http://127.0.0.1:9", "--server", servers[0].url,
                 "--save-api", tmp_path / "a.json")
    assert proc.returncode == 0 and "not using it" in proc.stderr
    proc = batch("text_to_audio", "--server", servers[0].url, "--video", "x.mp4", "--save-api", tmp_path / "b.json")
    assert proc.returncode == 2 and "the workflow has no LoadVideo node" in proc.stderr
    two_prompts = load(ROOT / "tests" / "workflows" / "text_to_audio_api.json")
    two_prompts["70"] = copy.deepcopy(two_prompts["7"])
    (tmp_path / "two.json").write_text(json.dumps(two_prompts))
    proc = batch(tmp_path / "two.json", "--server", servers[0].url, "--prompt", "x", "--save-api", tmp_path / "c.json")
    assert proc.returncode == 0 and "--prompt sets all 2 FoleyTextEncode nodes (7, 70)" in proc.stderr
    assert [n["inputs"]["prompt"] for n in load(tmp_path / "c.json").values() if "prompt" in n["inputs"]] == ["x", "x"]
    proc = batch("text_to_audio", "--server", servers[0].url, "--set", "FoleySampler.nope",
                 "--save-api", tmp_path / "d")
    assert proc.returncode == 2 and "expected NODE.INPUT=VALUE" in proc.stderr
