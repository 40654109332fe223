"""A reference sound in context (foley_models/reference.py): before every window, noised to each step like an
inpainting region, with "no video" features at the window's own rates, and never in the output; through the
engine and through core ReferenceLatent in the real ComfyUI."""
import logging
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from graph import node
from make_media import make_video
from tiny_models import random_mmdit
from uncached import Uncached

from foley_models import reference
from foley_models.sampling import sample_euler_cfg
from foley_models.windows import WindowedMMDiT, clip_slice, sync_slice, window_spans

EXAMPLE_REFERENCE = Path(__file__).resolve().parent.parent / "example_media" / "foley_reference_metal.flac"


def _model(seed=0):
    return random_mmdit(depth_triple=1, depth_single=1, seed=seed)


def _features(frames, seed=1):
    """text, negative text, SigLIP2 (8 fps), Synchformer (official segment count) for a clip of `frames`."""
    g = torch.Generator().manual_seed(seed)
    n25 = frames // 2
    return (torch.randn(1, 7, 48, generator=g), torch.randn(1, 7, 48, generator=g),
            torch.randn(1, -(-frames * 8 // 50), 32, generator=g),
            torch.randn(1, 8 * max(1, (n25 - 16) // 8 + 1), 32, generator=g))


class Spy(torch.nn.Module):
    """The model, recording every call's inputs and output."""

    def __init__(self, model):
        super().__init__()
        self.model, self.calls = model, []

    def forward(self, x, t, text, clip, sync):
        v = self.model(x, t, text, clip, sync)
        self.calls.append({"x": x.clone(), "t": t.clone(), "clip": clip.clone(), "sync": sync.clone(), "v": v})
        return v

    def empty_clip(self, batch, length):
        return self.model.empty_clip(batch, length)

    def empty_sync(self, batch, length):
        return self.model.empty_sync(batch, length)

    def cached_conditions(self):
        return self.model.cached_conditions()


def _noise_of(prefix, ref, sigma):
    """The noise n with prefix = (1 - sigma) * ref + sigma * n."""
    return (prefix.double() - (1 - sigma) * ref.double()) / sigma


def test_every_window_sees_the_reference_noised_to_the_step_and_never_returns_it():
    frames, steps = 1400, 3  # 28 s: several 10 s windows
    spy = Spy(_model())
    ref = torch.randn(1, 128, 150, generator=torch.Generator().manual_seed(5))  # 3 s
    text, neg, clip, sync = _features(frames)
    noise = torch.randn(1, 128, frames, generator=torch.Generator().manual_seed(2))
    out = sample_euler_cfg(WindowedMMDiT(spy, references=[ref]), noise, text, neg, clip, sync, steps=steps)
    spans = window_spans(frames, 500, 100)  # tests/test_windows.py
    assert out.shape == noise.shape and len(spans) >= 3
    assert len(spy.calls) == steps * len(spans)
    sigmas = [1 - i / steps for i in range(steps)]  # the official linspace(1, 0) schedule
    fixed_noise = None
    for i, call in enumerate(spy.calls):
        sigma, (start, end) = sigmas[i // len(spans)], spans[i % len(spans)]
        torch.testing.assert_close(call["t"], torch.full((2,), 1000 * sigma))  # [uncond; cond]
        lr = call["x"].shape[-1] - (end - start)
        assert 0 < lr <= 150
        # the window's own part: its own latent slice and features, after the reference's
        own_clip = clip[:, clip_slice((start, end), clip.shape[1])]
        own_sync = sync[:, sync_slice((start, end), sync.shape[1])]
        lc, ls = call["clip"].shape[1] - own_clip.shape[1], call["sync"].shape[1] - own_sync.shape[1]
        assert torch.equal(call["clip"][1:, lc:], own_clip) and torch.equal(call["sync"][1:, ls:], own_sync)
        assert torch.equal(call["clip"][:, :lc], spy.empty_clip(2, lc).expand(2, -1, -1))
        assert torch.equal(call["sync"][:, :ls], spy.empty_sync(2, ls).expand(2, -1, -1))
        # the reference part: its first lr frames at this step's sigma, with one noise for every step and window
        n = _noise_of(call["x"][:, :, :lr], ref[..., :lr], sigma)
        if fixed_noise is None:
            fixed_noise = n[:1]
            assert abs(fixed_noise.mean()) < 0.05 and abs(fixed_noise.std() - 1) < 0.05  # really a noise
        torch.testing.assert_close(n, fixed_noise[..., :lr].expand_as(n), atol=1e-4, rtol=0)
    # a 10 s window with a reference of whole seconds: all of it, 24 tokens and 8 SigLIP2 frames per second
    first = spy.calls[0]
    assert (first["x"].shape[-1], first["sync"].shape[1], first["clip"].shape[1]) == (500 + 150, 240 + 72, 80 + 24)


def test_the_single_window_output_is_the_models_without_the_reference_part():
    frames = 250
    spy = Spy(_model())
    ref = torch.randn(1, 128, 100, generator=torch.Generator().manual_seed(5))
    text, _, clip, sync = _features(frames)
    x = torch.randn(1, 128, frames)
    wrapped = WindowedMMDiT(spy, references=[ref])
    with torch.no_grad():
        v = wrapped(x, torch.tensor([700.0]), text, clip, sync)
        wrapped(x, torch.tensor([200.0]), text, clip, sync)
    call, later = spy.calls
    lr = call["x"].shape[-1] - frames
    assert v.shape == x.shape and torch.equal(v, call["v"][..., lr:])
    assert torch.equal(call["x"][..., lr:], x)
    # the reference mixed with one and the same noise at sigma 0.7 and 0.2
    torch.testing.assert_close(_noise_of(call["x"][..., :lr], ref[..., :lr], 0.7),
                               _noise_of(later["x"][..., :lr], ref[..., :lr], 0.2), atol=1e-5, rtol=0)


@pytest.mark.parametrize("length", [250, 400, 500, 510, 515, 752, 96])
@pytest.mark.parametrize("reference_frames", [200, 150, 73])
def test_the_window_keeps_its_own_features_on_its_own_frames(length, reference_frames):
    """The model stretches the features over the whole latent (nearest-exact, mmdit.py); with the prefix the
    window's frames must get the features they get alone, give or take one Synchformer token / SigLIP2 frame."""
    n25 = length // 2
    sync_len, clip_len = 8 * max(1, (n25 - 16) // 8 + 1), -(-length * 8 // 50)
    lr, ls, lc = reference.prefix_lengths(reference_frames, length, sync_len, clip_len)
    assert lr <= reference_frames and ls % 8 == 0

    def source(n_in, n_out):
        return F.interpolate(torch.arange(n_in, dtype=torch.float32)[None, None], size=n_out,
                             mode="nearest-exact")[0, 0].long()

    for own, prefix in ((sync_len, ls), (clip_len, lc)):
        alone = source(own, length)
        together = source(prefix + own, lr + length)[lr:] - prefix
        assert (together - alone).abs().max() <= 1, (own, prefix)


def test_two_references_chain_in_order_and_a_long_one_is_cut_with_a_warning(caplog):
    a = torch.randn(1, 128, 100)
    b = torch.randn(1, 128, 50)
    assert torch.equal(reference.join_references([a, b]), torch.cat([a, b], -1))
    long = torch.randn(1, 128, 300)  # 6 s
    with caplog.at_level(logging.WARNING):
        cut = reference.join_references([a, long])
    assert torch.equal(cut, torch.cat([a, long], -1)[..., :200])
    assert "8.00 s" in caplog.text and "4.00 s" in caplog.text and "cost" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        reference.join_references([a, b])
    assert caplog.text == ""


@pytest.mark.parametrize("latents, message", [
    ([torch.randn(1, 16, 8, 8)], r"shape \(1, 16, 8, 8\): not an audio latent.*128 channels.*FoleyVAEEncode"),
    ([torch.randn(1, 128, 100), torch.randn(1, 64, 100)],
     r"\(1, 64, 100\): a latent of another audio VAE \(64 channels.*128 channels.*FoleyVAEEncode"),
    ([torch.randn(2, 64, 100)], "64 channels"),
    ([torch.randn(128, 100)], "not an audio latent"),
    ([torch.randn(2, 128, 100), torch.randn(3, 128, 100)], "batch sizes"),
    ([torch.randn(1, 128, 10)], "at least 0.50 s"),
    ([], "no reference"),
])
def test_bad_references_are_refused_with_the_cause(latents, message):
    with pytest.raises(ValueError, match=message):
        reference.join_references(latents)


def test_the_engine_refuses_a_latent_of_another_vae_before_sampling():
    with pytest.raises(ValueError, match="64 channels.*FoleyVAEEncode"):
        WindowedMMDiT(_model(), references=[torch.randn(1, 64, 100)])


def test_a_reference_per_batch_item_goes_with_its_item_in_both_guidance_branches():
    """sample_euler_cfg calls the model on [uncond; cond] (2B items): each half gets the B references in order."""
    frames, steps = 700, 3  # two 10 s windows
    g = torch.Generator().manual_seed(5)
    refs = torch.randn(2, 128, 100, generator=g)
    noise = torch.randn(2, 128, frames, generator=g)
    text, neg, clip, sync = _features(frames)
    spy = Spy(_model())
    out = sample_euler_cfg(WindowedMMDiT(spy, references=[refs]), noise, text, neg, clip, sync, steps=steps)
    spans = window_spans(frames, 500, 100)
    assert len(spans) == 2 and len(spy.calls) == steps * len(spans)
    for i, call in enumerate(spy.calls):
        sigma, (start, end) = 1 - (i // len(spans)) / steps, spans[i % len(spans)]
        lr = call["x"].shape[-1] - (end - start)
        assert call["x"].shape[0] == 4 and 0 < lr <= 100
        # at sigma 1 the prefix is the fixed noise alone, the same for every item
        fixed_noise = spy.calls[i % len(spans)]["x"][:1, :, :lr].double()
        expected = (1 - sigma) * refs[[0, 1, 0, 1], :, :lr].double() + sigma * fixed_noise
        torch.testing.assert_close(call["x"][:, :, :lr].double(), expected, atol=1e-5, rtol=0)
    # the same as sampling each item alone with its own reference
    for k in range(2):
        alone = sample_euler_cfg(WindowedMMDiT(spy.model, references=[refs[k:k + 1]]), noise[k:k + 1], text, neg,
                                 clip, sync, steps=steps)
        torch.testing.assert_close(out[k:k + 1], alone, atol=1e-4, rtol=1e-4)
    assert (out[0] - out[1]).abs().mean() > 1e-3


def test_a_reference_batch_that_does_not_match_the_latent_batch_is_refused():
    frames = 250
    text, neg, clip, sync = _features(frames)
    wrapped = WindowedMMDiT(_model(), references=[torch.randn(2, 128, 100)])
    with pytest.raises(ValueError, match="the reference has 2 items for a model batch of 6"):
        sample_euler_cfg(wrapped, torch.randn(3, 128, frames), text, neg, clip, sync, steps=1)


class ConditionCounter:
    """How often the model computes each condition (text and video projections), as tests/test_conditions_cache.py
    counts them."""

    def __init__(self, model):
        self.calls = {}
        for name in ("cond_in", "visual_proj", "sync_in"):
            getattr(model, name).register_forward_hook(self._count(name))

    def _count(self, name):
        def hook(*_):
            self.calls[name] = self.calls.get(name, 0) + 1
        return hook


@pytest.mark.parametrize("seconds, windows", [(2, 1), (14, 3)])
def test_with_a_reference_sampling_computes_the_conditions_once_per_window(seconds, windows):
    model = _model()
    frames = 50 * seconds
    text, neg, clip, sync = _features(frames)
    noise = torch.randn(1, 128, frames, generator=torch.Generator().manual_seed(2))
    wrapped = WindowedMMDiT(model, window=300, overlap=60, references=[torch.randn(1, 128, 100)])
    assert len(window_spans(frames, 300, 60)) == windows
    counter = ConditionCounter(model)
    plain = sample_euler_cfg(Uncached(wrapped), noise, text, neg, clip, sync, steps=4)
    assert counter.calls == {"cond_in": 4 * windows, "visual_proj": 4 * windows, "sync_in": 4 * windows}
    counter.calls.clear()
    cached = sample_euler_cfg(wrapped, noise, text, neg, clip, sync, steps=4)
    assert torch.equal(cached, plain)
    assert counter.calls == {"cond_in": 1, "visual_proj": windows, "sync_in": windows}
    assert model._conditions_cache is None and wrapped._prefixed is None  # nothing kept after the run


def test_without_a_reference_the_windowed_model_is_unchanged():
    model = _model()
    text, neg, clip, sync = _features(1400)
    noise = torch.randn(1, 128, 1400, generator=torch.Generator().manual_seed(2))
    plain = sample_euler_cfg(WindowedMMDiT(model), noise, text, neg, clip, sync, steps=2)
    referenced = sample_euler_cfg(WindowedMMDiT(model, references=[torch.randn(1, 128, 100)]), noise, text, neg,
                                  clip, sync, steps=2)
    assert (plain - referenced).abs().mean() > 1e-4  # a reference changes the result
    assert torch.equal(sample_euler_cfg(WindowedMMDiT(model, references=None), noise, text, neg, clip, sync,
                                        steps=2), plain)


# ---- through the real ComfyUI: FoleyVAEEncode -> core ReferenceLatent -> KSampler / FoleySampler ----

class ModelInputs:
    """Per MMDiT forward of a loaded Foley MODEL: t, the latent, Synchformer tokens and SigLIP2 frames it got."""

    def __init__(self, model):
        dit = model.model.diffusion_model
        self.calls = []
        self.watched = [(dit.time_in, "t"), (dit.sync_in, "sync"), (dit.visual_proj, "clip"),
                        (dit.audio_embedder, "x")]
        self.hooks = []

    def __enter__(self):
        def recorder(key):
            def record(module, args):
                if key == "t":
                    self.calls.append({"t": args[0].detach().float().cpu()})
                elif key == "x":
                    self.calls[-1]["x"] = args[0].detach().float().cpu()
                else:
                    self.calls[-1][key] = args[0].shape[1]
            return record
        self.hooks = [module.register_forward_pre_hook(recorder(key)) for module, key in self.watched]
        return self

    def __exit__(self, *exc):
        for hook in self.hooks:
            hook.remove()


def _silent_clip(folder, seconds):
    """A small silent 25 fps clip of `seconds` in ComfyUI's input folder (made once per session)."""
    path = folder / f"reference_{seconds}s.mp4"
    if not path.exists():
        make_video(path, n_frames=25 * seconds, fps=25, width=32, height=24, with_audio=False)
    return path


@pytest.fixture(scope="module")
def ten_seconds(comfyui, comfy_input_dir):
    return _silent_clip(comfy_input_dir, 10)


@pytest.fixture(scope="module")
def four_seconds(comfyui, comfy_input_dir):
    return _silent_clip(comfy_input_dir, 4)


def _reference_audio(seconds, seed):
    g = torch.Generator().manual_seed(seed)
    return {"waveform": 0.2 * torch.randn(1, 1, int(seconds * 48000), generator=g), "sample_rate": 48000}


@pytest.fixture(scope="module")
def ten_seconds_setup(comfyui, ten_seconds):
    """(model, vae, positive, negative, latent) of the 10 s clip, encoded once for the module (the Synchformer on
    250 frames is most of a test's time); the tests only read them."""
    return _setup(comfyui, ten_seconds)


def _setup(comfyui, video):
    from comfy_api.latest import InputImpl

    (clap,) = node(comfyui, "FoleyCLAPLoader", folder="larger_clap_general")
    (sync_model,) = node(comfyui, "FoleySynchformerLoader", file="synchformer_state_dict.pth")
    (siglip,) = node(comfyui, "FoleySigLIP2Loader", folder="siglip2-base-patch16-512")
    (model,) = node(comfyui, "FoleyModelLoader", file="hunyuanvideo_foley.pth", weight_dtype="fp32")
    (vae,) = node(comfyui, "FoleyVAELoader", file="vae_128d_48k.pth")
    (text,) = node(comfyui, "FoleyTextEncode", clap=clap, prompt="footsteps", negative_prompt="noisy, harsh")
    clip = InputImpl.VideoFromFile(str(video))
    (sync,) = node(comfyui, "FoleySyncEncode", synchformer=sync_model, video=clip, fps=25.0, start_time=0.0,
                   duration=0.0)
    (visual,) = node(comfyui, "FoleyVisualEncode", siglip2=siglip, video=clip, fps=25.0, start_time=0.0,
                     duration=0.0)
    positive, negative, latent = node(comfyui, "FoleyConditioning", text=text, visual=visual, sync=sync,
                                      duration=0.0, batch_size=1)
    return model, vae, positive, negative, latent


def _with_reference(comfyui, conditioning, latent):
    return comfyui.nodes.NODE_CLASS_MAPPINGS["ReferenceLatent"].execute(conditioning=conditioning,
                                                                        latent=latent).result[0]


def _ksampler(comfyui, model, positive, negative, latent, steps=3):
    return comfyui.nodes.KSampler().sample(model, 7, steps, 4.5, "euler", "simple", positive, negative, latent)[0]


def test_core_reference_latent_puts_the_reference_before_the_clip_at_every_step(comfyui, ten_seconds_setup):
    model, vae, positive, negative, latent = ten_seconds_setup
    (ref,) = node(comfyui, "FoleyVAEEncode", vae=vae, audio=_reference_audio(2.0, 1))
    assert ref["samples"].shape[-1] == 100
    length = latent["samples"].shape[-1]
    assert length == 500
    with ModelInputs(model) as plain_inputs:
        plain = _ksampler(comfyui, model, positive, negative, latent)["samples"]
    with ModelInputs(model) as both_inputs:
        both = _ksampler(comfyui, model, _with_reference(comfyui, positive, ref),
                         _with_reference(comfyui, negative, ref), latent)["samples"]
    with ModelInputs(model) as positive_inputs:
        positive_only = _ksampler(comfyui, model, _with_reference(comfyui, positive, ref), negative, latent)["samples"]
    # the result keeps the clip's length and changes with the reference
    assert plain.shape == both.shape == positive_only.shape == latent["samples"].shape
    assert (both - plain).abs().mean() > 1e-3 and (positive_only - plain).abs().mean() > 1e-3
    assert all(c["x"].shape[-1] == length and c["sync"] == 240 and c["clip"] == 80 for c in plain_inputs.calls)
    # on both conditionings: one batch of [cond, uncond] per step, each with 2 s (100 frames, 48 tokens, 16 frames)
    assert [c["x"].shape for c in both_inputs.calls] == [(2, 128, length + 100)] * 3
    assert all(c["sync"] == 240 + 48 and c["clip"] == 80 + 16 for c in both_inputs.calls)
    # on the positive only: the two branches are no longer one batch; the negative's has no reference
    assert sorted(c["x"].shape[-1] for c in positive_inputs.calls) == [length] * 3 + [length + 100] * 3
    (sigmas,) = comfyui.nodes.NODE_CLASS_MAPPINGS["BasicScheduler"].execute(model=model, scheduler="simple", steps=3,
                                                                            denoise=1.0).result
    fixed_noise = None
    for sigma, call in zip(sigmas[:-1].tolist(), both_inputs.calls):
        torch.testing.assert_close(call["t"], torch.full((2,), 1000 * sigma))
        n = _noise_of(call["x"][..., :100], ref["samples"], sigma)
        fixed_noise = n if fixed_noise is None else fixed_noise
        torch.testing.assert_close(n, fixed_noise, atol=1e-4, rtol=0)


def test_two_chained_reference_latents_join_and_the_cost_is_per_window(comfyui, ten_seconds_setup):
    model, vae, positive, negative, latent = ten_seconds_setup
    (first,) = node(comfyui, "FoleyVAEEncode", vae=vae, audio=_reference_audio(1.0, 1))
    (second,) = node(comfyui, "FoleyVAEEncode", vae=vae, audio=_reference_audio(2.0, 2))
    chained = _with_reference(comfyui, _with_reference(comfyui, positive, first), second)
    with ModelInputs(model) as inputs:
        _ksampler(comfyui, model, chained, negative, latent, steps=2)
    at_noise, at_step = [c for c in inputs.calls if c["x"].shape[-1] != 500]
    assert (at_step["x"].shape[-1], at_step["sync"], at_step["clip"]) == (500 + 150, 240 + 72, 80 + 24)
    # in order: the first reference, then the second (noise alone at sigma 1, then its fixed mix)
    sigma = at_step["t"][0].item() / 1000
    joined = torch.cat([first["samples"], second["samples"]], -1)
    torch.testing.assert_close(at_step["x"][..., :150], (1 - sigma) * joined + sigma * at_noise["x"][..., :150],
                               atol=1e-4, rtol=0)
    # windows of 5.12 s: each of the clip's windows carries the same 3 s, cut to whole segments at its rates
    windowing = comfyui.nodes.NODE_CLASS_MAPPINGS["FoleyWindowing"].execute(model=model, window_seconds=5.12,
                                                                           overlap_seconds=1.28).result[0]
    with ModelInputs(model) as inputs:
        out = _ksampler(comfyui, windowing, chained, negative, latent, steps=1)["samples"]
    assert out.shape == latent["samples"].shape
    spans = window_spans(500, 256, 64)
    referenced = [c for c in inputs.calls if c["x"].shape[-1] not in [e - s for s, e in spans]]
    assert len(referenced) == len(spans) >= 2
    for call, (start, end) in zip(referenced, spans):
        assert 0 < call["x"].shape[-1] - (end - start) <= 150
        torch.testing.assert_close(call["x"][..., :100], referenced[0]["x"][..., :100])


def test_without_reference_latent_the_sampling_is_unchanged(comfyui, ten_seconds_setup):
    model, _, positive, negative, latent = ten_seconds_setup
    plain = node(comfyui, "FoleySampler", model=model, positive=positive, negative=negative, latent=latent, seed=3,
                 steps=2, cfg=4.5, sampler_name="euler", scheduler="simple", denoise=1.0)[0]["samples"]
    passed = node(comfyui, "FoleySampler", model=model, positive=_with_reference(comfyui, positive, None),
                  negative=negative, latent=latent, seed=3, steps=2, cfg=4.5, sampler_name="euler",
                  scheduler="simple", denoise=1.0)[0]["samples"]
    assert torch.equal(plain, passed)


def test_the_example_reference_through_a_graph(comfyui, comfy_input_dir, four_seconds):
    """LoadAudio of the shipped example -> FoleyVAEEncode -> ReferenceLatent on both -> FoleySampler."""
    import json

    assert (comfy_input_dir / EXAMPLE_REFERENCE.name).is_file()  # copied at start-up (nodes/example_clips.py)
    graph = json.loads((Path(__file__).resolve().parent / "workflows" / "video_to_foley_api.json").read_text())
    graph["1"]["inputs"]["file"] = four_seconds.name
    graph["11"]["inputs"].update(steps=2, seed=3)
    for node_id in ("12", "13", "14"):
        del graph[node_id]
    graph["90"] = {"class_type": "FoleyVAEDecode", "inputs": {"vae": ["6", 0], "latent": ["11", 0]}}
    graph["91"] = {"class_type": "PreviewAudio", "inputs": {"audio": ["90", 0]}}
    plain = comfyui.run(graph)
    graph["30"] = {"class_type": "LoadAudio", "inputs": {"audio": EXAMPLE_REFERENCE.name}}
    graph["31"] = {"class_type": "FoleyVAEEncode", "inputs": {"vae": ["6", 0], "audio": ["30", 0]}}
    graph["32"] = {"class_type": "ReferenceLatent", "inputs": {"conditioning": ["10", 0], "latent": ["31", 0]}}
    graph["33"] = {"class_type": "ReferenceLatent", "inputs": {"conditioning": ["10", 1], "latent": ["31", 0]}}
    graph["11"]["inputs"].update(positive=["32", 0], negative=["33", 0])
    lengths = []

    def record(module, args):  # the MMDiT embeds its whole input latent once per forward
        if type(module).__name__ == "AudioEmbedder":
            lengths.append(args[0].shape[-1])

    hook = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        referenced = comfyui.run(graph)
    finally:
        hook.remove()
    assert plain["success"] and referenced["success"], referenced["messages"]
    # 2 steps of one [cond, uncond] batch, each with the 4 s clip and the 3 s reference before it, shortened by at
    # most a Synchformer segment's 16 frames to keep the features on the clip's rates (all of it at 10 s: above)
    assert len(lengths) == 2 and lengths[0] == lengths[1] and 200 + 150 - 16 <= lengths[0] <= 200 + 150, lengths
    from make_media import read_audio
    (a,), (b,) = comfyui.output_files(plain), comfyui.output_files(referenced)
    first, second = read_audio(a)[0], read_audio(b)[0]
    assert first.shape == second.shape and abs(first - second).mean() > 1e-4


@pytest.mark.parametrize("latent_node, inputs, cause", [
    ("EmptyLatentAudio", {"seconds": 2.0, "batch_size": 1}, "a latent of another audio VAE (64 channels"),
    ("EmptyLatentImage", {"width": 64, "height": 64, "batch_size": 1}, "not an audio latent"),
])
def test_core_reference_latent_of_another_model_is_refused_with_the_fix(comfyui, four_seconds, latent_node, inputs,
                                                                        cause):
    import json

    graph = json.loads((Path(__file__).resolve().parent / "workflows" / "video_to_foley_api.json").read_text())
    graph["1"]["inputs"]["file"] = four_seconds.name
    graph["11"]["inputs"].update(steps=1, seed=3)
    graph["30"] = {"class_type": latent_node, "inputs": inputs}
    graph["32"] = {"class_type": "ReferenceLatent", "inputs": {"conditioning": ["10", 0], "latent": ["30", 0]}}
    graph["11"]["inputs"]["positive"] = ["32", 0]
    result = comfyui.run(graph)
    assert result["valid"] and not result["success"]
    (error,) = [data for event, data in result["messages"] if event == "execution_error"]
    assert error["node_type"] == "FoleySampler" and error["exception_type"] == "ValueError"
    assert cause in error["exception_message"]
    assert "Foley latent [batch, 128 channels, frames]" in error["exception_message"]
    assert "FoleyVAEEncode" in error["exception_message"]
