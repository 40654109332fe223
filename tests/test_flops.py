"""The analytic FLOP count of the MMDiT (benchmarks/flops.py, used by gpu_bench.py there) equals PyTorch's
own count of a forward."""
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.flops import mmdit_forward_flops, sampling_flops
from foley_models import attention
from foley_models.mmdit import HunyuanVideoFoley
from foley_models.windows import WindowedMMDiT, window_spans


def _math_attention(q, k, v, transformer_options=None):
    # explicit matrix products, which the counter sees on every device (CPU SDPA kernels it does not all count)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v


CONFIG = dict(hidden_size=96, num_heads=3, depth_triple=2, depth_single=3, mlp_ratio=4.0, latent_channels=16,
              text_dim=40, clip_dim=24, sync_dim=56)


def _counted(model, batch, audio_len, visual_len, text_len, sync_len):
    g = torch.Generator().manual_seed(0)
    inputs = (torch.randn(batch, model.audio_embedder.proj.in_channels, audio_len, generator=g),
              torch.full((batch,), 700.0), torch.randn(batch, text_len, model.cond_in.linear_1.in_features, generator=g),
              torch.randn(batch, visual_len, model.visual_proj.w1.in_features, generator=g),
              torch.randn(batch, sync_len, model.sync_in[0].in_features, generator=g))
    attention.set_attention(model, _math_attention)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = HunyuanVideoFoley(**CONFIG).eval()
    for p in m.parameters():
        p.data.normal_(0, 0.05)
    return m


@pytest.mark.parametrize("batch, audio_len, visual_len, text_len, sync_len", [
    (2, 37, 5, 3, 16), (1, 100, 16, 77, 48), (3, 4, 9, 1, 8)])
def test_forward_flops_match_pytorch_count(model, batch, audio_len, visual_len, text_len, sync_len):
    assert mmdit_forward_flops(CONFIG, batch, audio_len, visual_len, text_len, sync_len) == \
        _counted(model, batch, audio_len, visual_len, text_len, sync_len)


def test_one_triple_block(model):
    config = dict(CONFIG, depth_triple=1, depth_single=0)
    torch.manual_seed(1)
    one = HunyuanVideoFoley(**config).eval()
    for p in one.parameters():
        p.data.normal_(0, 0.05)
    assert mmdit_forward_flops(config, 2, 30, 6, 5, 16) == _counted(one, 2, 30, 6, 5, 16)


def test_sampling_flops():
    per_forward = mmdit_forward_flops("xxl", 2, 500, 80, 77, 240)
    assert sampling_flops("xxl", 1, 500, 80, 77, 240, steps=50, cfg=4.5) == 50 * per_forward
    assert sampling_flops("xxl", 1, 500, 80, 77, 240, steps=50, cfg=1.0) == 50 * per_forward // 2
    # the figure for XXL, 10 s, batch 1, CFG, 50 steps: ~390 TFLOP
    assert 380e12 < sampling_flops("xxl", 1, 500, 80, 77, 240, steps=50) < 395e12


def test_windowed_flops_match_pytorch_count(model):
    length, visual_len, sync_len = 200, 32, 96
    wrapped = WindowedMMDiT(model, window=96, overlap=32)
    assert len(window_spans(length, 96, 32)) > 1
    g = torch.Generator().manual_seed(0)
    inputs = (torch.randn(1, 16, length, generator=g), torch.full((1,), 700.0), torch.randn(1, 5, 40, generator=g),
              torch.randn(1, visual_len, 24, generator=g), torch.randn(1, sync_len, 56, generator=g))
    attention.set_attention(model, _math_attention)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        wrapped(*inputs)
    assert sampling_flops(CONFIG, 1, length, visual_len, 5, sync_len, steps=1, cfg=1.0, window=96, overlap=32) == \
        counter.get_total_flops()
