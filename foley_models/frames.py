"""The frames the video encoders take: a video file or an image batch (+ optional masks) -> uint8 frame chunks.

Frames are picked by the official rule (media.frame_indices) at the encoder's rate, quantised to uint8 before
any resizing (official frames come from the decoder as uint8: synchformer.md Q-S4), each distinct frame
transformed once, and handed on in chunks so that a video of any length is never held whole.

Object focus: a mask per source frame keeps what is inside it and suppresses the rest before the encoder's
resize. Outside the mask the frame is filled with the mean colour of the suppressed region, and the mask's edge
is feathered. A flat fill removes the detail and the motion of everything else (a blur would keep coarse
moving blobs, which the Synchformer reads as motion), while keeping the scene's overall tone, so SigLIP2 sees
a plain backdrop rather than a black frame (black is itself content: "a dark scene"). The feather avoids a
hard cut-out contour, an edge that no training frame had. A full mask returns the frame itself, so features
without a mask and with a full one are bit-identical.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from . import media

FEATHER = 0.01  # Gaussian sigma of the mask's edge, as a fraction of the frame's shorter side
_CHUNK = 64


def _check_masks(masks):
    """float32 [T, H, W] on the CPU (the input itself when it is that already, not clamped: each mask is
    clamped to [0, 1] when it is used), its values checked a few frames at a time."""
    masks = torch.as_tensor(masks)
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3 or masks.shape[0] == 0:
        raise ValueError(f"masks must be [frames, height, width], got shape {list(masks.shape)}")
    masks = masks.detach().to("cpu", torch.float32)
    step = max(1, (1 << 22) // max(1, masks[0].numel()))
    if not all(torch.isfinite(masks[i:i + step]).all() for i in range(0, masks.shape[0], step)):
        raise ValueError("the mask batch has non-finite values (NaN or infinity)")
    return masks


def _gaussian_blur(plane, sigma):
    """[H, W] float32 tensor blurred separably, edges replicated (so a constant plane stays constant)."""
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
    taps = taps / taps.sum()
    x = plane[None, None]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), taps.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), taps.view(1, 1, -1, 1))
    return x[0, 0]


def mask_weights(mask, height, width):
    """float32 [height, width] in [0, 1]: `mask` bilinearly resized to the frame and its edge feathered."""
    mask = torch.as_tensor(mask, dtype=torch.float32)
    if tuple(mask.shape) != (height, width):
        mask = F.interpolate(mask[None, None], size=(height, width), mode="bilinear", align_corners=False)[0, 0]
    sigma = FEATHER * min(height, width)
    if sigma >= 0.3:
        mask = _gaussian_blur(mask, sigma)
    return mask.clamp(0, 1)


def is_full(mask):
    return bool(torch.as_tensor(mask).min() >= 1.0)


def _suppression(mask, height, width):
    """(keep, outside, outside's sum) of a mask that is not full: float32 [height, width, 1] weights."""
    keep = mask_weights(mask, height, width).numpy()[..., None]
    outside = 1.0 - keep
    return keep, outside, float(outside.sum())


def _suppress(frame_u8, suppression):
    keep, outside, weight = suppression
    frame = frame_u8.astype(np.float32)
    # the suppressed region's own colour, so the focused object's colour does not tint the backdrop
    fill = (frame * outside).sum(axis=(0, 1)) / weight if weight > 1e-6 else frame.mean(axis=(0, 1))
    out = frame * keep + fill * outside
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def apply_mask(frame_u8, mask):
    """uint8 [H, W, 3] with everything outside `mask` ([h, w] in [0, 1], any size) suppressed; a full mask
    returns `frame_u8` itself."""
    if is_full(mask):
        return frame_u8
    return _suppress(frame_u8, _suppression(mask, *frame_u8.shape[:2]))


class _SourceMasks:
    """The mask of each source frame: one for all frames, or one per frame (`count` frames, when known).
    `apply` keeps the last few masks' weights at each frame size: a single mask is resized and feathered once."""

    _KEPT_WEIGHTS = 4

    def __init__(self, masks, count=None):
        self.masks = _check_masks(masks)
        self.count = count
        self._weights = {}  # (mask index, height, width) -> _suppression, or None for a full mask
        if count is not None and len(self.masks) not in (1, count):
            raise ValueError(f"the mask batch has {len(self.masks)} masks but the video has {count} frames: give "
                             f"one mask per frame of the video (e.g. made from its GetVideoComponents images) "
                             f"or a single mask for all frames")

    def _index(self, index):
        if len(self.masks) == 1:
            return 0
        if not 0 <= index < len(self.masks):
            raise ValueError(f"the mask batch has {len(self.masks)} masks but the video has a frame {index} (counted "
                             f"from 0): give one mask per frame of the video or a single mask for all frames")
        return index

    def __getitem__(self, index):
        return self.masks[self._index(index)].clamp(0, 1)

    def apply(self, frame_u8, index):
        """apply_mask(frame_u8, self[index]), its weights computed once per mask and frame size."""
        index = self._index(index)
        key = (index, *frame_u8.shape[:2])
        if key not in self._weights:
            if len(self._weights) >= self._KEPT_WEIGHTS:
                del self._weights[next(iter(self._weights))]  # the oldest: frames come in order
            mask = self[index]
            self._weights[key] = None if is_full(mask) else _suppression(mask, *frame_u8.shape[:2])
        suppression = self._weights[key]
        return frame_u8 if suppression is None else _suppress(frame_u8, suppression)


class FrameChunks:
    """Iterable of uint8 frame chunks [t, h, w, 3] for an encoder; `frames_25` (after iterating, for a file)
    is how many frames the official rule picks at 25 fps in the same window, which fixes the audio length."""

    def __init__(self, chunks, frames_25):
        self._chunks, self._frames_25 = chunks, frames_25

    def __iter__(self):
        return iter(self._chunks())

    @property
    def frames_25(self):
        return self._frames_25()


def image_batch_frames(images, fps, rate, start=0.0, duration=None, transform=None, masks=None):
    """FrameChunks of an image batch (float [N, H, W, C] in [0, 1], frame i at i / fps) picked at `rate`
    within [start, start + duration) (duration None: to the end). `masks` index the N source frames."""
    if not fps or fps <= 0:
        raise ValueError(f"fps must be > 0 for an image sequence, got {fps}")
    n_frames = images.shape[0]
    if start >= n_frames / fps:
        raise ValueError(f"the image sequence is {n_frames / fps:.2f} s long ({n_frames} frames at {fps:g} fps); "
                         f"start_time {start:g} s leaves nothing")
    source_masks = None if masks is None else _SourceMasks(masks, n_frames)
    window = dict(start=start, duration=duration, max_seconds=math.inf)
    picked = media.image_sequence_indices(n_frames, fps, rate, **window)
    frames_25 = len(media.image_sequence_indices(n_frames, fps, media.SYNCHFORMER_FPS, **window))

    def chunks():
        for first in range(0, len(picked), _CHUNK):
            part = picked[first:first + _CHUNK]
            distinct = sorted(set(part))
            u8 = (images[distinct, ..., :3] * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
            if source_masks is not None:
                u8 = [source_masks.apply(f, i) for f, i in zip(u8, distinct)]
            small = dict(zip(distinct, (transform(f) if transform else f for f in u8)))
            yield np.stack([small[i] for i in part])

    return FrameChunks(chunks, lambda: frames_25)


def first_shown_time(source, shown_from=None):
    """Seconds of the file at which the first frame a VIDEO of it shows is: the first frame whose timestamp
    is at or after `shown_from` (a trim's start; compared in the stream's time base as core ComfyUI does), or
    with None the file's first frame, whatever its timestamp (not always 0: MPEG-TS, some WebM/MP4)."""
    name = media.source_name(source)
    with media.decoded_frames_from(source, name, max(0.0, shown_from or 0.0)) as (_, decoded):
        for frame in decoded:
            if frame.pts is None or frame.time is None:
                return 0.0  # no timestamps: frames are counted from the first at 0 s (as media does)
            if shown_from is None or frame.pts >= int(shown_from / frame.time_base):
                return float(frame.time)
    raise ValueError(f"{name}: no video frame at or after {shown_from:g} s, where the video starts")


def video_file_frames(source, rate, start=0.0, duration=None, transform=None, masks=None, shown_from=None,
                      mask_fps=None):
    """FrameChunks of a video file's window [start, start + duration) picked at `rate`, decoded as consumed.

    `masks` index the frames of the VIDEO the user sees, as core GetVideoComponents numbers them: from the
    first frame at or after `shown_from` seconds of the file (the VIDEO's trim start; None: the file's first
    frame, see first_shown_time). The frame at t seconds of the file is mask round((t - t_first) * mask_fps),
    mask_fps being the video's frame rate."""
    source_masks = first = None
    if masks is not None:
        if not mask_fps or mask_fps <= 0:
            raise ValueError(f"the video's frame rate is needed to match masks to frames, got {mask_fps!r}")
        source_masks = _SourceMasks(masks)
        first = first_shown_time(source, shown_from)
    stream = media.VideoFrameStream(source, rate, start, duration, max_seconds=math.inf)

    def masked(frame):
        # called as each picked frame is decoded, right after its time (from `start`) joined stream.frame_times
        frame = source_masks.apply(frame, round((start + stream.frame_times[-1] - first) * mask_fps))
        return transform(frame) if transform else frame

    if source_masks is not None:
        stream.transform = masked
    else:
        stream.transform = transform

    def frames_25():
        return len(media.frame_indices(stream.frame_times, media.SYNCHFORMER_FPS, duration or math.inf))

    return FrameChunks(lambda: stream, frames_25)
