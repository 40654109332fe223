"""Any length and editing through the real ComfyUI: windows blended at every step, minutes-long videos,
time-range prompts, inpainting, extension, audio-to-audio variation, cancel within a step."""
import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from graph import node, with_ksampler
from make_media import make_video, probe_media, read_audio
from tiny_models import write_light_video_models
from foley_models import media

API_WORKFLOWS = Path(__file__).resolve().parent / "workflows"
LIGHT = "light"  # the light model set's folder inside models/foley


@pytest.fixture(scope="module")
def light(models, comfyui):
    write_light_video_models(models / LIGHT)
    return comfyui


def clip_of(comfy_input_dir, name, seconds, fps=25):
    path = comfy_input_dir / name
    if not path.exists():
        make_video(path, n_frames=round(seconds * fps), fps=fps, width=32, height=24, with_audio=False)
    return name


def long_graph(video, steps=2, sampler="FoleySampler", window=None, seed=5):
    """video file -> light encoders -> conditioning -> sampler -> decode -> mux -> SaveVideo."""
    graph = json.loads((API_WORKFLOWS / "video_to_foley_api.json").read_text())
    graph["1"]["inputs"]["file"] = video
    graph["3"]["inputs"]["folder"] = f"{LIGHT}/siglip2-base-patch16-512"
    graph["4"]["inputs"]["file"] = f"{LIGHT}/synchformer_state_dict.pth"
    graph["5"]["inputs"]["file"] = f"{LIGHT}/hunyuanvideo_foley.pth"
    graph["7"]["inputs"]["prompt"] = "rain on a tin roof"
    graph["11"]["inputs"].update(steps=steps, seed=seed)
    if window is not None:
        graph["20"] = {"class_type": "FoleyWindowing", "inputs": {"model": ["5", 0], "window_seconds": window[0],
                                                                 "overlap_seconds": window[1]}}
        graph["11"]["inputs"]["model"] = ["20", 0]
    return with_ksampler(graph) if sampler == "KSampler" else graph


def expected_audio_seconds(path):
    with av.open(str(path)) as c:
        times = [f.time for f in c.decode(video=0)]
    return media.latent_length(len(media.frame_indices(times, 25, max_seconds=float("inf")))) * 960 / 48000


def sample_latent(comfyui, graph):
    """Run the graph up to the sampler and return its LATENT (the graph's outputs are cut after it)."""
    graph = dict(graph)
    for node_id in ("12", "13", "14"):
        graph.pop(node_id, None)
    graph["90"] = {"class_type": "FoleyVAEDecode", "inputs": {"vae": ["6", 0], "latent": ["11", 0]}}
    graph["91"] = {"class_type": "PreviewAudio", "inputs": {"audio": ["90", 0]}}
    result = comfyui.run(graph)
    assert result["success"], result["messages"]
    (path,) = comfyui.output_files(result)
    return read_audio(path)[0]


@pytest.mark.parametrize("seconds", [60.0, 300.0])
def test_minutes_long_video_end_to_end(light, comfy_input_dir, seconds):
    name = clip_of(comfy_input_dir, f"long_{seconds:g}s.mp4", seconds)
    result = light.run(long_graph(name, steps=1))
    assert result["success"], result["messages"]
    (saved,) = light.output_files(result)
    info = probe_media(saved)
    assert info["video"]["frames"] == round(seconds * 25)  # the whole video, copied
    assert info["audio"]["duration_s"] == pytest.approx(expected_audio_seconds(comfy_input_dir / name), abs=0.04)
    # the official 25 fps rule (repeated float addition) drops the last frame of a constant 25 fps clip
    assert info["audio"]["duration_s"] == pytest.approx(seconds, abs=0.04)


def test_odd_length_gets_the_official_audio_length(light, comfy_input_dir):
    name = clip_of(comfy_input_dir, "odd_37s.mp4", 37.37, fps=24)
    result = light.run(long_graph(name, steps=1, window=(6.4, 1.28)))
    assert result["success"], result["messages"]
    (saved,) = light.output_files(result)
    assert probe_media(saved)["audio"]["duration_s"] == pytest.approx(
        expected_audio_seconds(comfy_input_dir / name), abs=0.03)


def test_stock_ksampler_on_a_long_clip_is_deterministic_per_seed(light, comfy_input_dir):
    name = clip_of(comfy_input_dir, "long_24s.mp4", 24.0)
    first = sample_latent(light, long_graph(name, sampler="KSampler", window=(5.12, 1.28)))
    again = sample_latent(light, long_graph(name, sampler="KSampler", window=(5.12, 1.28)))
    other = sample_latent(light, long_graph(name, sampler="KSampler", window=(5.12, 1.28), seed=6))
    assert first.shape[-1] == media.latent_length(600) * 960
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 1e-4


def test_a_clip_that_fits_one_window_is_sampled_as_without_windows(light, comfy_input_dir):
    name = clip_of(comfy_input_dir, "short_4s.mp4", 4.0)
    plain = sample_latent(light, long_graph(name))
    windowed = sample_latent(light, long_graph(name, window=(5.12, 1.28)))
    split = sample_latent(light, long_graph(name, window=(1.28, 0.32)))
    np.testing.assert_array_equal(plain, windowed)
    assert np.abs(plain - split).mean() > 1e-5  # really windowed when the window is shorter than the clip


def _conditioning(comfyui, video, prompt, light_models=True, **encode):
    """(model, vae, positive, negative, latent) for `video` through the pack's nodes, called in-process."""
    from comfy_api.latest import InputImpl

    prefix = f"{LIGHT}/" if light_models else ""
    (clap,) = node(comfyui, "FoleyCLAPLoader", folder="larger_clap_general")
    (sync_model,) = node(comfyui, "FoleySynchformerLoader", file=f"{prefix}synchformer_state_dict.pth")
    (model,) = node(comfyui, "FoleyModelLoader", file=f"{prefix}hunyuanvideo_foley.pth", weight_dtype="fp32")
    (vae,) = node(comfyui, "FoleyVAELoader", file="vae_128d_48k.pth")
    (text,) = node(comfyui, "FoleyTextEncode", clap=clap, prompt=prompt, negative_prompt="noisy, harsh")
    (sync,) = node(comfyui, "FoleySyncEncode", synchformer=sync_model, video=InputImpl.VideoFromFile(str(video)),
                   **encode)
    positive, negative, latent = node(comfyui, "FoleyConditioning", text=text, sync=sync)
    return model, vae, positive, negative, latent


def run_sampler(comfyui, kind, model, positive, negative, latent, steps=3, seed=11, denoise=1.0):
    """The same sampling through FoleySampler, core KSampler or SamplerCustomAdvanced -> LATENT dict."""
    if kind == "FoleySampler":
        return node(comfyui, "FoleySampler", model=model, positive=positive, negative=negative, latent=latent,
                    seed=seed, steps=steps, cfg=4.5, sampler_name="euler", scheduler="simple", denoise=denoise)[0]
    if kind == "KSampler":
        return comfyui.nodes.KSampler().sample(model, seed, steps, 4.5, "euler", "simple", positive, negative, latent,
                                               denoise=denoise)[0]
    mapping = comfyui.nodes.NODE_CLASS_MAPPINGS
    (guider,) = mapping["CFGGuider"].execute(model=model, positive=positive, negative=negative, cfg=4.5).result
    (sigmas,) = mapping["BasicScheduler"].execute(model=model, scheduler="simple", steps=steps, denoise=denoise).result
    (sampler,) = mapping["KSamplerSelect"].execute(sampler_name="euler").result
    (noise,) = mapping["RandomNoise"].execute(noise_seed=seed).result
    return mapping["SamplerCustomAdvanced"].execute(noise=noise, guider=guider, sampler=sampler, sigmas=sigmas,
                                                    latent_image=latent).result[0]


@pytest.mark.parametrize("sampler", ["FoleySampler", "KSampler", "SamplerCustomAdvanced"])
def test_inpainting_keeps_the_latent_outside_the_range_and_the_audio_outside_the_margin(
        light, comfy_input_dir, sampler):
    from foley_models.dac_vae import CHUNK_CONTEXT

    video = comfy_input_dir / clip_of(comfy_input_dir, "inpaint_4s.mp4", 4.0)
    model, vae, positive, negative, empty = _conditioning(light, video, "glass clinks")
    t = torch.arange(4 * 48000) / 48000
    audio = {"waveform": (0.3 * torch.sin(2 * torch.pi * 330 * t))[None, None], "sample_rate": 48000}
    (encoded,) = node(light, "FoleyVAEEncode", vae=vae, audio=audio)
    (masked,) = node(light, "FoleyTimeMask", latent=encoded, start=1.0, end=2.0, fade=0.1)
    out = run_sampler(light, sampler, model, positive, negative, masked)
    before, after = encoded["samples"], out["samples"]
    assert torch.equal(after[..., :50], before[..., :50]) and torch.equal(after[..., 100:], before[..., 100:])
    assert (after[..., 55:95] - before[..., 55:95]).abs().mean() > 1e-3  # the range itself was generated anew
    (kept,) = node(light, "FoleyVAEDecode", vae=vae, latent=encoded)
    (edited,) = node(light, "FoleyVAEDecode", vae=vae, latent=out)
    margin = CHUNK_CONTEXT * 960  # the decoder's receptive field, rounded up (tests/test_dac_vae.py)
    a, b = kept["waveform"][0, 0], edited["waveform"][0, 0]
    torch.testing.assert_close(b[: 50 * 960 - margin], a[: 50 * 960 - margin], atol=1e-5, rtol=0)
    torch.testing.assert_close(b[100 * 960 + margin:], a[100 * 960 + margin:], atol=1e-5, rtol=0)


def test_extension_keeps_the_given_audio_and_fills_the_rest(light, comfy_input_dir):
    video = comfy_input_dir / clip_of(comfy_input_dir, "extend_6s.mp4", 6.0)
    model, vae, positive, negative, empty = _conditioning(light, video, "footsteps")
    t = torch.arange(2 * 48000) / 48000
    given = {"waveform": (0.3 * torch.sin(2 * torch.pi * 220 * t)).expand(2, -1)[None], "sample_rate": 48000}
    (extended,) = node(light, "FoleyExtend", vae=vae, audio=given, latent=empty)
    (given_latent,) = node(light, "FoleyVAEEncode", vae=vae, audio=given)
    out = run_sampler(light, "KSampler", model, positive, negative, extended)["samples"]
    assert out.shape == empty["samples"].shape
    assert torch.equal(out[..., :100], given_latent["samples"])
    assert out[..., 100:].abs().mean() > 1e-3  # generated, not left at zero


def test_time_range_prompts_change_their_range(light, comfy_input_dir):
    video = comfy_input_dir / clip_of(comfy_input_dir, "ranges_8s.mp4", 8.0)
    model, _, positive_a, negative, latent = _conditioning(light, video, "footsteps on gravel")
    mapping = light.nodes.NODE_CLASS_MAPPINGS

    def with_second_prompt(prompt):
        _, _, positive_b, _, _ = _conditioning(light, video, prompt)
        (first,) = node(light, "FoleyConditioningTimeRange", conditioning=positive_a, start=0.0, end=3.2,
                        edge_softness=0.0)
        (second,) = node(light, "FoleyConditioningTimeRange", conditioning=positive_b, start=3.2, end=8.0,
                         edge_softness=0.0)
        (both,) = mapping["ConditioningCombine"]().combine(first, second)
        return run_sampler(light, "FoleySampler", model, both, negative, latent)["samples"]

    door, bell = with_second_prompt("a door slams"), with_second_prompt("a bell rings")
    inside = (door[..., 176:] - bell[..., 176:]).abs().mean()
    outside = (door[..., :144] - bell[..., :144]).abs().mean()
    assert inside > 1e-3 and outside < 0.25 * inside, (inside, outside)  # only the uncond couples the ranges


def test_audio_to_audio_variation_of_any_length(light, comfy_input_dir):
    video = comfy_input_dir / clip_of(comfy_input_dir, "long_24s.mp4", 24.0)
    model, vae, positive, negative, empty = _conditioning(light, video, "rain")
    audio = {"waveform": torch.randn(1, 2, 24 * 44100) * 0.1, "sample_rate": 44100}
    (encoded,) = node(light, "FoleyVAEEncode", vae=vae, audio=audio)
    assert encoded["samples"].shape[-1] == 1200
    varied = run_sampler(light, "FoleySampler", model, positive, negative, encoded, denoise=0.5)["samples"]
    fresh = run_sampler(light, "FoleySampler", model, positive, negative, encoded, denoise=1.0)["samples"]
    assert varied.shape == encoded["samples"].shape and torch.isfinite(varied).all()
    # started from the encoded audio noised halfway: neither the input nor what pure noise gives
    assert (varied - encoded["samples"]).abs().mean() > 1e-3 and (varied - fresh).abs().mean() > 1e-3


def test_cancel_stops_within_one_step_of_a_long_clip(light, comfy_input_dir):
    name = clip_of(comfy_input_dir, "long_60s.mp4", 60.0)
    windows_run = []

    def count_and_cancel(module, args):  # the MMDiT embeds the latent once per window
        if type(module).__name__ == "AudioEmbedder":
            windows_run.append(args[0].shape[-1])
            if len(windows_run) == 3:
                light.interrupt(True)

    hook = torch.nn.modules.module.register_module_forward_pre_hook(count_and_cancel)
    try:
        result = light.run(long_graph(name, steps=4))
    finally:
        hook.remove()
        light.interrupt(False)
    assert not result["success"]
    assert any(event == "execution_interrupted" for event, _ in result["messages"])
    assert len(windows_run) == 3  # stopped before the 4th of the step's 8 windows (60 s at 10 s / 2 s)
