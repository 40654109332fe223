"""Attention selection: the engine attends through PyTorch SDPA unless its caller sets another function on the model;
inside ComfyUI the MMDiT and the Synchformer attend through ComfyUI's optimized_attention (its --use-*-attention
flags and transformer_options overrides), with the step's transformer_options handed down the forward."""
import sys

import pytest
import torch
import torch.nn.functional as F

from fixture_utils import tensors
from foley_models import attention as engine_attention
from foley_models.mmdit import HunyuanVideoFoley
from graph import node


def _qkv(batch=2, heads=3, lq=7, lk=11, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, heads, lq, dim, generator=g), torch.randn(batch, heads, lk, dim, generator=g),
            torch.randn(batch, heads, lk, dim, generator=g))


def _attention_calls_per_forward(model):
    # every triple block attends twice (joint self-attention, text cross-attention), every single block once
    return 2 * len(model.triple_blocks) + len(model.single_blocks)


def _tiny_mmdit():
    torch.manual_seed(0)
    model = HunyuanVideoFoley(hidden_size=64, num_heads=2, depth_triple=2, depth_single=3, clip_dim=32, sync_dim=32,
                              text_dim=48).eval()
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    inputs = (torch.randn(1, 128, 40), torch.tensor([500.0]), torch.randn(1, 5, 48), torch.randn(1, 6, 32),
              torch.randn(1, 16, 32))
    return model, inputs


def test_engine_default_is_sdpa():
    q, k, v = _qkv()
    assert torch.equal(engine_attention.sdpa(q, k, v), F.scaled_dot_product_attention(q, k, v))
    model, _ = _tiny_mmdit()
    attending = [m for m in model.modules() if "attention_fn" in vars(m)]
    assert len(attending) == len(model.triple_blocks) + len(model.single_blocks)
    assert all(m.attention_fn is engine_attention.sdpa for m in attending)


def test_every_mmdit_attention_goes_through_the_set_function_with_the_callers_options():
    calls = []

    def recording(q, k, v, transformer_options=None):
        calls.append(transformer_options)
        return F.scaled_dot_product_attention(q, k, v)

    model, inputs = _tiny_mmdit()
    options = {"caller": "test"}
    with torch.no_grad():
        reference = model(*inputs)
        engine_attention.set_attention(model, recording)
        routed = model(*inputs, transformer_options=options)
        model(*inputs)
    per_forward = _attention_calls_per_forward(model)
    assert len(calls) == 2 * per_forward
    assert all(c is options for c in calls[:per_forward]) and all(c is None for c in calls[per_forward:])
    assert torch.equal(routed, reference)
    # set on this model only: a new one attends through SDPA again
    assert all(m.attention_fn is engine_attention.sdpa for m in _tiny_mmdit()[0].single_blocks)


# --- inside ComfyUI ---------------------------------------------------------------------------------------------

def _pack_comfy_model_module(model_patcher):
    """The pack's nodes.comfy_model (ComfyUI imports the pack under its own module name)."""
    return sys.modules[type(model_patcher.model.diffusion_model).__module__]


@pytest.fixture()
def attention_spy(comfyui, monkeypatch):
    """Every call of comfy.ldm.modules.attention.optimized_attention, recorded and passed on."""
    import comfy.ldm.modules.attention as comfy_attention

    calls = []
    original = comfy_attention.optimized_attention

    def spy(q, k, v, heads, **kwargs):
        calls.append(dict(shape=tuple(q.shape), heads=heads, **kwargs))
        return original(q, k, v, heads, **kwargs)

    monkeypatch.setattr(comfy_attention, "optimized_attention", spy)
    return calls


def _sample(model, steps=2):
    import comfy.sample

    run = tensors("mmdit_tiny", "sampling.safetensors")
    text = {"cond": run["text_feat"], "uncond": run["uncond_text_feat"]}
    visual = {"features": run["siglip2_feat"], "frames_25": 50, "start_time": 0.0}
    sync = {"features": run["syncformer_feat"], "frames_25": 50, "start_time": 0.0}
    positive, negative, latent = node(model.comfyui, "FoleyConditioning", text=text, visual=visual, sync=sync,
                                      batch_size=2)
    return comfy.sample.sample(model.patcher, run["initial_noise"], steps, 4.5, "euler", "simple", positive,
                               negative, latent["samples"], disable_pbar=True)


class _Loaded:
    def __init__(self, comfyui, weight_dtype="fp32"):
        self.comfyui = comfyui
        (self.patcher,) = node(comfyui, "FoleyModelLoader", file="hunyuanvideo_foley.pth", weight_dtype=weight_dtype)


def test_mmdit_attention_reaches_comfyui(comfyui, attention_spy):
    model = _Loaded(comfyui)
    comfy_attention = _pack_comfy_model_module(model.patcher).comfy_attention
    diffusion_model = model.patcher.model.diffusion_model
    assert all(b.attention_fn is comfy_attention for b in (*diffusion_model.triple_blocks, *diffusion_model.single_blocks))
    _sample(model, steps=2)
    per_forward = _attention_calls_per_forward(model.patcher.model.diffusion_model)
    assert attention_spy and len(attention_spy) % per_forward == 0
    assert all(c["skip_reshape"] and c["skip_output_reshape"] and len(c["shape"]) == 4 for c in attention_spy)
    # ComfyUI's transformer_options of the sampling step reach the attention call
    assert all("sigmas" in c["transformer_options"] for c in attention_spy)


def test_transformer_options_attention_override_applies(comfyui):
    model = _Loaded(comfyui)
    overridden = []

    def override(func, *args, **kwargs):
        overridden.append(func.__name__)
        return func(*args, **kwargs)

    model.patcher = model.patcher.clone()
    model.patcher.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = override
    _sample(model, steps=1)
    per_forward = _attention_calls_per_forward(model.patcher.model.diffusion_model)
    assert overridden and len(overridden) % per_forward == 0


def test_synchformer_attention_reaches_comfyui(comfyui, attention_spy):
    (synchformer,) = node(comfyui, "FoleySynchformerLoader", file="synchformer_state_dict.pth")
    (sync,) = node(comfyui, "FoleySyncEncode", synchformer=synchformer, video=None,
                   images=torch.rand(24, 48, 64, 3), fps=24.0)
    assert sync["features"].isfinite().all()
    assert attention_spy and all(c["skip_reshape"] for c in attention_spy)


def test_comfy_attention_matches_sdpa(comfyui):
    model = _Loaded(comfyui)
    comfy_attention = _pack_comfy_model_module(model.patcher).comfy_attention
    q, k, v = _qkv(lq=33, lk=77, dim=32, seed=3)
    out = comfy_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=1e-5)


# --- compute dtype defaults -------------------------------------------------------------------------------------

GPU = torch.device("cuda", 0)
XXL_PARAMS = 5_300_000_000


def _fake_gpu(monkeypatch, bf16, fp16, vram_gb):
    """ComfyUI's capability checks for a GPU with native bf16 / fp16 or not; where not native, ComfyUI still
    stores weights in that dtype (manual_cast=True) when fp32 weights would not fit (its own rule)."""
    import comfy.model_management as mm

    def check(native):
        def should_use(device=None, model_params=0, prioritize_performance=True, manual_cast=False):
            if device is not None and torch.device(device).type == "cpu":
                return False
            if native:
                return True
            return manual_cast and (not prioritize_performance or model_params * 4 > vram_gb * 2**30)
        return should_use

    monkeypatch.setattr(mm, "should_use_bf16", check(bf16))
    monkeypatch.setattr(mm, "should_use_fp16", check(fp16))
    monkeypatch.setattr(mm, "supports_fp8_compute", lambda device=None: False)
    monkeypatch.setattr(mm, "maximum_vram_for_weights", lambda device=None: vram_gb * 2**30)


@pytest.mark.parametrize("bf16, fp16, vram_gb, weight_dtype, stored, expected", [
    # Ampere and newer: bf16 weights, bf16 compute (the official dtype), whatever the file's dtype
    (True, True, 80, "default", torch.float32, (torch.bfloat16, None)),
    (True, True, 80, "default", torch.bfloat16, (torch.bfloat16, None)),
    (True, True, 24, "default", torch.float16, (torch.bfloat16, None)),
    (True, True, 24, "fp16", torch.bfloat16, (torch.float16, torch.bfloat16)),
    (True, True, 24, "fp8_e4m3fn", torch.bfloat16, (torch.float8_e4m3fn, torch.bfloat16)),
    # fp16 but no bf16 (Turing, Volta, MPS before macOS 14): never fp16 compute by default; fp32 compute
    # from fp32 weights where they fit, else from 16-bit weights (bf16, or the file's fp16: exact in fp32)
    (False, True, 48, "default", torch.bfloat16, (torch.float32, None)),
    (False, True, 11, "default", torch.bfloat16, (torch.bfloat16, torch.float32)),
    (False, True, 11, "default", torch.float32, (torch.bfloat16, torch.float32)),
    (False, True, 11, "default", torch.float16, (torch.float16, torch.float32)),
    (False, True, 11, "fp16", torch.bfloat16, (torch.float16, torch.float32)),
    (False, True, 11, "bf16", torch.bfloat16, (torch.bfloat16, torch.float32)),
    (False, True, 11, "fp8_e4m3fn", torch.bfloat16, (torch.float8_e4m3fn, torch.float32)),
])
def test_compute_dtype_defaults(comfyui, monkeypatch, bf16, fp16, vram_gb, weight_dtype, stored, expected):
    comfy_model = sys.modules[type(_Loaded(comfyui).patcher.model).__module__]
    _fake_gpu(monkeypatch, bf16, fp16, vram_gb)
    assert comfy_model.model_dtypes(weight_dtype, stored, XXL_PARAMS, GPU) == expected


def test_fp16_compute_only_when_asked_for(comfyui, monkeypatch):
    import comfy.model_management as mm

    comfy_model = sys.modules[type(_Loaded(comfyui).patcher.model).__module__]
    _fake_gpu(monkeypatch, bf16=False, fp16=True, vram_gb=11)
    monkeypatch.setattr(mm.args, "fp16_unet", True)
    assert comfy_model.model_dtypes("default", torch.bfloat16, XXL_PARAMS, GPU) == (torch.float16, None)
