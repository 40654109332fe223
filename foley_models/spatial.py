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


def smooth(values, times, time_constant):
    """A one-pole low-pass run forwards then backwards (no delay), its coefficient from each step's length
    (uneven frame times are fine). Each end is first extended by its point reflection over three time constants
    (as filtfilt pads), so a steady movement is followed to the last frame instead of lagging there. A step of
    dt moves the result by at most (range of the extended input) * dt / time_constant: each pass moves by a
    fraction 1 - exp(-dt / tau) <= dt / tau of a difference never larger than that range."""
    values = np.asarray(values, np.float64)
    times = np.asarray(times, np.float64)
    if time_constant < 0:
        raise ValueError(f"the smoothing time constant must be >= 0 s, got {time_constant}")
    if time_constant == 0 or values.size < 2:
        return values.copy()
    pad = int(min(values.size - 1, np.searchsorted(times - times[0], 3 * time_constant)))
    head, tail = slice(pad, 0, -1), slice(-2, -pad - 2, -1)
    values = np.concatenate([2 * values[0] - values[head], values, 2 * values[-1] - values[tail]])
    times = np.concatenate([2 * times[0] - times[head], times, 2 * times[-1] - times[tail]])
    alpha = 1.0 - np.exp(-np.diff(times) / time_constant)
    out = values.copy()
    for i in range(1, out.size):
        out[i] = out[i - 1] + alpha[i - 1] * (out[i] - out[i - 1])
    for i in range(out.size - 2, -1, -1):
        out[i] = out[i + 1] + alpha[i] * (out[i] - out[i + 1])
    return out[pad:out.size - pad]


def position_track(masks, times, smoothing=0.1):
    """PositionTrack of a mask batch [T, H, W] (values in [0, 1]) shown at `times` seconds. A frame whose
    mask is empty keeps the last known position (before the first non-empty one: the first known)."""
    masks = torch.as_tensor(masks).detach().to("cpu", torch.float64)
    if masks.ndim != 3 or masks.shape[0] == 0:
        raise ValueError(f"masks must be [frames, height, width], got shape {list(masks.shape)}")
    times = np.asarray(times, np.float64)
    if times.shape != (masks.shape[0],):
        raise ValueError(f"{masks.shape[0]} masks but {times.size} frame times")
    if not torch.isfinite(masks).all():
        raise ValueError("the mask batch has non-finite values (NaN or infinity)")
    masks = masks.clamp(0, 1)
    height, width = masks.shape[1:]
    column_x = (torch.arange(width, dtype=torch.float64) + 0.5) / width * 2 - 1  # pixel centres
    weight = masks.sum(dim=(1, 2)).numpy()
    moment = (masks.sum(dim=1) * column_x).sum(dim=1).numpy()
    seen = weight > 1e-9
    if not seen.any():
        raise ValueError("every mask is empty: there is no object to follow")
    x = np.where(seen, moment / np.where(seen, weight, 1.0), np.nan)
    known = np.flatnonzero(seen)
    held = known[np.maximum(np.searchsorted(known, np.arange(x.size), side="right") - 1, 0)]
    x = x[held]
    area = weight / (height * width)
    return PositionTrack(times, np.clip(smooth(x, times, smoothing), -1, 1),
                         np.clip(smooth(area, times, smoothing), 0, 1))


def track_at(track, sample_times):
    """(x, area) at `sample_times` by linear interpolation between frames, held before the first and after the
    last frame."""
    return np.interp(sample_times, track.times, track.x), np.interp(sample_times, track.times, track.area)


def pan_angle(position, width=1.0):
    """Constant-power angle: 0 hard left, pi/2 hard right; cos and sin of it are the left and right gains."""
    return (np.clip(np.asarray(position) * width, -1.0, 1.0) + 1.0) * math.pi / 4


def closeness_gain(area, closeness_db):
    """Linear gain from the covered area: 0 dB where the source looks largest, down to -closeness_db as its
    apparent size (the square root of its area) goes to zero."""
    if closeness_db == 0:
        return np.ones_like(area)
    size = np.sqrt(np.maximum(area, 0.0))
    largest = size.max()
    relative = size / largest if largest > 0 else np.ones_like(size)
    return 10.0 ** (closeness_db * (relative - 1.0) / 20.0)


def _delayed(signal, delay_samples):
    """signal [B, N] read `delay_samples` [N] (fractional, >= 0) later, by linear interpolation."""
    positions = np.arange(signal.shape[-1]) - delay_samples
    index = np.arange(signal.shape[-1])
    return np.stack([np.interp(positions, index, s, left=0.0) for s in signal])


def pan(waveform, sample_rate, track, start_time=0.0, width=1.0, interaural_delay_ms=0.0, closeness_db=0.0):
    """Mono audio [B, 1, N] or [B, N] (or stereo, mixed to mono first) -> stereo [B, 2, N] following `track`.

    Sample n plays at start_time + n / sample_rate seconds of the video; the track (smoothed at frame rate)
    is interpolated linearly to every sample, so the gains move as smoothly as the track: no zipper steps."""
    wave = torch.as_tensor(waveform).detach().to("cpu", torch.float32)
    if wave.ndim == 3:
        if wave.shape[1] not in (1, 2):
            raise ValueError(f"panning takes mono or stereo audio, got {wave.shape[1]} channels")
        wave = wave.mean(dim=1)
    if wave.ndim != 2 or wave.shape[-1] == 0:
        raise ValueError(f"audio must be [batch, channels, samples] with samples, got shape {list(wave.shape)}")
    if not 0 <= interaural_delay_ms <= MAX_INTERAURAL_DELAY_MS:
        raise ValueError(f"interaural_delay_ms must be in [0, {MAX_INTERAURAL_DELAY_MS}], got {interaural_delay_ms}")
    if not 0 <= width <= 1:
        raise ValueError(f"width must be in [0, 1], got {width}")
    mono = wave.numpy().astype(np.float64)
    x, area = track_at(track, start_time + np.arange(mono.shape[-1]) / sample_rate)
    theta = pan_angle(x, width)
    level = closeness_gain(area, closeness_db)
    left, right = mono, mono
    if interaural_delay_ms:
        placed = np.clip(x * width, -1.0, 1.0)
        far = interaural_delay_ms * 1e-3 * sample_rate * np.abs(placed)
        left = _delayed(mono, np.where(placed > 0, far, 0.0))  # a source on the right reaches the left ear later
        right = _delayed(mono, np.where(placed < 0, far, 0.0))
    stereo = np.stack([left * (np.cos(theta) * level), right * (np.sin(theta) * level)], axis=1)
    return torch.from_numpy(stereo.astype(np.float32))
