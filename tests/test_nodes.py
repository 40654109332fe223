"""The pack inside a real ComfyUI 0.3.75: workflows, parity through ComfyUI's sampler, errors, cancel."""
import json
import math
from pathlib import Path

import av
import pytest
import torch

from fixture_utils import assert_close, fixture_json, rel_l2_cosine, tensors
from foley_models import media
from make_media import make_video, probe_media
from graph import CLIP, node, with_ksampler

NODE_IDS = ["FoleyModelLoader", "FoleyVAELoader", "FoleyCLAPLoader", "FoleySigLIP2Loader", "FoleySynchformerLoader",
            "FoleyTextEncode", "FoleyVisualEncode", "FoleySyncEncode", "FoleyConditioning", "FoleySampler",
            "FoleyVAEDecode", "FoleyVAEEncode", "FoleyMuxVideo"]
WORKFLOWS = Path(__file__).resolve().parent / "workflows"  # API-format graphs the tests build on
WEIGHT_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp8_e4m3fn": torch.float8_e4m3fn}


def expected_samples(path):
    """Audio length the official rule gives for a file: frames picked at 25 fps -> latent frames -> samples."""
    with av.open(str(path)) as c:
        times = [f.time for f in c.decode(video=0)]
    return media.latent_length(len(media.frame_indices(times, 25))) * 960


def video_packets(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def workflow(name):
    """A shared workflow of workflows/ (API format), as users load it."""
    return json.loads((WORKFLOWS / name).read_text())


def foley_workflow(video, sampler="FoleySampler", steps=2, codec="aac", prompt="footsteps on gravel"):
    graph = workflow("video_to_foley_api.json")
    graph["1"]["inputs"]["file"] = video
    graph["7"]["inputs"]["prompt"] = prompt
    graph["11"]["inputs"].update(steps=steps, seed=7)
    graph["13"]["inputs"]["audio_codec"] = codec
    graph["14"]["inputs"]["filename_prefix"] = f"foley/{sampler}"
    return with_ksampler(graph) if sampler == "KSampler" else graph


def text_only_workflow(steps=6, duration=1.0):
    graph = workflow("text_to_audio_api.json")
    graph["10"]["inputs"]["duration"] = duration
    graph["11"]["inputs"].update(steps=steps, seed=1)
    return graph


@pytest.mark.parametrize("sampler", ["FoleySampler", "KSampler"])
def test_video_to_foley_to_saved_mp4(comfyui, comfy_input_dir, sampler):
    result = comfyui.run(foley_workflow(CLIP, sampler), keep_cache=True)
    assert result["success"], result["messages"]
    (saved,) = comfyui.output_files(result)
    info = probe_media(saved)
    assert info["audio"]["codec"] == "aac" and info["audio"]["channels"] == 2
    assert info["audio"]["duration_s"] == pytest.approx(expected_samples(comfy_input_dir / CLIP) / 48000, abs=0.03)
    assert video_packets(saved) == video_packets(comfy_input_dir / CLIP)  # stream copy, not re-encoded


def test_sampling_progress_is_reported_per_step(comfyui):
    result = comfyui.run(text_only_workflow(steps=5))
    assert result["success"], result["messages"]
    sampler_steps = [p["value"] for p in result["updates"] if p["node"] == "11"]
    assert sampler_steps == [1, 2, 3, 4, 5]
    shown = [p["value"] for p in result["progress"] if p["node"] == "11"]  # ComfyUI >= 0.9 throttles what is sent
    assert shown[0] == 1 and shown[-1] == 5 and shown == sorted(shown)
    (saved,) = comfyui.output_files(result)
    assert probe_media(saved)["audio"]["samples"] == media.latent_length(25) * 960  # 1.0 s -> 25 frames at 25 fps


def test_cancel_stops_sampling_within_one_step(comfyui):
    result = comfyui.run_with_interrupt_after(text_only_workflow(steps=8), 3)
    assert not result["success"]
    assert any(event == "execution_interrupted" for event, _ in result["messages"])
    assert max(p["value"] for p in result["updates"] if p["node"] == "11") <= 3


def test_comfy_sampler_reproduces_the_official_cfg_run(comfyui):
    import comfy.sample

    run = tensors("mmdit_tiny", "sampling.safetensors")
    (model,) = node(comfyui, "FoleyModelLoader", file="hunyuanvideo_foley.pth", weight_dtype="fp32")
    text = {"cond": run["text_feat"], "uncond": run["uncond_text_feat"]}
    visual = {"features": run["siglip2_feat"], "frames_25": 50, "start_time": 0.0}
    sync = {"features": run["syncformer_feat"], "frames_25": 50, "start_time": 0.0}  # 2.0 s: 100 latent frames
    positive, negative, latent = node(comfyui, "FoleyConditioning", text=text, visual=visual, sync=sync, batch_size=2)
    assert latent["samples"].shape == run["initial_noise"].shape
    final = comfy.sample.sample(model, run["initial_noise"], 8, 4.5, "euler", "simple", positive, negative,
                                latent["samples"], disable_pbar=True)
    assert_close(final, run["final_latent"], fixture_json("mmdit_tiny")["tolerances"]["sampling.final_latent"])


@pytest.mark.parametrize("weight_dtype, min_cosine", [("bf16", 0.999), ("fp16", 0.999), ("fp8_e4m3fn", 0.99)])
def test_narrow_weight_dtypes_stay_close_to_the_official_run(comfyui, weight_dtype, min_cosine):
    import comfy.sample

    run = tensors("mmdit_tiny", "sampling.safetensors")
    (model,) = node(comfyui, "FoleyModelLoader", file="hunyuanvideo_foley.pth", weight_dtype=weight_dtype)
    assert model.model.diffusion_model.audio_embedder.proj.weight.dtype == WEIGHT_DTYPES[weight_dtype]
    text = {"cond": run["text_feat"], "uncond": run["uncond_text_feat"]}
    visual = {"features": run["siglip2_feat"], "frames_25": 50, "start_time": 0.0}
    sync = {"features": run["syncformer_feat"], "frames_25": 50, "start_time": 0.0}
    positive, negative, latent = node(comfyui, "FoleyConditioning", text=text, visual=visual, sync=sync, batch_size=2)
    final = comfy.sample.sample(model, run["initial_noise"], 8, 4.5, "euler", "simple", positive, negative,
                                latent["samples"], disable_pbar=True)
    _, cosine = rel_l2_cosine(final, run["final_latent"])
    assert cosine >= min_cosine, cosine


def test_stock_custom_sampler_nodes_drive_the_model(comfyui):
    graph = text_only_workflow(steps=3)
    del graph["11"]
    graph.update({
        "20": {"class_type": "ModelSamplingSD3", "inputs": {"model": ["5", 0], "shift": 3.0}},
        "21": {"class_type": "CFGGuider", "inputs": {"model": ["20", 0], "positive": ["10", 0],
                                                     "negative": ["10", 1], "cfg": 4.5}},
        "22": {"class_type": "BasicScheduler", "inputs": {"model": ["20", 0], "scheduler": "simple", "steps": 3,
                                                          "denoise": 1.0}},
        "23": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "dpmpp_2m"}},
        "24": {"class_type": "RandomNoise", "inputs": {"noise_seed": 3}},
        "25": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["24", 0], "guider": ["21", 0],
                                                                 "sampler": ["23", 0], "sigmas": ["22", 0],
                                                                 "latent_image": ["10", 2]}},
    })
    graph["12"]["inputs"]["latent"] = ["25", 0]
    result = comfyui.run(graph)
    assert result["success"], result["messages"]
    (saved,) = comfyui.output_files(result)
    assert probe_media(saved)["audio"]["samples"] == media.latent_length(25) * 960


@pytest.mark.parametrize("fps, frames_25", [(12, 48), (24, 49), (25, 49), (30, 50)])
def test_image_batch_at_its_true_fps(comfyui, fps, frames_25):
    # 2 s of frames at `fps`; 25 fps ticks accumulate by float addition, so 25 fps gives 49 (not 50) frames
    (synchformer,) = node(comfyui, "FoleySynchformerLoader", file="synchformer_state_dict.pth")
    images = torch.rand(2 * fps, 48, 64, 3)
    (sync,) = node(comfyui, "FoleySyncEncode", synchformer=synchformer, images=images, fps=float(fps))
    assert sync["frames_25"] == frames_25 == len(media.image_sequence_indices(2 * fps, fps, 25))
    assert sync["features"].shape == (1, 8 * ((frames_25 - 16) // 8 + 1), 768)
    (clap,) = node(comfyui, "FoleyCLAPLoader", folder="larger_clap_general")
    (text,) = node(comfyui, "FoleyTextEncode", clap=clap, prompt="knock", negative_prompt="noisy, harsh")
    _, _, latent = node(comfyui, "FoleyConditioning", text=text, sync=sync)
    assert latent["samples"].shape[-1] == media.latent_length(frames_25) == 2 * frames_25


def test_text_only_conditioning_uses_learned_empty_features(comfyui):
    (clap,) = node(comfyui, "FoleyCLAPLoader", folder="larger_clap_general")
    (text,) = node(comfyui, "FoleyTextEncode", clap=clap, prompt="thunder", negative_prompt="")
    positive, negative, latent = node(comfyui, "FoleyConditioning", text=text, duration=3.0, batch_size=3)
    assert latent["samples"].shape == (3, 128, media.latent_length(75))
    assert positive[0][1]["clip_empty"].item() == 1 and positive[0][1]["sync_empty"].item() == 1
    assert negative[0][1]["clip_empty"].item() == 1 and negative[0][1]["sync_empty"].item() == 1
    assert positive[0][1]["clip_feat"].shape[1] == math.ceil(3.0 * 8)


def test_vae_encode_decode_round_trip_shapes(comfyui):
    (vae,) = node(comfyui, "FoleyVAELoader", file="vae_128d_48k.pth")
    t = torch.arange(44100) / 44100
    stereo = torch.stack([torch.sin(2 * math.pi * 220 * t), torch.sin(2 * math.pi * 330 * t)])[None] * 0.3
    (latent,) = node(comfyui, "FoleyVAEEncode", vae=vae, audio={"waveform": stereo, "sample_rate": 44100})
    assert latent["samples"].shape == (1, 128, 50)  # 1 s at 48 kHz -> 48000 / 960
    (audio,) = node(comfyui, "FoleyVAEDecode", vae=vae, latent=latent)
    assert audio["sample_rate"] == 48000 and audio["waveform"].shape == (1, 1, 48000)


def test_vae_encode_refuses_audio_with_nan_naming_how_much(comfyui):
    (vae,) = node(comfyui, "FoleyVAELoader", file="vae_128d_48k.pth")
    stereo = torch.zeros(1, 2, 96000)
    stereo[0, 1, 500:510] = float("nan")  # one channel: the mono mix would carry it into every sample after
    with pytest.raises(ValueError, match=r"FoleyVAEEncode: the audio has 10 non-finite samples \(NaN or infinity\) "
                                         r"of 192000, the first at sample 500"):
        node(comfyui, "FoleyVAEEncode", vae=vae, audio={"waveform": stereo, "sample_rate": 48000})


@pytest.mark.parametrize("codec, name", [("flac", "flac"), ("pcm", "pcm_s16le")])
def test_mux_codecs_survive_core_save_video(comfyui, comfy_input_dir, codec, name):
    from comfy_api.latest import InputImpl

    wave = torch.sin(torch.arange(96000) / 48000 * 2 * math.pi * 440)[None, None] * 0.2
    (video,) = node(comfyui, "FoleyMuxVideo", video=InputImpl.VideoFromFile(str(comfy_input_dir / CLIP)),
                    audio={"waveform": wave, "sample_rate": 48000}, batch_index=0, audio_codec=codec,
                    video_range="whole video")
    out = comfy_input_dir / f"saved_{codec}.mp4"
    video.save_to(str(out))  # what core SaveVideo does with format/codec "auto"
    info = probe_media(out)
    assert info["audio"]["codec"] == name and info["audio"]["samples"] == pytest.approx(96000, abs=1024)


def test_missing_model_file_names_folder_and_source(comfyui, models):
    with pytest.raises(FileNotFoundError) as e:
        node(comfyui, "FoleyVAELoader", file="vae_missing.pth")
    assert "vae_missing.pth" in str(e.value) and str(models) in str(e.value) and "huggingface.co" in str(e.value)
    with pytest.raises(FileNotFoundError, match="laion/larger_clap_general"):
        node(comfyui, "FoleyCLAPLoader", folder="clap_that_is_not_there")


def test_wrong_file_in_a_loader_says_what_it_is(comfyui):
    # the pack's copy of foley_models is imported under ComfyUI's module name, so match the base class
    with pytest.raises(ValueError, match="this is a checkpoint of the DAC VAE"):
        node(comfyui, "FoleyModelLoader", file="vae_128d_48k.pth", weight_dtype="default")


def test_bad_videos_fail_clearly(comfyui, tmp_path):
    from comfy_api.latest import InputImpl

    (synchformer,) = node(comfyui, "FoleySynchformerLoader", file="synchformer_state_dict.pth")
    long_clip = make_video(tmp_path / "long.mp4", n_frames=16 * 4, fps=4, width=32, height=32, with_audio=False)
    with pytest.raises(ValueError, match="no video frames in the window"):
        node(comfyui, "FoleySyncEncode", synchformer=synchformer, video=InputImpl.VideoFromFile(str(long_clip)),
             start_time=20.0)
    with pytest.raises(ValueError, match="start_time 20 s leaves nothing"):
        node(comfyui, "FoleySyncEncode", synchformer=synchformer, images=torch.zeros(64, 32, 32, 3), fps=4.0,
             start_time=20.0)
    short_clip = make_video(tmp_path / "short.mp4", n_frames=12, fps=24, width=32, height=32, with_audio=False)
    with pytest.raises(ValueError, match=r"at least 16 frames .* gives 12 frames \(0.48 s\)"):
        node(comfyui, "FoleySyncEncode", synchformer=synchformer, video=InputImpl.VideoFromFile(str(short_clip)))
    with pytest.raises(ValueError, match="0 frames"):
        node(comfyui, "FoleySyncEncode", synchformer=synchformer, images=torch.zeros(0, 32, 32, 3), fps=25.0)
    with pytest.raises(ValueError, match="fps must be > 0"):
        node(comfyui, "FoleySyncEncode", synchformer=synchformer, images=torch.zeros(20, 32, 32, 3), fps=0.0)


def test_visual_and_sync_of_different_clips_are_refused(comfyui):
    text = {"cond": torch.zeros(1, 4, 768), "uncond": torch.zeros(1, 4, 768)}
    visual = {"features": torch.zeros(1, 16, 768), "frames_25": 50, "start_time": 0.0}
    sync = {"features": torch.zeros(1, 16, 768), "frames_25": 29, "start_time": 0.0}
    with pytest.raises(ValueError, match="same clip"):
        node(comfyui, "FoleyConditioning", text=text, visual=visual, sync=sync)


def test_object_info_lists_every_node(models, comfy_server):
    info = comfy_server.object_info()
    for node_id in NODE_IDS:
        assert info[node_id]["category"] == "audio/foley", node_id
    # checkpoints are listed, the files inside the Hugging Face folders are not
    files = info["FoleyModelLoader"]["input"]["required"]["file"][1]["options"]
    assert {"hunyuanvideo_foley.pth", "vae_128d_48k.pth", "synchformer_state_dict.pth"} <= set(files)
    assert not [f for f in files if "larger_clap_general" in f or "siglip2" in f]
    assert info["FoleyCLAPLoader"]["input"]["required"]["folder"][1]["options"] == ["larger_clap_general"]
    assert info["FoleySigLIP2Loader"]["input"]["required"]["folder"][1]["options"] == ["siglip2-base-patch16-512"]
    sampler = info["FoleySampler"]["input"]["required"]
    assert sampler["steps"][1]["default"] == 50 and sampler["cfg"][1]["default"] == 4.5
    assert info["FoleyTextEncode"]["input"]["required"]["negative_prompt"][1]["default"] == "noisy, harsh"
    assert info["FoleyConditioning"]["output"] == ["CONDITIONING", "CONDITIONING", "LATENT"]
    assert info["FoleyVAEDecode"]["output"] == ["AUDIO"] and info["FoleyMuxVideo"]["output"] == ["VIDEO"]


def test_server_runs_a_text_only_workflow(models, comfy_server):
    result = comfy_server.run(text_only_workflow(steps=2, duration=0.8))
    assert result["success"], result
    (saved,) = comfy_server.output_files(result)
    assert probe_media(saved)["audio"]["samples"] == media.latent_length(20) * 960


def test_encoders_are_managed_by_comfy_model_management(comfyui):
    import comfy.model_management as mm
    import comfy.model_patcher

    (clap,) = node(comfyui, "FoleyCLAPLoader", folder="larger_clap_general")
    (vae,) = node(comfyui, "FoleyVAELoader", file="vae_128d_48k.pth")
    assert isinstance(clap, comfy.model_patcher.ModelPatcher) and isinstance(vae, comfy.model_patcher.ModelPatcher)
    node(comfyui, "FoleyTextEncode", clap=clap, prompt="glass breaking", negative_prompt="noisy, harsh")
    assert any(m.model is clap for m in mm.current_loaded_models)  # loaded through load_models_gpu
    mm.unload_all_models()
    assert not any(m.model is clap for m in mm.current_loaded_models)


def test_weight_patches_apply_to_the_model(comfyui):
    """LoRA-style ModelPatcher patches reach the MMDiT: +0.5 on the output bias shifts the velocity by
    0.5 in both CFG branches, so one Euler step from sigma 1 to 0 lands exactly 0.5 lower."""
    import comfy.sample

    run = tensors("mmdit_tiny", "sampling.safetensors")
    (model,) = node(comfyui, "FoleyModelLoader", file="hunyuanvideo_foley.pth", weight_dtype="fp32")
    text = {"cond": run["text_feat"], "uncond": run["uncond_text_feat"]}
    sync = {"features": run["syncformer_feat"], "frames_25": 50, "start_time": 0.0}
    positive, negative, latent = node(comfyui, "FoleyConditioning", text=text, sync=sync, batch_size=2)

    def sample(m):
        return comfy.sample.sample(m, run["initial_noise"], 1, 4.5, "euler", "simple", positive, negative,
                                   latent["samples"], disable_pbar=True)

    patched = model.clone()
    patched.add_patches({"diffusion_model.final_layer.linear.bias": (torch.full((128,), 0.5),)}, 1.0)
    torch.testing.assert_close(sample(patched) - sample(model), torch.full_like(run["final_latent"], -0.5),
                               atol=1e-4, rtol=0)


def test_the_foley_model_folder_is_registered_with_extra_model_paths(comfy_inproc, foley_models_dir):
    (foley_models_dir / "foley" / "registered_probe.safetensors").write_bytes(b"\0")
    try:
        assert str(foley_models_dir / "foley") in comfy_inproc.folder_paths.get_folder_paths("foley")
        assert "registered_probe.safetensors" in comfy_inproc.folder_paths.get_filename_list("foley")
    finally:
        (foley_models_dir / "foley" / "registered_probe.safetensors").unlink()
