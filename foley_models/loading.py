"""Reading checkpoints without executing pickled code, and building the engine's models from them.

Accepted files: the official `.pth` pickles (read with `weights_only=True`) and `.safetensors` repacks
in any float storage dtype (fp32, bf16, fp16, fp8_e4m3fn, fp8_e5m2). Every file is checked against the
module it is loaded into: all of the module's keys with their shapes must be present; keys the model
does not use (the Synchformer audio branch outside the sync score, training heads) are dropped with one log line.
"""
import json
import logging
import os
import pickle

import torch

from .dac_vae import DAC_CONFIG, DacVAE, dac_config_from_metadata, dac_config_from_state_dict
from .mmdit import MMDIT_CONFIGS, HunyuanVideoFoley, mmdit_config_from_state_dict
from .sync_score import SYNC_SCORER_CONFIG, SyncScorer, sync_scorer_config_from_state_dict
from .synchformer import SYNCHFORMER_CONFIG, Synchformer, synchformer_config_from_state_dict

log = logging.getLogger(__name__)

SAFETENSORS_EXTENSIONS = (".safetensors", ".sft")
FP8_DTYPES = tuple(getattr(torch, n) for n in ("float8_e4m3fn", "float8_e5m2") if hasattr(torch, n))

# Prefixes that repacking tools put in front of the official keys.
_KNOWN_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "module.", "model.")

_KIND_NAMES = {
    "mmdit": "the HunyuanVideo-Foley MMDiT (hunyuanvideo_foley.pth / hunyuanvideo_foley_xl.pth)",
    "dac_vae": "the DAC VAE (vae_128d_48k.pth)",
    "synchformer": "the Synchformer (synchformer_state_dict.pth)",
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, unsafe, or not the expected model."""


def read_checkpoint(path):
    """Return (state_dict, metadata) from a .safetensors or .pth file, never unpickling code objects."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.lower().endswith(SAFETENSORS_EXTENSIONS):
        return _read_safetensors(path)
    return _read_pickle(path)


def _read_safetensors(path):
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            state_dict = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error type for bad headers and short files
        raise CheckpointError(f"{path}: not a readable safetensors file, it may be truncated or corrupt "
                              f"(download it again): {e}") from e
    return state_dict, metadata


def _read_pickle(path):
    """torch.load with weights_only=True; every failure becomes a CheckpointError naming the file (torch's own
    text for a refused pickle suggests weights_only=False, which is exactly what must not be done here)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise CheckpointError(f"{path}: the file is empty (0 bytes); the download broke off or the copy failed: "
                              f"download it again")
    zipped = head == b"PK\x03\x04"  # torch.save's format since 1.6; older files cannot be memory-mapped
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except pickle.UnpicklingError as e:
        if "Unsupported operand" in str(e):  # opcodes torch.save never writes: another pickle, or damage
            raise CheckpointError(
                f"{path}: not a PyTorch checkpoint: it is a plain Python pickle or a damaged file, which cannot be "
                f"read without executing what it holds. Nothing was executed. Use the official file or a "
                f".safetensors conversion.") from e
        raise CheckpointError(
            f"{path}: refused to load: the file contains pickled Python objects other than tensors and plain "
            f"containers, and loading it would execute code. Nothing was executed. Use the official file or "
            f"convert it to .safetensors in a trusted environment.") from e
    except Exception as e:  # torch raises RuntimeError, EOFError, KeyError, ... for damaged files
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint, it may be truncated or corrupt "
                              f"(download it again): {type(e).__name__}: {e}") from e
    return _unwrap(path, obj)


def _unwrap(path, obj):
    metadata = {}
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        # audiotools layout of the DAC file: {"state_dict": ..., "metadata": {"kwargs": ...}}
        metadata = obj.get("metadata") or {}
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path}: expected a mapping of parameter names to tensors, found {type(obj).__name__}")
    not_tensors = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f"{path}: entries that are not tensors: {not_tensors[:5]}")
    return dict(obj), metadata


def identify_checkpoint(state_dict):
    """Name the model a state dict belongs to: "mmdit", "dac_vae", "synchformer" or "unknown"."""
    keys = state_dict.keys()
    if any(k.startswith(("triple_blocks.", "single_blocks.", "audio_embedder.")) for k in keys):
        return "mmdit"
    if any(k.startswith(("decoder.model.", "post_quant_conv.", "encoder.block.")) for k in keys):
        return "dac_vae"
    if any(k.startswith("vfeat_extractor.") for k in keys):
        return "synchformer"
    return "unknown"


def _describe(state_dict):
    kind = identify_checkpoint(state_dict)
    if kind != "unknown":
        return f"this is a checkpoint of {_KIND_NAMES[kind]}"
    sample = ", ".join(sorted(state_dict)[:3])
    return f"this is not a HunyuanVideo-Foley checkpoint ({len(state_dict)} tensors, e.g. {sample})"


def _kind_prefix(state_dict, kind):
    """The key prefix ("" for none) under which `state_dict` is a `kind` checkpoint, or None."""
    for prefix in ("", *_KNOWN_PREFIXES):
        stripped = {k[len(prefix):]: None for k in state_dict if k.startswith(prefix)}
        if stripped and identify_checkpoint(stripped) == kind:
            return prefix
    return None


def expect_checkpoint(state_dict, kind, path):
    """The state dict if it is a `kind` checkpoint (known key prefixes stripped), else a CheckpointError saying what it is."""
    prefix = _kind_prefix(state_dict, kind)
    if prefix is None:
        raise CheckpointError(f"{path}: expected {_KIND_NAMES[kind]}, but {_describe(state_dict)}")
    if prefix:
        log.info("%s: stripped key prefix %r", path, prefix)
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def check_checkpoint_kind(path, kind):
    """Raise CheckpointError unless `path` is a readable `kind` checkpoint; reads the key names, not the
    tensor data (a .pth is memory-mapped), so it is cheap enough to run when a prompt is validated."""
    path = os.fspath(path)
    if path.lower().endswith(SAFETENSORS_EXTENSIONS):
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt", device="cpu") as f:
                keys = dict.fromkeys(f.keys())
        except Exception as e:  # safetensors raises its own error type for bad headers and short files
            raise CheckpointError(f"{path}: not a readable safetensors file, it may be truncated or corrupt "
                                  f"(download it again): {e}") from e
    else:
        keys = _read_pickle(path)[0]
    expect_checkpoint(keys, kind, path)


def check_state_dict(module, state_dict, path, what):
    """Require every key of `module` with its shape; return the state dict without the keys it does not use."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state_dict]
    wrong = [f"{k}: file {list(state_dict[k].shape)}, model {list(expected[k].shape)}"
             for k in expected if k in state_dict and state_dict[k].shape != expected[k].shape]
    if missing or wrong:
        problems = [f"missing {k}" for k in missing[:5]] + wrong[:5]
        raise CheckpointError(f"{path}: does not fit {what} ({len(missing)} missing, {len(wrong)} wrong shapes: "
                              f"{'; '.join(problems)}); {_describe(state_dict)}")
    unused = [k for k in state_dict if k not in expected]
    if unused:
        log.info("%s: ignored %d tensors %s does not use (e.g. %s)", path, len(unused), what, unused[0])
    return {k: state_dict[k] for k in expected}


def mmdit_compute_dtype(dtype, bf16_native=True, fp16_asked=False):
    """The dtype the MMDiT computes in from weights of `dtype`, for the engine and the nodes alike: 8-bit floats,
    and fp16 unless asked for, compute in bf16 (fp32 where bf16 is not native), since fp16's range ends at 65504
    and nothing shows that the released weights' activations stay inside it; bf16 and fp32 as they are."""
    if dtype in FP8_DTYPES or (dtype == torch.float16 and not fp16_asked):
        return torch.bfloat16 if bf16_native else torch.float32
    return dtype


def bf16_native(device):
    """Whether `device` computes in bf16 natively: CUDA from Ampere on (older GPUs emulate it, slowly); the CPU
    and other devices are taken as able to."""
    device = torch.device(device)
    return device.type != "cuda" or torch.cuda.is_bf16_supported(including_emulation=False)


def default_dtype(state_dict, kind="mmdit", device="cpu"):
    """The float dtype a model of `kind` stored like this computes in on `device` when none is asked for: the
    MMDiT as mmdit_compute_dtype says for its storage; the DAC VAE and the Synchformer fp32 whatever the storage,
    as the official decode, features and sync score are computed."""
    if kind != "mmdit":
        return torch.float32
    dtypes = {v.dtype for v in state_dict.values() if v.is_floating_point()}
    stored = next((d for d in (*FP8_DTYPES, torch.float32, torch.bfloat16, torch.float16) if d in dtypes),
                  torch.float32)
    return mmdit_compute_dtype(stored, bf16_native=bf16_native(device))


def _materialise(model, state_dict, device, dtype):
    state_dict = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state_dict.items()}
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.to(device).requires_grad_(False).eval()


def _build(cls, config, device, dtype, operations=None):
    kwargs = dict(config, dtype=dtype, device=device)
    if operations is not None:
        kwargs["operations"] = operations
    return cls(**kwargs)


def read_model_state(path, kind, cls, what, config_of, adapt_keys=None):
    """(config, state dict) of the `kind` checkpoint at `path`, the one sequence of every loader: the file read
    without executing code, known key prefixes stripped (then `adapt_keys` applied), the constructor arguments
    from config_of(state_dict, metadata), and every key of cls(**config) required with its shape."""
    state_dict, metadata = read_checkpoint(path)
    state_dict = expect_checkpoint(state_dict, kind, path)
    if adapt_keys is not None:
        state_dict = adapt_keys(state_dict)
    config = config_of(state_dict, metadata)
    return config, check_state_dict(cls(**config, device="meta"), state_dict, path, what)


def _load(path, kind, cls, what, config_of, device, dtype, operations=None):
    config, state_dict = read_model_state(path, kind, cls, what, config_of)
    dtype = dtype or default_dtype(state_dict, kind, device)
    model = _materialise(_build(cls, config, "meta", dtype, operations), state_dict, device, dtype)
    model.config = config
    return model


def load_mmdit(path, device="cpu", dtype=None, operations=None):
    """The MMDiT (XXL, XL or any other size, inferred from the tensors) with the file's weights."""
    return _load(path, "mmdit", HunyuanVideoFoley, "the HunyuanVideo-Foley MMDiT",
                 lambda state_dict, _: mmdit_config_from_state_dict(state_dict), device, dtype, operations)


def _dac_config(state_dict, metadata):
    """From the file's metadata when present, else from the shapes."""
    kwargs = metadata.get("kwargs")
    if kwargs is None and "dac_kwargs" in metadata:
        kwargs = json.loads(metadata["dac_kwargs"])
    return dac_config_from_metadata(kwargs) if kwargs else dac_config_from_state_dict(state_dict)


def load_dac_vae(path, device="cpu", dtype=None):
    """The DAC VAE; constructor arguments from the file's metadata when present, else from shapes."""
    return _load(path, "dac_vae", DacVAE, "the DAC VAE", _dac_config, device, dtype)


def load_synchformer(path, device="cpu", dtype=None, num_heads=12):
    """The Synchformer visual branch; the audio branch and sync classifier in the file are skipped."""
    def config_of(state_dict, _):
        return dict(synchformer_config_from_state_dict(state_dict), num_heads=num_heads)

    return _load(path, "synchformer", Synchformer, "the Synchformer visual branch", config_of, device, dtype)


def load_sync_scorer(path, device="cpu", dtype=None, visual_heads=12, audio_heads=12, sync_heads=8):
    """The whole Synchformer (visual and audio branches, offset classifier) for the A/V sync score; sizes
    inferred from the tensors, head counts given (12, 12 and 8 in the official file)."""
    def config_of(state_dict, _):
        try:
            config = sync_scorer_config_from_state_dict(state_dict)
        except ValueError as e:
            raise CheckpointError(f"{path}: {e}. Use the official synchformer_state_dict.pth (all 513 tensors); a "
                                  f"file holding only the visual branch serves the generation pipeline but not the "
                                  f"sync score.") from e
        return dict(config, num_heads=visual_heads, audio_heads=audio_heads, sync_heads=sync_heads)

    return _load(path, "synchformer", SyncScorer, "the Synchformer sync scorer", config_of, device, dtype)


def build_sync_scorer(device="meta", dtype=None):
    return _build(SyncScorer, SYNC_SCORER_CONFIG, device, dtype)


def build_mmdit(size, device="meta", dtype=None, operations=None):
    """The real-size MMDiT ("xxl" or "xl") without weights."""
    if size not in MMDIT_CONFIGS:
        raise ValueError(f"unknown MMDiT size {size!r}; known: {sorted(MMDIT_CONFIGS)}")
    return _build(HunyuanVideoFoley, MMDIT_CONFIGS[size], device, dtype, operations)


def build_dac_vae(device="meta", dtype=None):
    return _build(DacVAE, DAC_CONFIG, device, dtype)


def build_synchformer(device="meta", dtype=None, num_heads=12):
    return _build(Synchformer, dict(SYNCHFORMER_CONFIG, num_heads=num_heads), device, dtype)
