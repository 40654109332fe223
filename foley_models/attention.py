"""Scaled dot-product attention shared by every model in the engine.

One function so that an optional accelerator (flash-attn, sageattention) can be switched on in one
place; PyTorch SDPA is the default and the reference.
"""
import torch
import torch.nn.functional as F

_BACKENDS = {}


def _sdpa(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


_BACKENDS["sdpa"] = _sdpa
_backend = "sdpa"


def _try_register_optional():
    try:
        from sageattention import sageattn  # optional accelerator, CUDA only

        def _sage(q, k, v):
            if q.device.type != "cuda" or q.dtype not in (torch.float16, torch.bfloat16):
                return _sdpa(q, k, v)
            return sageattn(q, k, v, tensor_layout="HND", is_causal=False)

        _BACKENDS["sage"] = _sage
    except ImportError:
        pass
    try:
        from flash_attn import flash_attn_func  # optional accelerator, CUDA only

        def _flash(q, k, v):
            if q.device.type != "cuda" or q.dtype not in (torch.float16, torch.bfloat16):
                return _sdpa(q, k, v)
            return flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)

        _BACKENDS["flash"] = _flash
    except ImportError:
        pass


_try_register_optional()


def available_backends():
    return sorted(_BACKENDS)


def set_backend(name):
    """Choose the attention kernel for all models ("sdpa", and "sage"/"flash" when installed)."""
    global _backend
    if name not in _BACKENDS:
        raise ValueError(f"attention backend {name!r} is not available; installed: {available_backends()}")
    _backend = name


def attention(q, k, v):
    """q [B, H, Lq, D], k/v [B, H, Lk, D] -> [B, H, Lq, D]; softmax(q k^T / sqrt(D)) v, no mask."""
    return _BACKENDS[_backend](q, k, v)
