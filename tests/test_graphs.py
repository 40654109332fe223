"""Graphs users build: video from frames (CreateVideo), windows muxed at their time, validation before running,
model merges and saves, and the details that a graph can silently get wrong (prompt order, mono mix, batch)."""
import json
import math
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from graph import CLIP, node, with_ksampler
from make_media import make_video, probe_media, read_audio
from foley_models import media

API_WORKFLOWS = Path(__file__).resolve().parent / "workflows"
LONG_CLIP = "ramp_24fps_6s.mp4"  # 144 frames, grey level = 255 * i / 143


def api_workflow(name):
    return json.loads((API_WORKFLOWS / name).read_text())


def foley_graph(video_source, start_time=0.0, duration=0.0, video_range="whole video", sampler="FoleySampler"):
    """The shared video -> Foley workflow with the video from `video_source` ([node, slot] or a file name)."""
    graph = api_workflow("video_to_foley_api.json")
    if isinstance(video_source, str):
        graph["1"]["inputs"]["file"] = video_source
    else:
        del graph["1"]
        for node_id in ("8", "9", "13"):
            graph[node_id]["inputs"]["video"] = video_source
    for node_id in ("8", "9"):
        graph[node_id]["inputs"].update(start_time=start_time, duration=duration)
    graph["7"]["inputs"]["prompt"] = "a door slams"
    graph["11"]["inputs"].update(steps=2, seed=3)
    graph["13"]["inputs"]["video_range"] = video_range
    return with_ksampler(graph) if sampler == "KSampler" else graph


def decoded_frames(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def rms(x):
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


@pytest.fixture(scope="module")
def long_clip(comfyui, comfy_input_dir):
    make_video(comfy_input_dir / LONG_CLIP, n_frames=144, fps=24, width=64, height=48, with_audio=False)
    return comfy_input_dir / LONG_CLIP


def test_video_built_from_frames_goes_through_every_video_node(comfyui, comfy_input_dir):
    """LoadVideo -> GetVideoComponents -> CreateVideo (how generated frames become a VIDEO) -> the pack -> SaveVideo."""
    graph = foley_graph(["31", 0])
    graph["30"] = {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}}
    graph["31"] = {"class_type": "CreateVideo", "inputs": {"images": ["30", 0], "fps": ["30", 2]}}
    graph["1"] = {"class_type": "LoadVideo", "inputs": {"file": CLIP}}
    result = comfyui.run(graph)
    assert result["success"], result["messages"]
    (saved,) = comfyui.output_files(result)
    info = probe_media(saved)
    assert info["video"]["frames"] == 48 and info["video"]["fps"] == 24  # its true frame rate, every frame
    n25 = len(media.frame_indices([i / 24 for i in range(48)], 25))
    assert info["audio"]["duration_s"] == pytest.approx(media.latent_length(n25) * 960 / 48000, abs=0.03)


def test_features_of_a_video_from_frames_equal_those_of_its_file(comfyui, comfy_input_dir):
    from comfy_api.latest import InputImpl, Types

    (synchformer,) = node(comfyui, "FoleySynchformerLoader", file="synchformer_state_dict.pth")
    (siglip2,) = node(comfyui, "FoleySigLIP2Loader", folder="siglip2-base-patch16-512")
    from_file = InputImpl.VideoFromFile(str(comfy_input_dir / CLIP))
    # the frames as the file decodes to RGB24: ComfyUI's own decode (get_components) converts colours in float
    # since 0.2x, which moves pixels by up to 1/255; the pack must give the same features for the same pixels
    with av.open(str(comfy_input_dir / CLIP)) as container:
        pixels = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    images = torch.from_numpy(np.stack(pixels)).float() / 255
    from_frames = InputImpl.VideoFromComponents(
        Types.VideoComponents(images=images, audio=None, frame_rate=from_file.get_components().frame_rate))
    for loader, node_id, key in ((synchformer, "FoleySyncEncode", "synchformer"), (siglip2, "FoleyVisualEncode", "siglip2")):
        (a,) = node(comfyui, node_id, **{key: loader}, video=from_file)
        (b,) = node(comfyui, node_id, **{key: loader}, video=from_frames)
        assert a["frames_25"] == b["frames_25"]
        torch.testing.assert_close(a["features"], b["features"], rtol=0, atol=0)


@pytest.mark.parametrize("sampler", ["FoleySampler", "KSampler"])
def test_the_sound_of_a_window_plays_at_the_window(comfyui, long_clip, sampler):
    result = comfyui.run(foley_graph(LONG_CLIP, start_time=2.0, duration=2.0, sampler=sampler))
    assert result["success"], result["messages"]
    (saved,) = comfyui.output_files(result)
    info = probe_media(saved)
    assert info["video"]["frames"] == 144  # the whole video, copied
    wave, rate = read_audio(saved)
    mono = wave.mean(axis=0)
    assert rms(mono[: int(1.95 * rate)]) < 1e-4  # silence until the window
    assert rms(mono[int(2.05 * rate): int(3.9 * rate)]) > 1e-3  # the generated sound inside it
    assert info["audio"]["duration_s"] == pytest.approx(2.0 + media.latent_length(50) * 960 / 48000, abs=0.05)


def test_audio_window_only_cuts_the_video_to_the_window(comfyui, long_clip):
    result = comfyui.run(foley_graph(LONG_CLIP, start_time=2.0, duration=2.0, video_range="audio window only"))
    assert result["success"], result["messages"]
    (saved,) = comfyui.output_files(result)
    frames = decoded_frames(saved)
    assert len(frames) == 48  # frames 48..95 of the source, at 2.0 s .. 3.96 s
    source = decoded_frames(long_clip)
    for out_index, src_index in ((0, 48), (47, 95)):
        assert np.abs(frames[out_index].astype(int) - source[src_index].astype(int)).mean() < 2
    wave, rate = read_audio(saved)
    assert rms(wave[:, : int(0.5 * rate)]) > 1e-3  # the audio starts with the cut


def test_mux_places_audio_at_its_start_time_and_takes_the_chosen_item(comfyui, long_clip):
    from comfy_api.latest import InputImpl

    t = torch.arange(2 * 48000) / 48000
    batch = torch.stack([torch.sin(2 * math.pi * 440 * t), torch.sin(2 * math.pi * 1000 * t)])[:, None] * 0.3
    audio = {"waveform": batch, "sample_rate": 48000, "start_time": 3.0}
    (video,) = node(comfyui, "FoleyMuxVideo", video=InputImpl.VideoFromFile(str(long_clip)), audio=audio,
                    batch_index=1, audio_codec="flac", video_range="whole video")
    wave, rate = read_audio(video.get_stream_source())
    assert rms(wave[0, : int(2.99 * rate)]) < 1e-4
    inside = wave[0, int(3.0 * rate): int(5.0 * rate)]
    assert np.argmax(np.abs(np.fft.rfft(inside))) == pytest.approx(1000 * inside.size / rate, abs=2)  # item 1
    assert rms(inside) == pytest.approx(0.3 / math.sqrt(2), rel=0.02)  # the waveform itself, not silence


def test_mux_of_a_video_from_frames_encodes_it_once_at_its_rate(comfyui):
    from comfy_api.latest import InputImpl, Types

    images = torch.linspace(0, 1, 30)[:, None, None, None].expand(30, 32, 48, 3).contiguous()
    video = InputImpl.VideoFromComponents(Types.VideoComponents(images=images, audio=None, frame_rate=15))
    audio = {"waveform": torch.full((1, 1, 96000), 0.1), "sample_rate": 48000}
    (muxed,) = node(comfyui, "FoleyMuxVideo", video=video, audio=audio, batch_index=0, audio_codec="aac",
                    video_range="whole video")
    info = probe_media(muxed.get_stream_source())
    assert info["video"]["frames"] == 30 and info["video"]["fps"] == 15 and info["audio"]["channels"] == 2
    frames = decoded_frames(muxed.get_stream_source())
    assert abs(int(frames[29].mean()) - 255) <= 2 and int(frames[0].mean()) <= 2


def test_loaders_default_to_the_official_files(models, comfy_server):
    info = comfy_server.object_info()
    defaults = {"FoleyModelLoader": ("file", "hunyuanvideo_foley.pth"), "FoleyVAELoader": ("file", "vae_128d_48k.pth"),
                "FoleySynchformerLoader": ("file", "synchformer_state_dict.pth"),
                "FoleyCLAPLoader": ("folder", "larger_clap_general"),
                "FoleySigLIP2Loader": ("folder", "siglip2-base-patch16-512")}
    for node_id, (name, default) in defaults.items():
        assert info[node_id]["input"]["required"][name][1]["default"] == default, node_id


def _failed_inputs(comfyui, graph):
    ok, _, _, node_errors = comfyui.validate(graph)
    assert not ok
    return {node_id: " ".join(e["details"] for e in err["errors"]) for node_id, err in node_errors.items()}


def test_a_wrong_or_missing_file_fails_when_queued_before_anything_runs(comfyui):
    graph = foley_graph(CLIP)
    graph["4"]["inputs"]["file"] = "hunyuanvideo_foley.pth"  # the MMDiT given to the Synchformer loader
    graph["5"]["inputs"]["file"] = "hunyuanvideo_foley_xl.pth"  # listed (official name) but not there
    errors = _failed_inputs(comfyui, graph)
    assert "expected the Synchformer" in errors["4"] and "HunyuanVideo-Foley MMDiT" in errors["4"]
    assert "hunyuanvideo_foley_xl.pth" in errors["5"] and "not found" in errors["5"] and "huggingface.co" in errors["5"]
    result = comfyui.run(graph)
    assert not result["valid"] and not result["outputs"]


def test_a_missing_encoder_folder_fails_when_queued(comfyui):
    graph = foley_graph(CLIP)
    graph["2"]["inputs"]["folder"] = "not_a_clap_folder"
    errors = _failed_inputs(comfyui, graph)
    assert "not_a_clap_folder" in errors["2"] and "laion/larger_clap_general" in errors["2"]


def _second_mmdit(models, diffusion_models_dir):
    """A copy of the tiny MMDiT with different learned features (the three top-level tensors) and output bias."""
    state = torch.load(models / "hunyuanvideo_foley.pth", weights_only=True)
    for key in ("sync_pos_emb", "empty_clip_feat", "empty_sync_feat", "final_layer.linear.bias"):
        state[key] = state[key] + 1.0
    torch.save(state, diffusion_models_dir / "foley_b.pth")
    return state


def test_model_merge_and_save_reach_every_parameter(comfyui, models):
    import comfy.model_management as mm
    from safetensors import safe_open

    diffusion_models = Path(comfyui.folder_paths.get_folder_paths("diffusion_models")[0])
    diffusion_models.mkdir(parents=True, exist_ok=True)
    b_state = _second_mmdit(models, diffusion_models)
    a_state = torch.load(models / "hunyuanvideo_foley.pth", weights_only=True)
    (a,) = node(comfyui, "FoleyModelLoader", file="hunyuanvideo_foley.pth", weight_dtype="fp32")
    (b,) = node(comfyui, "FoleyModelLoader", file="foley_b.pth", weight_dtype="fp32")
    merge = comfyui.nodes.NODE_CLASS_MAPPINGS["ModelMergeSimple"]()
    (merged,) = merge.merge(a, b, 0.25)  # ratio of the first model
    mm.load_models_gpu([merged], force_full_load=True)
    learned = merged.model.diffusion_model.learned
    for key in ("sync_pos_emb", "empty_clip_feat", "empty_sync_feat"):
        expected = 0.25 * a_state[key].float() + 0.75 * b_state[key].float()
        torch.testing.assert_close(getattr(learned, key).detach().float(), expected)

    comfyui.nodes.NODE_CLASS_MAPPINGS["ModelSave"]().save(merged, "diffusion_models/foley_merged")
    (saved,) = Path(comfyui.output_dir, "diffusion_models").glob("foley_merged*.safetensors")
    with safe_open(str(saved), "pt") as f:
        keys = set(f.keys())
        assert "model.diffusion_model.empty_clip_feat" in keys  # the official key names, under ComfyUI's prefix
        expected = 0.25 * a_state["final_layer.linear.bias"] + 0.75 * b_state["final_layer.linear.bias"]
        torch.testing.assert_close(f.get_tensor("model.diffusion_model.final_layer.linear.bias").float(), expected)
    shutil.copy(saved, diffusion_models / "foley_merged.safetensors")
    (reloaded,) = node(comfyui, "FoleyModelLoader", file="foley_merged.safetensors", weight_dtype="fp32")
    torch.testing.assert_close(reloaded.model.diffusion_model.learned.empty_sync_feat.float(),
                               0.25 * a_state["empty_sync_feat"].float() + 0.75 * b_state["empty_sync_feat"].float())
    mm.unload_all_models()


def test_visual_features_alone_set_the_audio_length(comfyui, comfy_input_dir):
    from comfy_api.latest import InputImpl

    (siglip2,) = node(comfyui, "FoleySigLIP2Loader", folder="siglip2-base-patch16-512")
    (visual,) = node(comfyui, "FoleyVisualEncode", siglip2=siglip2,
                     video=InputImpl.VideoFromFile(str(comfy_input_dir / CLIP)))
    text = {"cond": torch.zeros(1, 4, 768), "uncond": torch.zeros(1, 4, 768)}
    positive, _, latent = node(comfyui, "FoleyConditioning", text=text, visual=visual, duration=5.0)
    n25 = len(media.frame_indices([i / 24 for i in range(48)], 25))  # the official rule on the 2 s clip
    assert latent["samples"].shape[-1] == media.latent_length(n25)
    assert positive[0][1]["clip_empty"].item() == 0 and positive[0][1]["sync_empty"].item() == 1


def test_text_encode_gives_the_prompt_to_the_positive_side_with_shared_padding(comfyui, models):
    from transformers import AutoTokenizer, ClapTextModelWithProjection

    (clap,) = node(comfyui, "FoleyCLAPLoader", folder="larger_clap_general")
    prompt, negative = "glass shatters on a stone floor, then silence", "hum"
    (text,) = node(comfyui, "FoleyTextEncode", clap=clap, prompt=prompt, negative_prompt=negative)
    # the reference straight from transformers: both prompts in one padded batch (official quirk P1)
    folder = models / "larger_clap_general"
    tokens = AutoTokenizer.from_pretrained(folder)([negative, prompt], padding=True, return_tensors="pt")
    hidden = ClapTextModelWithProjection.from_pretrained(folder)(**tokens).last_hidden_state
    assert text["cond"].shape == text["uncond"].shape == (1, tokens["input_ids"].shape[1], 768)
    torch.testing.assert_close(text["cond"], hidden[1:2], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(text["uncond"], hidden[0:1], atol=1e-5, rtol=1e-5)


def test_vae_encode_mixes_all_channels_to_mono(comfyui):
    (vae,) = node(comfyui, "FoleyVAELoader", file="vae_128d_48k.pth")
    t = torch.arange(48000) / 48000
    left, right = torch.sin(2 * math.pi * 300 * t) * 0.4, torch.sin(2 * math.pi * 2000 * t) * 0.2
    (stereo,) = node(comfyui, "FoleyVAEEncode", vae=vae, audio={"waveform": torch.stack([left, right])[None],
                                                                 "sample_rate": 48000})
    (mono,) = node(comfyui, "FoleyVAEEncode", vae=vae, audio={"waveform": ((left + right) / 2)[None, None],
                                                               "sample_rate": 48000})
    (first,) = node(comfyui, "FoleyVAEEncode", vae=vae, audio={"waveform": left[None, None], "sample_rate": 48000})
    torch.testing.assert_close(stereo["samples"], mono["samples"])
    assert not torch.allclose(stereo["samples"], first["samples"], atol=1e-3)


def test_comfyui_starts_with_a_clean_log(models, comfy_server):
    """What a newcomer reads first: no ERROR box (workflow templates), no missing module (alembic), no traceback."""
    log = comfy_server.log()
    # INFO lines may report optional accelerators that a CPU machine lacks (ComfyUI >= 0.12 logs "No module named
    # 'triton'" for comfy-kitchen's backends); warnings, errors and tracebacks are what a newcomer must not see
    lines = [line for line in log.splitlines() if "[INFO]" not in line]
    for problem in ("ERROR", "No module named", "Traceback", "IMPORT FAILED", "not installed"):
        bad = [line for line in lines if problem in line]
        assert not bad, f"{problem!r} in the start-up log: {bad}\n{log}"
