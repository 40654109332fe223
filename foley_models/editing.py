"""Time-limited edits of a Foley latent: prompts for a time range, inpainting masks, extension of given audio.

All times are seconds on the latent's clock (50 latent frames per second, t = 0 at the latent's first
frame). Ramps are raised cosines (windows.raised_cosine).
"""
import torch

from .media import LATENT_RATE
from .windows import SEGMENT_STEP_LATENT, raised_cosine


def to_frames(seconds, length):
    return max(0, min(length, round(seconds * LATENT_RATE)))


def _checked_range(length, start, end):
    first, last = to_frames(start, length), to_frames(end, length)
    if last <= first:
        raise ValueError(f"the time range {start:g}-{end:g} s is empty on a latent of {length / LATENT_RATE:.2f} s")
    return first, last


def inpaint_mask(length, start, end, fade):
    """[length] mask: 1 where the latent is generated anew, 0 where it is kept exactly. Inside [start, end)
    it rises from 0 and falls back to 0 over `fade` seconds, so nothing outside the range changes."""
    first, last = _checked_range(length, start, end)
    position = torch.arange(length, dtype=torch.float64) + 0.5
    ramp = max(fade * LATENT_RATE, 1e-9)
    mask = raised_cosine((position - first) / ramp) * raised_cosine((last - position) / ramp)
    mask[:first] = 0
    mask[last:] = 0
    return mask.float()


def time_range(length, start, end, softness):
    """(area, mask) limiting a conditioning to [start, end) with edges `softness` seconds wide outside it.

    area = (frames, offset) of the part of the latent the model sees for it: the range and its soft edges,
    the offset on the Synchformer segment step so that the video features are cut at whole segments."""
    first, last = _checked_range(length, start, end)
    soft = round(softness * LATENT_RATE)
    lo = max(0, first - soft) // SEGMENT_STEP_LATENT * SEGMENT_STEP_LATENT
    hi = min(length, max(last + soft, lo + 2 * SEGMENT_STEP_LATENT))
    lo = max(0, min(lo, hi - 2 * SEGMENT_STEP_LATENT) // SEGMENT_STEP_LATENT * SEGMENT_STEP_LATENT)
    position = torch.arange(length, dtype=torch.float64) + 0.5
    mask = torch.ones(length, dtype=torch.float64)
    if soft:
        mask = raised_cosine(1 - (first - position) / soft) * raised_cosine(1 - (position - last) / soft)
    mask[:lo] = 0
    mask[hi:] = 0
    mask[first:last] = 1
    return (hi - lo, lo), mask.float()


def extension(given, length):
    """(latent [B, C, length], mask [length]): the given latent kept at the start, the rest to generate."""
    if given.shape[-1] >= length:
        raise ValueError(f"the given audio ({given.shape[-1] / LATENT_RATE:.2f} s) is not shorter than the "
                         f"target ({length / LATENT_RATE:.2f} s): nothing to extend")
    latent = torch.zeros(*given.shape[:-1], length, dtype=given.dtype)
    latent[..., :given.shape[-1]] = given
    mask = torch.ones(length)
    mask[:given.shape[-1]] = 0
    return latent, mask
