"""Scaled dot-product attention of the engine.

An attention function is `fn(q, k, v, transformer_options=None) -> out` on [B, heads, L, head_dim] tensors,
softmax(q k^T / sqrt(head_dim)) v without a mask. `sdpa` (PyTorch's scaled_dot_product_attention; on CUDA it
takes its flash / memory-efficient kernels by itself) is the default and the reference.

Every module that attends holds its function in the attribute `attention_fn`; a host replaces it with
`set_attention(model, fn)` (the ComfyUI nodes set ComfyUI's optimized_attention, so its --use-*-attention flags
and attention overrides apply). `transformer_options` are the host's per-call options, handed down by the
caller of the model's forward and passed to the function untouched. The engine itself imports no host.
"""
import torch.nn.functional as F


def sdpa(q, k, v, transformer_options=None):
    return F.scaled_dot_product_attention(q, k, v)


# for models that attend without a replaceable function (the DeSync scorer)
attention = sdpa


def set_attention(model, fn):
    """Make every module of `model` that attends through `attention_fn` use fn(q, k, v, transformer_options=None)."""
    for module in model.modules():
        if "attention_fn" in vars(module):
            module.attention_fn = fn
    return model
