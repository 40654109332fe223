"""The MMDiT as a ComfyUI MODEL (flow matching, 1-D 128-channel latent) and ModelPatcher helpers for the encoders."""
import torch

import comfy.conds
import comfy.latent_formats
import comfy.model_base
import comfy.model_management as mm
import comfy.model_patcher
import comfy.supported_models_base

from ..foley_models.loading import check_state_dict, expect_checkpoint, read_checkpoint
from ..foley_models.mmdit import HunyuanVideoFoley, mmdit_config_from_state_dict

WEIGHT_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32,
                 "fp8_e4m3fn": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2}
COMPUTE_DTYPES = [torch.bfloat16, torch.float16, torch.float32]  # bf16 first: the official runtime dtype


class FoleyLatentFormat(comfy.latent_formats.LatentFormat):
    latent_channels = 128
    latent_dimensions = 1  # [B, 128, L] at 50 latent frames per second; the DAC latent is used unscaled


class FoleyDiT(HunyuanVideoFoley):
    """The engine MMDiT with ComfyUI's call signature.

    `clip_empty` / `sync_empty` ([B] flags) swap in the learned "no video" features per batch item, so a
    negative conditioning (or a text-only positive) needs no model at encode time and batches with the cond.
    """

    def __init__(self, dtype=None, compute_dtype=None, **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.dtype = dtype
        self.compute_dtype = compute_dtype or dtype or torch.float32

    @staticmethod
    def _select(features, empty_flags, empty):
        if empty_flags is None:
            return features
        flags = empty_flags.reshape(-1, 1, 1).to(features.device) > 0.5
        return torch.where(flags, empty(features.shape[0], features.shape[1]).to(features), features)

    def forward(self, x, timesteps, context=None, clip_feat=None, sync_feat=None, clip_empty=None, sync_empty=None,
                control=None, transformer_options={}, **kwargs):
        clip = self._select(clip_feat, clip_empty, self.empty_clip)
        sync = self._select(sync_feat, sync_empty, self.empty_sync)
        return super().forward(x, timesteps, context, clip, sync)


class FoleyModel(comfy.model_base.BaseModel):
    def __init__(self, model_config, model_type=comfy.model_base.ModelType.FLOW, device=None):
        super().__init__(model_config, model_type, device=device, unet_model=FoleyDiT)

    def extra_conds(self, **kwargs):
        # CONDRegular for the text too: CONDCrossAttn would repeat tokens of unequal lengths, which changes
        # the result here because text keys are rotated by RoPE
        conds = {"c_crossattn": kwargs.get("cross_attn")}
        conds.update((name, kwargs.get(name)) for name in ("clip_feat", "sync_feat", "clip_empty", "sync_empty"))
        return {key: comfy.conds.CONDRegular(value) for key, value in conds.items() if value is not None}


class FoleyModelConfig(comfy.supported_models_base.BASE):
    unet_config = {}
    unet_extra_config = {}
    sampling_settings = {"shift": 1.0, "multiplier": 1000.0}
    latent_format = FoleyLatentFormat
    # activation memory per latent frame for ComfyUI's planning; a rough estimate from the widest
    # intermediate tensors (gated conv MLP, 4096 wide in XXL), not a measurement
    memory_usage_factor = 4.0
    supported_inference_dtypes = COMPUTE_DTYPES

    def set_inference_dtype(self, dtype, manual_cast_dtype):
        super().set_inference_dtype(dtype, manual_cast_dtype)
        self.unet_config["compute_dtype"] = manual_cast_dtype or dtype

    def get_model(self, state_dict, prefix="", device=None):
        return FoleyModel(self, device=device)


def load_foley_model(path, weight_dtype="default"):
    """The MMDiT file as a ModelPatcher; XXL/XL/other sizes from the tensors, layers from comfy.ops."""
    state_dict, _ = read_checkpoint(path)
    state_dict = expect_checkpoint(state_dict, "mmdit", path)
    config = mmdit_config_from_state_dict(state_dict)
    state_dict = check_state_dict(HunyuanVideoFoley(**config, device="meta"), state_dict, path,
                                  "the HunyuanVideo-Foley MMDiT")
    load_device, offload_device = mm.get_torch_device(), mm.unet_offload_device()
    if weight_dtype == "default":
        stored = next(v.dtype for v in state_dict.values() if v.is_floating_point())
        params = sum(v.numel() for v in state_dict.values())
        dtype = mm.unet_dtype(model_params=params, supported_dtypes=COMPUTE_DTYPES, weight_dtype=stored)
    else:
        dtype = WEIGHT_DTYPES[weight_dtype]
    model_config = FoleyModelConfig(dict(config))
    model_config.set_inference_dtype(dtype, mm.unet_manual_cast(dtype, load_device, COMPUTE_DTYPES))
    # built on meta and given the file's tensors: no second full copy of the weights in RAM while loading
    model = FoleyModel(model_config, device="meta")
    weights = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items()}
    model.diffusion_model.load_state_dict(weights, strict=True, assign=True)
    model.diffusion_model.requires_grad_(False).to(offload_device)
    model.device = offload_device
    return comfy.model_patcher.ModelPatcher(model, load_device=load_device, offload_device=offload_device)


def encoder_patcher(module):
    """A ModelPatcher so that ComfyUI loads an encoder to the GPU only while used and can evict it."""
    return comfy.model_patcher.ModelPatcher(module, load_device=mm.get_torch_device(),
                                            offload_device=mm.unet_offload_device())


def loaded(patcher):
    """Bring the patcher's model wholly to its device (evicting others if needed) and return the module.

    Whole: the encoders' layers are not comfy.ops layers, so a partial load would leave some of them
    on the offload device."""
    mm.load_models_gpu([patcher], force_full_load=True)
    return patcher.model
