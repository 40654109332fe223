"""Floating-point operations of the MMDiT, counted analytically from the shapes (for benchmarks).

A matrix product [M, K] x [K, N] counts 2·M·N·K; a convolution 2·(output elements)·(inputs per output);
attention 4·Lq·Lk·head_dim per head (q·kᵀ, then the weights times v). Norms, RoPE, activations and
other elementwise work are not counted (under 1% here). With B the batch of one model call (2 × the batch
with CFG), H hidden, F = mlp_ratio·H, Fc the conv-MLP width (256·⌈(2F/3)/256⌉), L audio tokens (latent
frames), Lv SigLIP2 frames, Lt text tokens, Ls Synchformer tokens, C latent channels, Dt/Dc/Ds feature
widths, n3/n1 triple/single blocks:

    triple block   B·[36H² + 6(L+Lv)H² + 6(L+Lv)H² + 4·Lt·H² + 4(L+Lv)²H + 4(L+Lv)·Lt·H + 4(L+Lv)HF]
                   (the last one, whose visual output is discarded, skips the visual projections/MLP:
                    B·[36H² + 6(L+Lv)H² + 6·L·H² + 4·Lt·H² + 4·L(L+Lv)H + 4·L·Lt·H + 4·L·HF])
    single block   B·[12LH² + 6LH² + 4L²H + 6LH² + 18·L·H·Fc]
    embeddings     B·[2(256H + H²) + 2·Ls·Ds·H + 6·Ls·H·Fc + 2·Lt(Dt·H + H²) + 2LCH + 2Lv(2·Dc·H + H²) + 2LHC]

    forward = embeddings + (n3 - 1)·triple + last triple + n1·single
    sampling = steps × forward(B = (2 if cfg > 1 else 1) × batch)

XXL (H 1536, 18 + 36 blocks), 10 s (L 500, Lv 80, Lt 77, Ls 240), batch 1, CFG, 50 steps: 386 TFLOP.
"""
import math

from foley_models.mmdit import MMDIT_CONFIGS
from foley_models.windows import clip_slice, sync_slice, window_spans


def _widths(config):
    hidden = config["hidden_size"]
    mlp = int(hidden * config.get("mlp_ratio", 4.0))
    conv_mlp = 256 * math.ceil(2 * mlp // 3 / 256)
    return hidden, mlp, conv_mlp


def mmdit_forward_flops(config, batch, audio_len, visual_len, text_len, sync_len):
    """FLOPs of one HunyuanVideoFoley forward (a dict of constructor kwargs, or "xxl"/"xl")."""
    if isinstance(config, str):
        config = MMDIT_CONFIGS[config]
    H, F, Fc = _widths(config)
    L, Lv, Lt, Ls = audio_len, visual_len, text_len, sync_len
    C, Dt, Dc, Ds = (config.get(k, d) for k, d in (("latent_channels", 128), ("text_dim", 768),
                                                     ("clip_dim", 768), ("sync_dim", 768)))
    n3, n1 = config["depth_triple"], config["depth_single"]
    Lj = L + Lv
    triple = 36 * H * H + 6 * Lj * H * H + 6 * Lj * H * H + 4 * Lt * H * H + 4 * Lj * Lj * H + 4 * Lj * Lt * H \
        + 4 * Lj * H * F
    last = 36 * H * H + 6 * Lj * H * H + 6 * L * H * H + 4 * Lt * H * H + 4 * L * Lj * H + 4 * L * Lt * H \
        + 4 * L * H * F
    single = 12 * L * H * H + 6 * L * H * H + 4 * L * L * H + 6 * L * H * H + 18 * L * H * Fc
    embed = 2 * (256 * H + H * H) + 2 * Ls * Ds * H + 6 * Ls * H * Fc + 2 * Lt * (Dt * H + H * H) + 2 * L * C * H \
        + 2 * Lv * (2 * Dc * H + H * H) + 2 * L * H * C
    if n3 == 0:
        blocks = 0
    else:
        blocks = (n3 - 1) * triple + last
    return batch * (embed + blocks + n1 * single)


def sampling_flops(config, batch, audio_len, visual_len, text_len, sync_len, steps, cfg=4.5, window=None,
                   overlap=None):
    """FLOPs of the whole denoising loop; with window/overlap (latent frames) the windowed path's windows."""
    calls = batch * (2 if cfg > 1 else 1)
    if window is None:
        spans = [(0, audio_len)]
    else:
        spans = window_spans(audio_len, window, overlap)
    per_step = 0
    for span in spans:
        if len(spans) == 1:
            lv, ls = visual_len, sync_len
        else:
            c, s = clip_slice(span, visual_len), sync_slice(span, sync_len)
            lv, ls = c.stop - c.start, s.stop - s.start
        per_step += mmdit_forward_flops(config, calls, span[1] - span[0], lv, text_len, ls)
    return steps * per_step
