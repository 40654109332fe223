"""The official flow-matching schedule and Euler loop with classifier-free guidance.

This is the reference sampler: the ComfyUI path (its own samplers driving the same model) is tested
against it. sigma runs from 1 (noise) to 0 (data); the model predicts the velocity dx/dsigma and sees
t = sigma * 1000.
"""
import contextlib

import torch

TIMESTEP_SCALE = 1000.0  # the model's t = sigma * 1000


def flow_sigmas(steps, shift=1.0):
    """[steps + 1] fp32 sigmas: linspace(1, 0) (torch's op, for bit-equal values), SD3-shifted if shift != 1."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    sigmas = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float32)
    if shift != 1.0:
        sigmas = shift * sigmas / (1 + (shift - 1) * sigmas)
    return sigmas


def _batch(feature, batch):
    return feature.expand(batch, *feature.shape[1:]) if feature.shape[0] == 1 else feature


def guidance_inputs(model, batch, text, neg_text, clip, sync):
    """Conditioning for one [uncond; cond] model call: uncond = negative prompt + learned empty visuals."""
    text, neg_text, clip, sync = (_batch(f, batch) for f in (text, neg_text, clip, sync))
    empty_clip = model.empty_clip(batch, clip.shape[1]).to(clip)
    empty_sync = model.empty_sync(batch, sync.shape[1]).to(sync)
    return torch.cat([neg_text, text]), torch.cat([empty_clip, clip]), torch.cat([empty_sync, sync])


@torch.no_grad()
def sample_euler_cfg(model, noise, text, neg_text, clip, sync, steps, cfg=4.5, shift=1.0, callback=None):
    """Denoise `noise` [B, 128, L] and return the final fp32 latent.

    Features with batch 1 are repeated to B. With cfg <= 1 the unconditional branch is skipped, as in
    the official loop. `callback(step, total, latent)` runs after every step (progress, cancel).
    """
    batch = noise.shape[0]
    sigmas = flow_sigmas(steps, shift).to(noise.device)
    guided = cfg > 1.0
    if guided:
        text_in, clip_in, sync_in = guidance_inputs(model, batch, text, neg_text, clip, sync)
    else:
        text_in, clip_in, sync_in = (_batch(f, batch) for f in (text, clip, sync))
    # work that depends on neither the latent nor the timestep is done once per run (per window)
    scope = getattr(model, "cached_conditions", None)
    with scope() if scope is not None else contextlib.nullcontext():
        return _euler_loop(model, noise, sigmas, steps, cfg, guided, text_in, clip_in, sync_in, callback)


def _euler_loop(model, x, sigmas, steps, cfg, guided, text_in, clip_in, sync_in, callback):
    for i in range(steps):
        x_in = torch.cat([x, x]) if guided else x
        t = (sigmas[i] * TIMESTEP_SCALE).expand(x_in.shape[0])
        v = model(x_in, t, text_in, clip_in, sync_in).float()
        if guided:
            v_uncond, v_cond = v.chunk(2)
            v = v_uncond + cfg * (v_cond - v_uncond)
        x = x.float() + v * (sigmas[i + 1] - sigmas[i])
        if callback is not None:
            callback(i + 1, steps, x)
    return x.float()
