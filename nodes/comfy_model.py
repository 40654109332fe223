"""The MMDiT as a ComfyUI MODEL (flow matching, 1-D 128-channel latent) and ModelPatcher helpers for the encoders."""
import functools

import torch

import comfy.conds
import comfy.latent_formats
import comfy.ldm.modules.attention
import comfy.model_base
import comfy.model_management as mm
import comfy.model_patcher
import comfy.patcher_extension
import comfy.sampler_helpers
import comfy.supported_models_base
import comfy.utils

from ..foley_models import attention, reference, windows
from ..foley_models.loading import mmdit_compute_dtype, read_model_state
from ..foley_models.mmdit import HunyuanVideoFoley, mmdit_config_from_state_dict

WEIGHT_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32,
                 "fp8_e4m3fn": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2}
# bf16 first: the official runtime dtype. No fp16: fp16 compute is not chosen by default (its range ends at
# 65504 and nothing shows the real weights stay inside it); where bf16 is not native the MMDiT computes in fp32
# (from bf16/fp16/fp8 storage where the weights would not fit in fp32). --fp16-unet / --force-fp16 opt in.
COMPUTE_DTYPES = [torch.bfloat16, torch.float32]
# transformer_options key of FoleyWindowing: (window, overlap) in latent frames
WINDOW_OPTION = "foley_window"
MAX_WINDOW = 752  # 15.04 s: the longest clip the official reader makes (frames up to t = 15.0 s)


def comfy_attention(q, k, v, transformer_options=None):
    """The engine's attention through ComfyUI's own selection (--use-sage-attention, --use-flash-attention,
    --use-pytorch-cross-attention, ...), looked up per call so that attention overrides in transformer_options
    (optimized_attention_override) apply. q/k/v and the result: [B, heads, L, head_dim]."""
    return comfy.ldm.modules.attention.optimized_attention(
        q, k, v, q.shape[1], skip_reshape=True, skip_output_reshape=True,
        transformer_options=transformer_options if transformer_options is not None else {})


class FoleyLatentFormat(comfy.latent_formats.LatentFormat):
    latent_channels = 128
    latent_dimensions = 1  # [B, 128, L] at 50 latent frames per second; the DAC latent is used unscaled


# Top-level tensors of the official MMDiT. ModelPatcher only patches, casts and offloads parameters of
# modules without children, so merges and LoRA-style patches would skip them where they are: in ComfyUI
# they live in the leaf module `learned` (keys "learned.<name>"), mapped from and back to the official keys.
LEARNED_TENSORS = ("sync_pos_emb", "empty_clip_feat", "empty_sync_feat")


def to_comfy_keys(state_dict):
    return {f"learned.{k}" if k in LEARNED_TENSORS else k: v for k, v in state_dict.items()}


def to_official_keys(state_dict):
    return {k.removeprefix("learned.") if k.removeprefix("learned.") in LEARNED_TENSORS else k: v
            for k, v in state_dict.items()}


class FoleyDiT(HunyuanVideoFoley):
    """The engine MMDiT with ComfyUI's call signature.

    `clip_empty` / `sync_empty` ([B] flags) swap in the learned "no video" features per batch item, so a
    negative conditioning (or a text-only positive) needs no model at encode time and batches with the cond.
    """

    def __init__(self, dtype=None, **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.dtype = dtype
        self.learned = torch.nn.Module()
        for name in LEARNED_TENSORS:
            self.learned.register_parameter(name, self._parameters.pop(name))
        attention.set_attention(self, comfy_attention)

    # the engine's code reads them as attributes of the model
    sync_pos_emb = property(lambda self: self.learned.sync_pos_emb)
    empty_clip_feat = property(lambda self: self.learned.empty_clip_feat)
    empty_sync_feat = property(lambda self: self.learned.empty_sync_feat)

    @staticmethod
    def _select(features, empty_flags, empty):
        if empty_flags is None:
            return features
        flags = empty_flags.reshape(-1, 1, 1).to(features.device) > 0.5
        return torch.where(flags, empty(features.shape[0], features.shape[1]).to(features), features)

    def forward(self, x, timesteps, context=None, clip_feat=None, sync_feat=None, clip_empty=None, sync_empty=None,
                reference_latent=None, control=None, transformer_options={}, **kwargs):
        # through ComfyUI's DIFFUSION_MODEL wrappers (EasyCache and other step caches), as core's models do
        return comfy.patcher_extension.WrapperExecutor.new_class_executor(
            self._forward, self,
            comfy.patcher_extension.get_all_wrappers(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL,
                                                     transformer_options),
        ).execute(x, timesteps, context, clip_feat, sync_feat, clip_empty, sync_empty, reference_latent, control,
                  transformer_options, **kwargs)

    def _forward(self, x, timesteps, context=None, clip_feat=None, sync_feat=None, clip_empty=None, sync_empty=None,
                 reference_latent=None, control=None, transformer_options={}, **kwargs):
        clip = self._select(clip_feat, clip_empty, self.empty_clip)
        sync = self._select(sync_feat, sync_empty, self.empty_sync)
        window, overlap = transformer_options.get(WINDOW_OPTION, (windows.DEFAULT_WINDOW, windows.DEFAULT_OVERLAP))
        # the blocks write block_index / block_type / total_blocks into it, as core's models do: a copy per call
        forward = functools.partial(super().forward, transformer_options=dict(transformer_options))
        if reference_latent is not None:  # core's ReferenceLatent on this conditioning (FoleyModel.extra_conds)
            forward = reference.with_reference(forward, reference_latent, self.empty_clip, self.empty_sync)
        return windows.windowed(forward, x, timesteps, context, clip, sync, window, overlap,
                                before_window=mm.throw_exception_if_processing_interrupted)

    # Blocks replaceable through transformer_options["patches_replace"]["dit"], with core's keys: the triple
    # blocks are ("double_block", i) (core's name for the blocks before the single-stream ones), the single
    # blocks ("single_block", i). A replacement gets a dict of the block's inputs, the latent's tokens under
    # "img" and the text under "txt" as in core, and {"original_block": fn}; it returns a dict with "img"
    # (and "visual" for a triple block). Returning the inputs unchanged skips the block (core's SkipLayerGuidance).
    def run_triple_block(self, index, audio, text, visual, vec, rope, visual_out, text_kv, transformer_options):
        replace = _block_replacement(transformer_options, "double_block", index, len(self.triple_blocks))
        if replace is None:
            return super().run_triple_block(index, audio, text, visual, vec, rope, visual_out, text_kv,
                                            transformer_options)
        block = self.triple_blocks[index]

        def original_block(args):
            img, visual = block(args["img"], args["txt"], args["visual"], args["vec"], args["pe"],
                                visual_out=args["visual_out"], text_kv=args["text_kv"],
                                transformer_options=args["transformer_options"])
            return {"img": img, "visual": visual}

        out = replace({"img": audio, "txt": text, "visual": visual, "vec": vec, "pe": rope, "visual_out": visual_out,
                       "text_kv": text_kv, "transformer_options": transformer_options},
                      {"original_block": original_block})
        return out["img"], out["visual"] if visual_out else None

    def run_single_block(self, index, audio, vec, rope, transformer_options):
        replace = _block_replacement(transformer_options, "single_block", index, len(self.single_blocks))
        if replace is None:
            return super().run_single_block(index, audio, vec, rope, transformer_options)
        block = self.single_blocks[index]

        def original_block(args):
            return {"img": block(args["img"], args["vec"], args["pe"], transformer_options=args["transformer_options"])}

        out = replace({"img": audio, "vec": vec, "pe": rope, "transformer_options": transformer_options},
                      {"original_block": original_block})
        return out["img"]


def _block_replacement(transformer_options, block_type, index, total):
    """The patches_replace["dit"] entry of a block, or None; notes the block in transformer_options as core does."""
    if transformer_options is None:
        return None
    transformer_options.update(block_type="double" if block_type == "double_block" else "single",
                               block_index=index, total_blocks=total)
    return transformer_options.get("patches_replace", {}).get("dit", {}).get((block_type, index))


class CONDTimeAligned(comfy.conds.CONDRegular):
    """Video features on their own time grid. Where a conditioning is limited to an area (a time range, see
    FoleyConditioningTimeRange), ComfyUI runs the model on that part of the latent: the features are cut to
    the same part instead of being squeezed into it."""

    def __init__(self, cond, grid_slice):
        super().__init__(cond)
        self.grid_slice = grid_slice

    def _copy_with(self, cond):
        return self.__class__(cond, self.grid_slice)

    def process_cond(self, batch_size, area=None, **kwargs):
        data = self.cond
        if area is not None:  # 1-D area: (length, offset) in latent frames
            data = data[:, self.grid_slice((area[1], area[1] + area[0]), data.shape[1])]
        return self._copy_with(comfy.utils.repeat_to_batch_size(data, batch_size))


class FoleyModel(comfy.model_base.BaseModel):
    def __init__(self, model_config, model_type=comfy.model_base.ModelType.FLOW, device=None):
        super().__init__(model_config, model_type, device=device, unet_model=FoleyDiT)

    def extra_conds(self, **kwargs):
        # CONDRegular for the text too: CONDCrossAttn would repeat tokens of unequal lengths, which changes
        # the result here because text keys are rotated by RoPE
        conds = {name: comfy.conds.CONDRegular(kwargs[key]) for name, key in
                 (("c_crossattn", "cross_attn"), ("clip_empty", "clip_empty"), ("sync_empty", "sync_empty"))
                 if kwargs.get(key) is not None}
        for name, grid_slice in (("clip_feat", windows.clip_slice), ("sync_feat", windows.sync_slice)):
            if kwargs.get(name) is not None:
                conds[name] = CONDTimeAligned(kwargs[name], grid_slice)
        # core's ReferenceLatent appends to "reference_latents"; joined (and cut) once per sampling run here.
        # CONDRegular: a positive and a negative with equal references run as one batch, as without them
        if kwargs.get("reference_latents"):
            conds["reference_latent"] = comfy.conds.CONDRegular(reference.join_references(
                [self.process_latent_in(latent) for latent in kwargs["reference_latents"]]))
        return conds

    def extra_conds_shapes(self, **kwargs):
        if not kwargs.get("reference_latents"):
            return {}
        frames = sum(latent.shape[-1] for latent in kwargs["reference_latents"])
        return {"reference_latent": [1, FoleyLatentFormat.latent_channels, min(frames, reference.MAX_REFERENCE_FRAMES)]}

    def memory_required(self, input_shape, cond_shapes={}):
        # the model runs on windows of the latent (FoleyWindowing), never more than MAX_WINDOW frames at once,
        # each with the reference's frames before it
        extra = max((shape[-1] for shape in cond_shapes.get("reference_latent", [])), default=0)
        return super().memory_required([*input_shape[:2], min(input_shape[2], MAX_WINDOW) + extra], cond_shapes)


class FoleyModelConfig(comfy.supported_models_base.BASE):
    unet_config = {}
    unet_extra_config = {}
    sampling_settings = {"shift": 1.0, "multiplier": 1000.0}
    latent_format = FoleyLatentFormat
    # ComfyUI reserves batch * latent frames * dtype bytes * 0.01 MiB * this for activations. Counted exactly at
    # XXL width in bf16, a forward holds at most 0.0747 MiB of tensors per latent frame and batch item, i.e.
    # 3.73 here (tests/test_model_memory.py); 4.5 leaves room for the allocator's rounding
    memory_usage_factor = 4.5
    supported_inference_dtypes = COMPUTE_DTYPES

    def set_inference_dtype(self, dtype, manual_cast_dtype, **kwargs):
        super().set_inference_dtype(dtype, manual_cast_dtype, **kwargs)  # 0.33 added device=None
        self.unet_config["compute_dtype"] = manual_cast_dtype or dtype

    def get_model(self, state_dict, prefix="", device=None):
        return FoleyModel(self, device=device)

    def process_unet_state_dict_for_saving(self, state_dict):
        # ModelSave / CheckpointSave write the official key names, so the engine and this loader read them back
        return super().process_unet_state_dict_for_saving(to_official_keys(state_dict))


def load_foley_model(path, weight_dtype="default"):
    """The MMDiT file as a ModelPatcher; XXL/XL/other sizes from the tensors, layers from comfy.ops."""
    config, state_dict = read_model_state(path, "mmdit", HunyuanVideoFoley, "the HunyuanVideo-Foley MMDiT",
                                          lambda sd, _: mmdit_config_from_state_dict(sd), to_official_keys)
    load_device, offload_device = mm.get_torch_device(), mm.unet_offload_device()
    stored = next(v.dtype for v in state_dict.values() if v.is_floating_point())
    params = sum(v.numel() for v in state_dict.values())
    dtype, compute_dtype = model_dtypes(weight_dtype, stored, params, load_device)
    model_config = FoleyModelConfig(dict(config))
    model_config.set_inference_dtype(dtype, compute_dtype)
    # built on meta and given the file's tensors: no second full copy of the weights in RAM while loading
    model = FoleyModel(model_config, device="meta")
    weights = {k: v.to(dtype) if v.is_floating_point() else v for k, v in to_comfy_keys(state_dict).items()}
    model.diffusion_model.load_state_dict(weights, strict=True, assign=True)
    model.diffusion_model.requires_grad_(False).to(offload_device)
    model.device = offload_device
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=load_device, offload_device=offload_device)
    add_sampling_wrappers(patcher)
    return patcher


def add_sampling_wrappers(patcher):
    patcher.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, "foley_keep_unmasked", keep_unmasked)


def model_dtypes(weight_dtype, stored, params, load_device):
    """(storage dtype, manual-cast compute dtype or None) of the MMDiT: ComfyUI's choice among COMPUTE_DTYPES
    (its flags and free-memory rules included), the compute dtype then as the engine's mmdit_compute_dtype says
    (fp16 only when asked for with --fp16-unet or --force-fp16: fp16 storage otherwise computes in bf16 or fp32)."""
    if weight_dtype == "default":
        dtype = mm.unet_dtype(model_params=params, supported_dtypes=COMPUTE_DTYPES, weight_dtype=stored)
    else:
        dtype = WEIGHT_DTYPES[weight_dtype]
    compute = mm.unet_manual_cast(dtype, load_device, COMPUTE_DTYPES)
    picked = mmdit_compute_dtype(compute or dtype, bf16_native=mm.should_use_bf16(load_device),
                                 fp16_asked=mm.args.fp16_unet or mm.args.force_fp16)
    if picked != (compute or dtype):
        compute = picked
    if weight_dtype == "default" and stored == torch.float16 and dtype == torch.bfloat16 and compute == torch.float32:
        dtype = torch.float16  # a 16-bit file computed in fp32 keeps its own format (fp16 -> bf16 would round)
    return dtype, compute


def keep_unmasked(executor, noise, latent_image, sampler, sigmas, denoise_mask=None, *args, **kwargs):
    """Where a noise mask is 0 (FoleyTimeMask, FoleyExtend) the result is the input latent exactly: the
    samplers' last step lands there only up to float rounding (x - sigma * (x - latent) / sigma)."""
    out = executor(noise, latent_image, sampler, sigmas, denoise_mask, *args, **kwargs)
    if denoise_mask is None:
        return out
    mask = comfy.sampler_helpers.prepare_mask(denoise_mask, out.shape, out.device)
    return torch.where(mask == 0, latent_image.to(out), out)


def encoder_patcher(module):
    """A ModelPatcher so that ComfyUI loads an encoder to the GPU only while used and can evict it. An encoder
    that attends (the Synchformer) attends through ComfyUI's attention selection."""
    attention.set_attention(module, comfy_attention)
    return comfy.model_patcher.ModelPatcher(module, load_device=mm.get_torch_device(),
                                            offload_device=mm.unet_offload_device())


def loaded(patcher):
    """Bring the patcher's model wholly to its device (evicting others if needed) and return the module.

    Whole: the encoders' layers are not comfy.ops layers, so a partial load would leave some of them
    on the offload device."""
    mm.load_models_gpu([patcher], force_full_load=True)
    return patcher.model
