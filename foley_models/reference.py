"""A reference sound in context: what the result sounds like comes from a recording, when from the video.

The model attends jointly over every latent frame it is given. The reference's latent is put right before the
latent of each window (and of a clip that fits one window), with no gap, as the recording the window continues:
the model was trained on contiguous audio, so sound right before a frame is the context it has learned to
continue, and a gap would cost frames that are generated and thrown away. Like an inpainting region, the
reference is kept exact: at every step it enters as (1 - sigma) * reference + sigma * noise for that step's
sigma with one fixed noise, its video features are the learned "no video" ones, and its part of the model's
output is dropped, so the result keeps the clip's length. The model was not trained for this.

The reference's features are made at the window's own rates (Synchformer tokens and SigLIP2 frames per latent
frame): the model stretches each feature over the whole latent it sees, and equal rates keep the window's own
features on its own frames. Synchformer tokens come in segments of 8, so the prefix is the reference's first
frames, as many as give whole segments at that rate (all of a reference of whole seconds in a 10 s window).
"""
import functools
import logging

import torch

from .dac_vae import DAC_CONFIG
from .media import LATENT_RATE
from .mmdit import tensor_identity
from .sampling import TIMESTEP_SCALE
from .synchformer import TEMPORAL_TOKENS

# Every window attends over its own frames and the reference's: a reference adds its frames to each window
# (attention cost grows with the square of the frames a window sees). 4 s of a sound shows its timbre.
MAX_REFERENCE_FRAMES = 4 * LATENT_RATE
MIN_REFERENCE_FRAMES = LATENT_RATE // 2
NOISE_SEED = 20250717  # the reference's noise: one fixed draw, the same at every step and on every device
# a prefix whose features' duration differs from its own by more than this (in latent frames) is shortened
ALIGNMENT_TOLERANCE = 1.0
LATENT_CHANNELS = DAC_CONFIG["latent_dim"]
# windows whose prefixed features with_reference keeps (the model's conditions cache is bounded the same way)
MAX_PREFIXED_WINDOWS = 64

log = logging.getLogger(__name__)


def join_references(latents, max_frames=MAX_REFERENCE_FRAMES):
    """One reference latent [B, C, R] from several ([B or 1, C, L] each, in order, end to end), cut to
    max_frames with a warning that says so."""
    latents = list(latents)
    if not latents:
        raise ValueError("no reference latent given")
    for latent in latents:
        _check_foley_latent(latent)
    batch = max(latent.shape[0] for latent in latents)
    if any(latent.shape[0] not in (1, batch) for latent in latents):
        raise ValueError(f"references of batch sizes {[latent.shape[0] for latent in latents]} cannot be joined: "
                         f"give each one item or all the same number")
    joined = torch.cat([latent.expand(batch, -1, -1) for latent in latents], dim=-1)
    frames = joined.shape[-1]
    if frames < MIN_REFERENCE_FRAMES:
        raise ValueError(f"the reference sound is {frames / LATENT_RATE:.2f} s long; it must be at least "
                         f"{MIN_REFERENCE_FRAMES / LATENT_RATE:.2f} s")
    if frames > max_frames:
        log.warning("reference sound cut from %.2f s to its first %.2f s: every window attends to the reference "
                    "as well as its own frames, so its length is added to each window's cost", frames / LATENT_RATE,
                    max_frames / LATENT_RATE)
        joined = joined[..., :max_frames]
    return joined


def _check_foley_latent(latent):
    shape = tuple(latent.shape)
    if latent.dim() == 3 and shape[1] == LATENT_CHANNELS:
        return
    cause = (f"a latent of another audio VAE ({shape[1]} channels, e.g. core VAEEncodeAudio)" if latent.dim() == 3
             else "not an audio latent (an image or video latent has another rank)")
    raise ValueError(f"the reference latent has shape {shape}: {cause}. A reference must be a Foley latent "
                     f"[batch, {LATENT_CHANNELS} channels, frames]: encode the reference sound with FoleyVAEEncode")


@functools.lru_cache(maxsize=64)
def prefix_lengths(reference_frames, length, sync_len, clip_len):
    """(latent frames, Synchformer tokens, SigLIP2 frames) of the reference prefix before a window of `length`
    latent frames that has sync_len tokens and clip_len frames.

    The longest prefix of at most reference_frames whose token count (whole segments) and frame count match its
    duration at the window's rates within ALIGNMENT_TOLERANCE latent frames; where none does, the closest."""
    sync_rate, clip_rate = sync_len / length, clip_len / length
    best = None
    for frames in range(reference_frames, 0, -1):
        tokens = round(frames * sync_rate / TEMPORAL_TOKENS) * TEMPORAL_TOKENS
        clips = round(frames * clip_rate)
        if tokens == 0 or clips == 0:
            continue
        error = max(abs(tokens / sync_rate - frames), abs(clips / clip_rate - frames))
        if error <= ALIGNMENT_TOLERANCE:
            return frames, tokens, clips
        if best is None or error < best[0]:
            best = (error, frames, tokens, clips)
    if best is None:
        raise ValueError(f"a reference of {reference_frames} latent frames is too short for a window of {length} "
                         f"frames with {sync_len} Synchformer tokens")
    return best[1:]


@functools.lru_cache(maxsize=8)
def reference_noise(shape, device):
    """The reference's fixed noise [1, C, R] (fp32): drawn on the CPU, so every device gets the same values;
    drawn once per shape and device, not at every step and window (callers only read it)."""
    generator = torch.Generator().manual_seed(NOISE_SEED)
    return torch.randn((1, *shape[1:]), generator=generator, dtype=torch.float32).to(device)


def noised_reference(reference, noise, sigma):
    """(1 - sigma) * reference + sigma * noise in fp32, sigma [B] (one per batch item)."""
    sigma = sigma.float().reshape(-1, 1, 1)
    return (1 - sigma) * reference.float() + sigma * noise


def with_reference(forward, reference, empty_clip, empty_sync, prefixed=None):
    """forward(x, t, text, clip, sync) with the reference [R items, C, frames] in context before x (see the
    module): the returned function takes and returns what forward does, for any window length.

    The model's batch is R items, or 2R (the unconditional and the conditional half of a guided call, each
    given the reference's items in order); a reference of one item goes with any batch.
    prefixed: a dict that keeps each window's prefixed features (WindowedMMDiT.cached_conditions), so that
    the model's conditions cache, which knows tensors by identity, sees the same ones at every step."""
    def prefixed_features(clip, sync, clips, tokens):
        def build():
            return (torch.cat([empty_clip(clip.shape[0], clips).to(clip), clip], dim=1),
                    torch.cat([empty_sync(sync.shape[0], tokens).to(sync), sync], dim=1))
        if prefixed is None:
            return build()
        key = (tensor_identity(clip), tensor_identity(sync), clips, tokens)
        hit = prefixed.get(key)
        if hit is None:
            if len(prefixed) >= MAX_PREFIXED_WINDOWS:
                prefixed.clear()
            # clip and sync are kept with them: while they live, no other tensor can take their identity
            hit = prefixed[key] = (clip, sync, *build())
        return hit[2:]

    def referenced(x, t, text, clip, sync):
        batch, items = x.shape[0], reference.shape[0]
        if items != 1 and batch not in (items, 2 * items):
            raise ValueError(f"the reference has {items} items for a model batch of {batch}: give it one item, "
                             f"or one per latent batch item")
        frames, tokens, clips = prefix_lengths(reference.shape[-1], x.shape[-1], sync.shape[1], clip.shape[1])
        noise = reference_noise(tuple(reference.shape), x.device)[..., :frames]
        sigma = t.to(x.device).float() / TIMESTEP_SCALE
        own = reference[..., :frames].to(x.device).repeat(batch // items, 1, 1)
        prefix = noised_reference(own, noise, sigma.expand(batch)).to(x.dtype)
        v = forward(torch.cat([prefix, x], dim=-1), t, text, *prefixed_features(clip, sync, clips, tokens))
        return v[..., frames:]
    return referenced
