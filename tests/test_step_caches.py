"""The Foley MODEL behaves as core's diffusion models towards model extensions: its forward runs through the
DIFFUSION_MODEL wrappers (so core's EasyCache skips steps, as LazyCache does), blocks are replaceable through
transformer_options["patches_replace"]["dit"], and the step's transformer_options reach every attention call."""
import pytest
import torch

from fixture_utils import tensors
from graph import node, pack_module

STEPS = 20
SAMPLERS = ("FoleySampler", "KSampler", "SamplerCustomAdvanced")


def run_node(comfyui, node_id, **inputs):
    """Outputs of a node of either node API (V3 classes, or V1 classes with FUNCTION)."""
    cls = comfyui.nodes.NODE_CLASS_MAPPINGS[node_id]
    if hasattr(cls, "define_schema"):
        return node(comfyui, node_id, **inputs)
    return getattr(cls(), cls.FUNCTION)(**inputs)


@pytest.fixture(scope="module")
def foley(comfyui):
    """The tiny MMDiT (fp32) and a text + video conditioning of the golden sampling run."""
    run = tensors("mmdit_tiny", "sampling.safetensors")
    text = {"cond": run["text_feat"], "uncond": run["uncond_text_feat"]}
    visual = {"features": run["siglip2_feat"], "frames_25": 50, "start_time": 0.0}
    sync = {"features": run["syncformer_feat"], "frames_25": 50, "start_time": 0.0}
    positive, negative, latent = node(comfyui, "FoleyConditioning", text=text, visual=visual, sync=sync,
                                      batch_size=1)
    (model,) = node(comfyui, "FoleyModelLoader", file="hunyuanvideo_foley.pth", weight_dtype="fp32")
    return dict(model=model, positive=positive, negative=negative, latent=latent)


def sample(comfyui, foley, sampler, model=None, steps=STEPS):
    """The sampled latent [B, 128, L] of one run through `sampler`, seed 7, cfg 4.5, euler / simple."""
    model = model or foley["model"]
    common = dict(positive=foley["positive"], negative=foley["negative"], cfg=4.5)
    if sampler == "FoleySampler":
        (out,) = run_node(comfyui, "FoleySampler", model=model, latent=foley["latent"], seed=7, steps=steps,
                          sampler_name="euler", scheduler="simple", denoise=1.0, **common)
    elif sampler == "KSampler":
        (out,) = run_node(comfyui, "KSampler", model=model, latent_image=foley["latent"], seed=7, steps=steps,
                          sampler_name="euler", scheduler="simple", denoise=1.0, **common)
    else:
        (noise,) = run_node(comfyui, "RandomNoise", noise_seed=7)
        (guider,) = run_node(comfyui, "CFGGuider", model=model, **common)
        (euler,) = run_node(comfyui, "KSamplerSelect", sampler_name="euler")
        (sigmas,) = run_node(comfyui, "BasicScheduler", model=model, scheduler="simple", steps=steps, denoise=1.0)
        out, _ = run_node(comfyui, "SamplerCustomAdvanced", noise=noise, guider=guider, sampler=euler,
                          sigmas=sigmas, latent_image=foley["latent"])
    return out["samples"]


@pytest.fixture()
def evaluations(comfyui, monkeypatch):
    """Counts forward passes of the engine MMDiT (whatever wraps it): [count]."""
    engine = pack_module(comfyui, "foley_models.mmdit").HunyuanVideoFoley
    original = engine.forward
    count = [0]

    def counting(self, *args, **kwargs):
        count[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(engine, "forward", counting)
    return count


@pytest.fixture(scope="module")
def uncached_runs():
    return {}  # sampler -> (latent, model evaluations) of the run without a cache


@pytest.mark.parametrize("cache", ["EasyCache", "LazyCache"])
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_step_caches_skip_model_evaluations(comfyui, foley, evaluations, uncached_runs, cache, sampler):
    if sampler not in uncached_runs:
        uncached_runs[sampler] = sample(comfyui, foley, sampler), evaluations[0]
    uncached, uncached_evaluations = uncached_runs[sampler]
    # cond and uncond go through the model in one batch: one evaluation per step
    assert uncached_evaluations == STEPS
    (cached_model,) = run_node(comfyui, cache, model=foley["model"], reuse_threshold=3.0, start_percent=0.15,
                               end_percent=0.95, verbose=False)
    evaluations[0] = 0
    cached = sample(comfyui, foley, sampler, model=cached_model)
    assert evaluations[0] <= STEPS // 2, f"{cache} with {sampler}: {evaluations[0]} of {STEPS} steps evaluated"
    assert cached.shape == uncached.shape and cached.isfinite().all()
    assert not torch.equal(cached, uncached)  # the skipped steps reused the cached change instead


def test_a_diffusion_model_wrapper_sees_every_call_and_its_transformer_options(comfyui, foley, evaluations):
    import comfy.patcher_extension

    seen = []

    def wrapper(executor, *args, **kwargs):
        transformer_options = args[-1]
        seen.append((args[0].shape, sorted(transformer_options)))
        out = executor(*args, **kwargs)
        seen[-1] += (evaluations[0],)
        return out

    model = foley["model"].clone()
    model.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "test", wrapper)
    sample(comfyui, foley, "KSampler", model=model, steps=3)
    assert len(seen) == 3
    for i, (shape, keys, evaluated) in enumerate(seen):
        assert shape == (2, 128, foley["latent"]["samples"].shape[-1])  # cond and uncond
        assert {"sigmas", "uuids", "cond_or_uncond"} <= set(keys)
        assert evaluated == i + 1  # the model ran inside the wrapper


def _with_block_patches(model, patches):
    model = model.clone()
    for (block_type, index), patch in patches.items():
        model.set_model_patch_replace(patch, "dit", block_type, index)
    return model


def test_patches_replace_reaches_the_blocks(comfyui, foley):
    reference = sample(comfyui, foley, "KSampler", steps=2)
    calls = []

    def through_original(args, extra):
        calls.append((sorted(args), args["transformer_options"]["block_index"]))
        return extra["original_block"](args)

    diffusion_model = foley["model"].model.diffusion_model
    triple, single = len(diffusion_model.triple_blocks), len(diffusion_model.single_blocks)
    passed_on = _with_block_patches(foley["model"], {("double_block", 0): through_original,
                                                     ("double_block", triple - 1): through_original,
                                                     ("single_block", single - 1): through_original})
    # a replacement that calls the original block changes nothing
    assert torch.equal(sample(comfyui, foley, "KSampler", model=passed_on, steps=2), reference)
    assert len(calls) == 3 * 2
    assert calls[0] == (["img", "pe", "text_kv", "transformer_options", "txt", "vec", "visual", "visual_out"], 0)
    assert calls[2] == (["img", "pe", "transformer_options", "vec"], single - 1)

    # returning the inputs skips the block (core's SkipLayerGuidance does so)
    for key in (("double_block", 0), ("single_block", single - 1)):
        skipped = _with_block_patches(foley["model"], {key: lambda args, extra: args})
        out = sample(comfyui, foley, "KSampler", model=skipped, steps=2)
        assert out.isfinite().all() and not torch.equal(out, reference), key


def test_attention_gets_the_transformer_options_of_its_block(comfyui, foley):
    seen = []

    def override(func, *args, **kwargs):
        options = kwargs["transformer_options"]
        seen.append((options["block_type"], options["block_index"], "sigmas" in options))
        return func(*args, **kwargs)

    model = foley["model"].clone()
    model.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = override
    sample(comfyui, foley, "KSampler", model=model, steps=1)
    diffusion_model = model.model.diffusion_model
    # every triple block attends twice (joint self-attention, text cross-attention), every single block once
    expected = [("double", i, True) for i in range(len(diffusion_model.triple_blocks)) for _ in range(2)]
    expected += [("single", i, True) for i in range(len(diffusion_model.single_blocks))]
    assert seen == expected
