"""Scaled dot-product attention shared by every model in the engine.

One function, `attention(q, k, v)`, so that the kernel is chosen in one place. A backend is a callable
`fn(q, k, v, **options) -> out` on [B, heads, L, head_dim] tensors. Built in: "sdpa" (PyTorch's
scaled_dot_product_attention, the default and the reference; on CUDA it takes its flash / memory-efficient
kernels by itself), and "sage" / "flash" when sageattention / flash-attn are installed (never required).

A host registers its own backend and makes it the default (the ComfyUI nodes register ComfyUI's
`optimized_attention`, so its --use-*-attention flags and attention patches apply); `call_options` hands the
backend per-call keyword options (ComfyUI's transformer_options). The engine itself imports no host.
"""
import torch
import torch.nn.functional as F

_BACKENDS = {}
_state = {"backend": "sdpa", "options": {}}


def _sdpa(q, k, v, **options):
    return F.scaled_dot_product_attention(q, k, v)


_BACKENDS["sdpa"] = _sdpa


def _try_register_optional():
    try:
        from sageattention import sageattn  # optional accelerator, CUDA only

        def _sage(q, k, v, **options):
            if q.device.type != "cuda" or q.dtype not in (torch.float16, torch.bfloat16):
                return _sdpa(q, k, v)
            return sageattn(q, k, v, tensor_layout="HND", is_causal=False)

        _BACKENDS["sage"] = _sage
    except ImportError:
        pass
    try:
        from flash_attn import flash_attn_func  # optional accelerator, CUDA only

        def _flash(q, k, v, **options):
            if q.device.type != "cuda" or q.dtype not in (torch.float16, torch.bfloat16):
                return _sdpa(q, k, v)
            return flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)

        _BACKENDS["flash"] = _flash
    except ImportError:
        pass


_try_register_optional()


def available_backends():
    return sorted(_BACKENDS)


def register_backend(name, fn):
    """Add (or replace) backend `name`: fn(q, k, v, **options) -> [B, H, Lq, D]."""
    _BACKENDS[name] = fn


def current_backend():
    return _state["backend"]


def set_backend(name):
    """Choose the attention kernel for all models ("sdpa", "sage"/"flash" when installed, or a registered one)."""
    if name not in _BACKENDS:
        raise ValueError(f"attention backend {name!r} is not available; installed: {available_backends()}")
    _state["backend"] = name


class using_backend:
    """`with using_backend(name):` the calls inside use backend `name` (None: leave the current one)."""

    def __init__(self, name):
        if name is not None and name not in _BACKENDS:
            raise ValueError(f"attention backend {name!r} is not available; installed: {available_backends()}")
        self.name = name

    def __enter__(self):
        self.saved = _state["backend"]
        if self.name is not None:
            _state["backend"] = self.name
        return self

    def __exit__(self, *exc):
        _state["backend"] = self.saved


class call_options:
    """`with call_options(**options):` the backend gets these keyword options on every call inside (nested
    blocks add to the outer ones). The built-in backends ignore them."""

    def __init__(self, **options):
        self.options = options

    def __enter__(self):
        self.saved = _state["options"]
        _state["options"] = {**self.saved, **self.options}
        return self

    def __exit__(self, *exc):
        _state["options"] = self.saved


def attention(q, k, v):
    """q [B, H, Lq, D], k/v [B, H, Lk, D] -> [B, H, Lq, D]; softmax(q k^T / sqrt(D)) v, no mask."""
    return _BACKENDS[_state["backend"]](q, k, v, **_state["options"])
