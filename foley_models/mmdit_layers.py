"""Generic layers of the HunyuanVideo-Foley transformer: norms, RoPE, modulation, MLPs, resampling.

Precision: norm statistics and RoPE run in fp32; everything else stays in the dtype of the
activation it is given (the model's compute dtype).
"""
import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def layer_norm(x, eps):
    """Affine-free LayerNorm over the last dim, returned in fp32 (as under the official autocast)."""
    return F.layer_norm(x.float(), (x.shape[-1],), eps=eps)


def modulate(x32, shift, scale):
    # (1 + scale) is rounded to the compute dtype before it meets the fp32 norm output, as officially
    return x32 * (1 + scale) + shift


def nearest_exact_index(n_in, n_out, device):
    """Source index of every output element of F.interpolate(mode="nearest-exact") from n_in to n_out."""
    src = torch.arange(n_in, dtype=torch.float32, device=device).view(1, 1, n_in)
    # the op itself, not a closed formula: its fp32 rounding decides the routing for some (n_in, n_out)
    return F.interpolate(src, size=n_out, mode="nearest-exact").view(n_out).long()


def rope_table(n, dim, device, theta=10000.0):
    """cos, sin [n, dim] (fp32) for positions 0..n-1, each frequency repeated for a channel pair."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32, device=device) / dim))
    angles = torch.outer(torch.arange(n, dtype=torch.float32, device=device), freqs)
    return angles.cos().repeat_interleave(2, -1), angles.sin().repeat_interleave(2, -1)


def apply_rope(x, cos, sin):
    """Rotate consecutive channel pairs (GPT-J layout) of x [..., n, dim] in fp32; returns x's dtype."""
    x32 = x.float()
    pairs = x32.unflatten(-1, (-1, 2))
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return (x32 * cos + rotated * sin).to(x.dtype)


def split_heads(x, num_heads):
    """[B, L, H] -> [B, heads, L, head_dim]."""
    return x.unflatten(-1, (num_heads, -1)).transpose(1, 2)


def merge_heads(x):
    """[B, heads, L, head_dim] -> [B, L, H] (channel = head * head_dim + d)."""
    return x.transpose(1, 2).flatten(2)


def conv_tokens(conv, x):
    """Conv1d over the token axis of a channel-last [B, L, C] tensor."""
    return conv(x.transpose(1, 2)).transpose(1, 2)


def conv_mlp_hidden(hidden_size, mlp_ratio):
    """Hidden width of the gated conv MLPs: 2/3 of the MLP width, rounded up to a multiple of 256."""
    return 256 * math.ceil(2 * int(hidden_size * mlp_ratio) // 3 / 256)


class RMSNorm(nn.Module):
    """RMS norm over the last dim: statistics in fp32, normalised value rounded back, then weighted."""

    def __init__(self, dim, eps, dtype=None, device=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(dim, dtype=dtype, device=device))

    def forward(self, x):
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        # .to(x): a host may keep small parameters on another device or in fp8 (ComfyUI low-VRAM loading)
        return y.to(x.dtype) * self.weight.to(x)


class ModulationOut(NamedTuple):
    """Adaptive-norm parameters of one sub-layer: modulate(norm(x), shift, scale), residual scaled by gate."""
    shift: torch.Tensor
    scale: torch.Tensor
    gate: torch.Tensor


def split_modulation(params, count):
    """The output of a Modulation with 3 * count chunks -> count ModulationOut, in the checkpoint's order."""
    chunks = params.chunk(3 * count, -1)
    return [ModulationOut(*chunks[i:i + 3]) for i in range(0, 3 * count, 3)]


class Modulation(nn.Module):
    """Linear(SiLU(vec)) producing `chunks` vectors: shift/scale/gate of chunks / 3 sub-layers (split_modulation)."""

    def __init__(self, hidden_size, chunks, dtype=None, device=None, operations=nn):
        super().__init__()
        self.linear = operations.Linear(hidden_size, chunks * hidden_size, bias=True, dtype=dtype, device=device)

    def forward(self, vec):
        return self.linear(F.silu(vec))


class MLP(nn.Module):
    def __init__(self, dim, hidden, dtype=None, device=None, operations=nn):
        super().__init__()
        self.fc1 = operations.Linear(dim, hidden, bias=True, dtype=dtype, device=device)
        self.fc2 = operations.Linear(hidden, dim, bias=True, dtype=dtype, device=device)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class SwiGLU(nn.Module):
    def __init__(self, dim_in, dim_out, dtype=None, device=None, operations=nn):
        super().__init__()
        self.w1 = operations.Linear(dim_in, dim_out, bias=False, dtype=dtype, device=device)
        self.w3 = operations.Linear(dim_in, dim_out, bias=False, dtype=dtype, device=device)
        self.w2 = operations.Linear(dim_out, dim_out, bias=False, dtype=dtype, device=device)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class ConvMLP(nn.Module):
    """Gated MLP of bias-free Conv1d's over the token axis of a channel-last [B, L, C] tensor."""

    def __init__(self, dim, hidden, kernel_size, dtype=None, device=None, operations=nn):
        super().__init__()
        kw = dict(kernel_size=kernel_size, padding=kernel_size // 2, bias=False, dtype=dtype, device=device)
        self.w1 = operations.Conv1d(dim, hidden, **kw)
        self.w3 = operations.Conv1d(dim, hidden, **kw)
        self.w2 = operations.Conv1d(hidden, dim, **kw)

    def forward(self, x):
        x = x.transpose(1, 2)
        return self.w2(F.silu(self.w1(x)) * self.w3(x)).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    """Sinusoid of t (cos first, then sin; 256 frequencies, fp32) followed by an MLP."""

    def __init__(self, hidden_size, freq_dim=256, dtype=None, device=None, operations=nn):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(
            operations.Linear(freq_dim, hidden_size, bias=True, dtype=dtype, device=device),
            nn.SiLU(),
            operations.Linear(hidden_size, hidden_size, bias=True, dtype=dtype, device=device),
        )

    def forward(self, t, dtype):
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        angles = t.float()[:, None] * freqs[None]
        return self.mlp(torch.cat((angles.cos(), angles.sin()), dim=-1).to(dtype))
