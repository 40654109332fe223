"""Where a sound's source is on screen, and stereo that follows it.

A position track is read from a mask per video frame: x is the mask-weighted centroid across the picture
(-1 left edge, +1 right edge), `area` the fraction of the picture the mask covers (a proxy for closeness),
smoothed in time. Panning is amplitude panning of a mono source by the constant-power law, with an optional
small interaural delay on the far ear; it places a source between the speakers, it is not binaural rendering.
"""
import math
from dataclasses import dataclass

import numpy as np
import torch

from .dsp import mono_mix

MAX_INTERAURAL_DELAY_MS = 0.7  # about the largest delay between the ears of a human head


@dataclass
class PositionTrack:
    times: np.ndarray  # float64 [T] seconds of the video, increasing
    x: np.ndarray  # float64 [T] in [-1, 1]: -1 the left edge of the picture, +1 the right
    area: np.ndarray  # float64 [T] in [0, 1]: fraction of the picture covered

    def __post_init__(self):
        self.times, self.x, self.area = (np.asarray(a, np.float64) for a in (self.times, self.x, self.area))
        if not (self.times.ndim == 1 and self.times.shape == self.x.shape == self.area.shape and self.times.size):
            raise ValueError(f"a position track needs times, x and area of one equal non-zero length, got shapes "
                             f"{self.times.shape}, {self.x.shape}, {self.area.shape}")
        if np.any(np.diff(self.times) <= 0):
            raise ValueError("the position track's times must increase")


def _one_pole_there_and_back(values, alpha):
    out = values.copy()
    for i in range(1, out.size):
        out[i] = out[i - 1] + alpha[i - 1] * (out[i] - out[i - 1])
    for i in range(out.size - 2, -1, -1):
        out[i] = out[i + 1] + alpha[i] * (out[i] - out[i + 1])
    return out


def effective_time_constant(times, time_constant):
    """The time constant `smooth` uses: the one asked for, at most a third of the clip's span, so that the
    three time constants each end is extended by fit in one reflection of the clip."""
    times = np.asarray(times, np.float64)
    return min(time_constant, (times[-1] - times[0]) / 3) if times.size > 1 else time_constant


def smooth(values, times, time_constant):
    """A one-pole low-pass run forwards then backwards (no delay), its coefficient from each step's length
    (uneven frame times are fine), averaged with the same run backwards then forwards, so that reversing the
    input in time reverses the output: both ends are treated alike. Each end is first extended by its point
    reflection over three time constants (as filtfilt pads), so a steady movement is followed to the last frame
    instead of lagging there. On a clip shorter than three time constants, the time constant is cut to a third
    of the clip (effective_time_constant): one reflection then covers the padding, and a longer one would only
    spread the ends' transients over the whole clip. A step of dt moves the result by at most (range of the
    extended input) * dt / (time constant used): each pass moves by a fraction 1 - exp(-dt / tau) <= dt / tau
    of a difference never larger than that range."""
    values = np.asarray(values, np.float64)
    times = np.asarray(times, np.float64)
    if time_constant < 0:
        raise ValueError(f"the smoothing time constant must be >= 0 s, got {time_constant}")
    time_constant = effective_time_constant(times, time_constant)
    if time_constant == 0 or values.size < 2:
        return values.copy()
    # frames over three time constants at each end (uneven frame times: not as many at both); the reach is cut
    # a hair short, so that a frame right on it counts alike from both ends whatever the times' rounding
    reach = 3 * time_constant * (1 - 1e-9)
    before = int(min(values.size - 1, np.searchsorted(times - times[0], reach)))
    after = int(min(values.size - 1, np.searchsorted(times[-1] - times[::-1], reach)))
    head, tail = slice(before, 0, -1), slice(-2, -after - 2, -1)
    values = np.concatenate([2 * values[0] - values[head], values, 2 * values[-1] - values[tail]])
    times = np.concatenate([2 * times[0] - times[head], times, 2 * times[-1] - times[tail]])
    alpha = 1.0 - np.exp(-np.diff(times) / time_constant)
    out = 0.5 * (_one_pole_there_and_back(values, alpha)
                 + _one_pole_there_and_back(values[::-1], alpha[::-1])[::-1])
    return out[before:out.size - after]


MASK_CHUNK_ELEMENTS = 1 << 22  # mask pixels reduced at a time: 16 MB in float32


def position_track(masks, times, smoothing=0.1):
    """PositionTrack of a mask batch [T, H, W] (values in [0, 1]; [H, W] is one frame) shown at `times`
    seconds. A frame whose mask is empty keeps the last known position and area (before the first non-empty
    one: the first known). The masks are read a chunk of frames at a time in float32 (sums in float64), so
    no copy of the whole batch is made."""
    masks = torch.as_tensor(masks).detach()
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3 or masks.shape[0] == 0:
        raise ValueError(f"masks must be [frames, height, width], got shape {list(masks.shape)}")
    times = np.asarray(times, np.float64)
    if times.shape != (masks.shape[0],):
        raise ValueError(f"{masks.shape[0]} masks but {times.size} frame times")
    height, width = masks.shape[1:]
    column_x = (torch.arange(width, dtype=torch.float64) + 0.5) / width * 2 - 1  # pixel centres
    weight, moment = np.empty(masks.shape[0]), np.empty(masks.shape[0])
    step = max(1, MASK_CHUNK_ELEMENTS // max(1, height * width))
    for first in range(0, masks.shape[0], step):
        chunk = masks[first:first + step].to("cpu", torch.float32)
        if not torch.isfinite(chunk).all():
            raise ValueError("the mask batch has non-finite values (NaN or infinity)")
        chunk = chunk.clamp(0, 1)  # a new tensor: the caller's masks are left as they are
        columns = chunk.sum(dim=1, dtype=torch.float64)  # [frames, width]
        weight[first:first + step] = columns.sum(dim=1).numpy()
        moment[first:first + step] = (columns * column_x).sum(dim=1).numpy()
    seen = weight > 1e-9
    if not seen.any():
        raise ValueError("every mask is empty: there is no object to follow")
    known = np.flatnonzero(seen)
    held = known[np.maximum(np.searchsorted(known, np.arange(weight.size), side="right") - 1, 0)]
    x = moment[held] / weight[held]
    area = weight[held] / (height * width)
    return PositionTrack(times, np.clip(smooth(x, times, smoothing), -1, 1),
                         np.clip(smooth(area, times, smoothing), 0, 1))


def track_at(track, sample_times):
    """(x, area) at `sample_times` by linear interpolation between frames, held before the first and after the
    last frame."""
    return np.interp(sample_times, track.times, track.x), np.interp(sample_times, track.times, track.area)


def pan_angle(position, width=1.0):
    """Constant-power angle: 0 hard left, pi/2 hard right; cos and sin of it are the left and right gains."""
    return (np.clip(np.asarray(position) * width, -1.0, 1.0) + 1.0) * math.pi / 4


def closeness_gain(area, closeness_db, largest_area=None):
    """Linear gain from the covered area: 0 dB where the source looks largest (`largest_area`, by default the
    largest in `area`), down to -closeness_db as its apparent size (the square root of its area) goes to zero."""
    if closeness_db == 0:
        return np.ones_like(area)
    size = np.sqrt(np.maximum(area, 0.0))
    largest = size.max() if largest_area is None else math.sqrt(max(largest_area, 0.0))
    relative = size / largest if largest > 0 else np.ones_like(size)
    return 10.0 ** (closeness_db * (relative - 1.0) / 20.0)


PAN_BLOCK = 1 << 18  # samples panned at a time: the float64 temporaries stay a few MB whatever the length


def _blocks(length, block=PAN_BLOCK):
    return ((first, min(first + block, length)) for first in range(0, length, block))


def _delayed(signal, delay_samples, first, stop):
    """signal [B, N] read `delay_samples` [stop - first] (fractional, 0 <= delay < first's history) later, at
    samples first..stop-1, by linear interpolation; silence before the signal starts."""
    history = max(0, first - math.ceil(delay_samples.max(initial=0.0)) - 1)
    positions = np.arange(first, stop) - delay_samples
    index = np.arange(history, stop)
    return np.stack([np.interp(positions, index, s, left=0.0) for s in signal[:, history:stop]])


def pan(waveform, sample_rate, track, start_time=0.0, width=1.0, interaural_delay_ms=0.0, closeness_db=0.0):
    """Mono audio [B, 1, N] or [B, N] (or stereo, mixed to mono first) -> stereo [B, 2, N] following `track`.

    Sample n plays at start_time + n / sample_rate seconds of the video; the track (smoothed at frame rate)
    is interpolated linearly to every sample, so the gains move as smoothly as the track: no zipper steps.
    Worked out PAN_BLOCK samples at a time."""
    wave = torch.as_tensor(waveform).detach().to("cpu", torch.float32)
    if wave.ndim == 3:
        if wave.shape[1] not in (1, 2):
            raise ValueError(f"panning takes mono or stereo audio, got {wave.shape[1]} channels")
        wave = torch.stack([mono_mix(item) for item in wave])
    if wave.ndim != 2 or wave.shape[-1] == 0:
        raise ValueError(f"audio must be [batch, channels, samples] with samples, got shape {list(wave.shape)}")
    if not 0 <= interaural_delay_ms <= MAX_INTERAURAL_DELAY_MS:
        raise ValueError(f"interaural_delay_ms must be in [0, {MAX_INTERAURAL_DELAY_MS}], got {interaural_delay_ms}")
    if not 0 <= width <= 1:
        raise ValueError(f"width must be in [0, 1], got {width}")
    mono = wave.numpy()
    length = mono.shape[-1]

    def sample_times(first, stop):
        return start_time + np.arange(first, stop) / sample_rate

    largest_area = max(float(np.interp(sample_times(a, b), track.times, track.area).max())
                       for a, b in _blocks(length)) if closeness_db else None
    stereo = np.empty((mono.shape[0], 2, length), np.float32)
    for first, stop in _blocks(length):
        x, area = track_at(track, sample_times(first, stop))
        theta = pan_angle(x, width)
        level = closeness_gain(area, closeness_db, largest_area)
        left = right = mono[:, first:stop].astype(np.float64)
        if interaural_delay_ms:
            placed = np.clip(x * width, -1.0, 1.0)
            far = interaural_delay_ms * 1e-3 * sample_rate * np.abs(placed)
            # a source on the right reaches the left ear later
            left = _delayed(mono, np.where(placed > 0, far, 0.0), first, stop)
            right = _delayed(mono, np.where(placed < 0, far, 0.0), first, stop)
        stereo[:, 0, first:stop] = left * (np.cos(theta) * level)
        stereo[:, 1, first:stop] = right * (np.sin(theta) * level)
    return torch.from_numpy(stereo)
