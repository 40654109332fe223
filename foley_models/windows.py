"""Any length from a model trained on ~10 s clips: the MMDiT is evaluated on overlapping windows of the
latent at every sampling step and the windows' velocities are blended into one, so one continuous
latent is sampled (no seams from stitching separately sampled pieces).

Each window sees its own slice of every feature on that feature's grid: Synchformer tokens by whole
segments (a window starts on a multiple of 16 latent frames, the segment step of 8 frames at 25 fps),
SigLIP2 frames at 8 fps, the text whole. Blend weights are 1 inside a window, rise and fall as a raised
cosine across each overlap, and are normalised so that they sum to one at every latent frame.
"""
import contextlib
import math

import torch

from .media import LATENT_RATE, SIGLIP2_FPS, SYNCHFORMER_FPS
from .reference import join_references, with_reference
from .synchformer import SEGMENT_STEP, TEMPORAL_TOKENS, segment_count

SEGMENT_STEP_LATENT = SEGMENT_STEP * LATENT_RATE // SYNCHFORMER_FPS  # 16: latent frames between segment starts
# the windows used unless chosen otherwise (FoleyWindowing), in latent frames: 10 s, 2 s
DEFAULT_WINDOW = 10 * LATENT_RATE
DEFAULT_OVERLAP = 2 * LATENT_RATE
DEFAULT_WINDOW_SECONDS = DEFAULT_WINDOW / LATENT_RATE
DEFAULT_OVERLAP_SECONDS = DEFAULT_OVERLAP / LATENT_RATE


def window_spans(length, window, overlap):
    """[(start, end)] latent frames of the windows covering [0, length).

    As few windows as a stride of window - overlap needs, spread evenly, their starts on the segment
    step; all are `window` long but the last, which ends at `length` (up to 15 frames longer). Every
    overlap is then at least `overlap`.
    """
    if window < 2 * SEGMENT_STEP_LATENT:
        raise ValueError(f"window must be at least {2 * SEGMENT_STEP_LATENT} latent frames, got {window}")
    if not 0 <= overlap <= window // 2:
        raise ValueError(f"overlap must be in [0, window / 2], got {overlap} for a window of {window}")
    last = (length - window) // SEGMENT_STEP_LATENT
    if length <= window or last == 0:
        return [(0, length)]
    # in segment steps: integer starts spread evenly, no two further apart than the stride
    stride = max(1, (window - overlap) // SEGMENT_STEP_LATENT)
    count = -(-last // stride) + 1
    starts = [k * last // (count - 1) * SEGMENT_STEP_LATENT for k in range(count)]
    return [(s, s + window) for s in starts[:-1]] + [(starts[-1], length)]


def blend_weights(spans, length, dtype=torch.float32, device=None):
    """[len(spans), length] weights: zero outside a window, a raised-cosine ramp where it overlaps its
    neighbours, normalised to sum to one at every frame."""
    position = torch.arange(length, dtype=torch.float64, device=device)
    weights = torch.zeros(len(spans), length, dtype=torch.float64, device=device)
    for i, (start, end) in enumerate(spans):
        w = ((position >= start) & (position < end)).double()
        if i > 0 and spans[i - 1][1] > start:  # rise across the overlap with the previous window
            ramp = spans[i - 1][1] - start
            w = w * raised_cosine((position - start + 0.5) / ramp)
        if i + 1 < len(spans) and spans[i + 1][0] < end:  # fall across the overlap with the next one
            ramp = end - spans[i + 1][0]
            w = w * raised_cosine((end - position - 0.5) / ramp)
        weights[i] = w
    return (weights / weights.sum(0, keepdim=True)).to(dtype)


def raised_cosine(u):
    """0 at u <= 0, 1 at u >= 1, a half cosine between (its complement mirrored: f(u) + f(1 - u) = 1)."""
    return torch.where(u >= 1, 1.0, 0.5 - 0.5 * torch.cos(math.pi * u.clamp(0, 1)))


def sync_slice(span, sync_len):
    """Synchformer tokens of a latent span [start, end): the whole segments an official run on that clip
    would encode (start is expected on the segment step, which window_spans and time ranges keep)."""
    start, end = span
    frames_25 = (end - start) * SYNCHFORMER_FPS // LATENT_RATE
    first = max(0, min(start // SEGMENT_STEP_LATENT * TEMPORAL_TOKENS, sync_len - TEMPORAL_TOKENS))
    return slice(first, min(sync_len, first + segment_count(frames_25) * TEMPORAL_TOKENS))


def clip_slice(span, clip_len):
    """SigLIP2 frames (8 fps) of a latent span [start, end)."""
    start, end = span
    first = min(round(start * SIGLIP2_FPS / LATENT_RATE), clip_len - 1)
    return slice(first, max(first + 1, min(clip_len, math.ceil(end * SIGLIP2_FPS / LATENT_RATE))))


def windowed(forward, x, t, text, clip, sync, window, overlap, before_window=None):
    """forward(x, t, text, clip, sync) -> velocity, evaluated on windows of the latent x [B, C, L] and
    blended. A latent that fits one window is passed through unchanged (the single-window path).
    before_window() runs before each window of a split latent (e.g. a cancel check within a long step)."""
    length = x.shape[-1]
    spans = window_spans(length, window, overlap)
    if len(spans) == 1:
        return forward(x, t, text, clip, sync)
    weights = blend_weights(spans, length, device=x.device)
    out = None
    for span, weight in zip(spans, weights):
        if before_window is not None:
            before_window()
        v = forward(x[..., span[0]:span[1]], t, text, clip[:, clip_slice(span, clip.shape[1])],
                    sync[:, sync_slice(span, sync.shape[1])])
        if out is None:
            out = torch.zeros(*v.shape[:-1], length, dtype=torch.float32, device=v.device)
        out[..., span[0]:span[1]] += v.float() * weight[span[0]:span[1]]
    return out.to(v.dtype)


class WindowedMMDiT(torch.nn.Module):
    """An MMDiT evaluated on windows: a drop-in for the model in sampling.sample_euler_cfg at any length.

    references: latents [B or 1, 128, L] of reference sounds (reference.py), joined in order; each window (and
    a clip that fits one) then sees them before its own frames, in both the conditional and the unconditional
    branch, item i of the reference with item i of the batch."""

    def __init__(self, model, window=DEFAULT_WINDOW, overlap=DEFAULT_OVERLAP, references=None):
        super().__init__()
        self.model, self.window, self.overlap = model, window, overlap
        self.reference = join_references(references) if references else None
        self._prefixed = None  # inside cached_conditions(): each window's features with the reference's before them

    def forward(self, x, t, text, clip, sync):
        forward = self.model
        if self.reference is not None:
            forward = with_reference(forward, self.reference, self.model.empty_clip, self.model.empty_sync,
                                     self._prefixed)
        return windowed(forward, x, t, text, clip, sync, self.window, self.overlap)

    @contextlib.contextmanager
    def cached_conditions(self):
        """The model's cached_conditions; with a reference, each window's prefixed features are also built
        once, so that the model's cache recognises them at every step."""
        saved = self._prefixed
        if saved is None:
            self._prefixed = {}
        try:
            with self.model.cached_conditions():
                yield self
        finally:
            self._prefixed = saved

    def empty_clip(self, batch, length):
        return self.model.empty_clip(batch, length)

    def empty_sync(self, batch, length):
        return self.model.empty_sync(batch, length)
