"""ComfyUI plans VRAM with the model's memory_required(); it must cover the activations the MMDiT really makes."""
import pytest

from activation_peak import activation_peak_mb


@pytest.mark.parametrize("frames", [500, 752])
def test_memory_required_covers_the_counted_activation_peak(comfyui, monkeypatch, frames):
    import comfy.model_management as mm

    (model,) = comfyui.nodes.NODE_CLASS_MAPPINGS["FoleyModelLoader"].execute(
        file="hunyuanvideo_foley.pth", weight_dtype="bf16").result
    # at XXL width in the dtype the model computes in here (bf16 weights are cast to fp32 on a CPU), with CFG
    # (batch 2): 10 s and the official maximum of 15.04 s
    compute_dtype = model.model.manual_cast_dtype or model.model.get_dtype()
    counted_mb = activation_peak_mb(2, frames, compute_dtype)
    # the formula ComfyUI uses where flash attention is available (every CUDA GPU that runs this model)
    monkeypatch.setattr(mm, "pytorch_attention_flash_attention", lambda: True)
    required_mb = model.model.memory_required([2, 128, frames]) / 2**20
    # at least the live tensors; more than twice that would offload weights for nothing
    assert counted_mb <= required_mb <= 2 * counted_mb, (required_mb, counted_mb)
    # windows: a longer latent never needs more than the longest window
    assert model.model.memory_required([2, 128, 15000]) == model.model.memory_required([2, 128, 752])
