"""Layers of sound -> one stereo mix at a target loudness under a true-peak ceiling.

Each layer keeps its place on the video's timeline (start_time) and has a gain and a pan; the mix starts at
the earliest layer. Loudness is ITU-R BS.1770 integrated loudness (K-weighting, 400 ms blocks, absolute and
relative gates; the K-weighting of torchaudio.functional.loudness, without its clipping). The ceiling is on the
true peak, estimated on the signal oversampled 4x (BS.1770 Annex 2); a mix whose peak would pass it is turned
down as a whole, never clipped or limited, so it ends quieter than the target, and the report says by how much.
"""
import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from .dsp import RESAMPLE_ROLLOFF, RESAMPLE_ZERO_CROSSINGS, require_finite_audio, resample_sinc
from .spatial import pan_angle

TRUE_PEAK_OVERSAMPLING = 4
GATING_BLOCK_SECONDS = 0.4  # one BS.1770 gating block: the shortest audio with a loudness


@dataclass
class Layer:
    waveform: torch.Tensor  # [C, N], C = 1 (panned by `pan`) or 2 (balanced by `pan`)
    sample_rate: int
    start_time: float = 0.0  # seconds of the video where the layer starts
    gain_db: float = 0.0
    pan: float = 0.0  # -1 left .. +1 right


def layer_stereo(layer):
    """float32 [2, N]: a mono layer panned by the constant-power law (each side -3 dB at the centre); a
    stereo layer balanced: the side away from `pan` is turned down by the same law, normalised so that the
    centre leaves both sides as they are (a stereo layer is never boosted)."""
    wave = torch.as_tensor(layer.waveform).detach().to("cpu", torch.float32)
    if wave.ndim != 2 or wave.shape[0] not in (1, 2) or wave.shape[1] == 0:
        raise ValueError(f"a layer must be mono or stereo [channels, samples], got shape {list(wave.shape)}")
    if not -1 <= layer.pan <= 1:
        raise ValueError(f"pan must be in [-1, 1], got {layer.pan}")
    theta = float(pan_angle(layer.pan))
    if wave.shape[0] == 1:
        gains = (math.cos(theta), math.sin(theta))
    else:
        gains = (min(1.0, math.sqrt(2) * math.cos(theta)), min(1.0, math.sqrt(2) * math.sin(theta)))
    gain = 10.0 ** (layer.gain_db / 20.0)
    return wave.expand(2, -1) * torch.tensor(gains, dtype=torch.float32)[:, None] * gain


def place_layers(layers):
    """(stereo float32 [2, N], sample_rate, start_time): the layers summed on one timeline at the highest of
    their sample rates, starting at the earliest layer."""
    if not layers:
        raise ValueError("no layers to mix")
    for i, layer in enumerate(layers):
        require_finite_audio(layer.waveform, f"mix layer {i + 1}")
        if not (isinstance(layer.sample_rate, int) and layer.sample_rate > 0):
            raise ValueError(f"layer {i + 1}: sample_rate must be a positive integer, got {layer.sample_rate!r}")
        if layer.start_time < 0 or not math.isfinite(layer.start_time):
            raise ValueError(f"layer {i + 1}: start_time must be >= 0 s, got {layer.start_time}")
    rate = max(layer.sample_rate for layer in layers)
    start = min(layer.start_time for layer in layers)
    placed = []
    for layer in layers:
        stereo = resample_sinc(layer_stereo(layer), layer.sample_rate, rate)
        placed.append((round((layer.start_time - start) * rate), stereo))
    mix = torch.zeros(2, max(offset + s.shape[1] for offset, s in placed))
    for offset, stereo in placed:
        mix[:, offset:offset + stereo.shape[1]] += stereo
    return mix, rate, start


def _biquad_impulse_response(coefficients, length):
    """float64 [length]: impulse response of a cascade of biquads ((b0, b1, b2), (a0, a1, a2)) each."""
    signal = np.zeros(length)
    signal[0] = 1.0
    for (b0, b1, b2), (a0, a1, a2) in coefficients:
        b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
        out, x1, x2, y1, y2 = np.empty(length), 0.0, 0.0, 0.0, 0.0
        for n, x in enumerate(signal):
            y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            out[n], x1, x2, y1, y2 = y, x, x1, y, y1
        signal = out
    return signal


@functools.lru_cache(maxsize=8)
def k_weighting(sample_rate):
    """float64 [K] impulse response of BS.1770's K-weighting at `sample_rate`: a +4 dB high shelf at 1500 Hz
    (Q 1/sqrt(2)) then a 38 Hz high-pass (Q 0.5), both as RBJ-cookbook biquads (torchaudio's design). Cut
    after 0.5 s, where the slowest pole (38 Hz) has decayed below 1e-30 of the input."""
    w = 2 * math.pi * 1500.0 / sample_rate
    alpha, gain = math.sin(w) / 2 / (1 / math.sqrt(2)), 10 ** (4.0 / 40)
    root, minus, plus = 2 * math.sqrt(gain) * alpha, (gain - 1) * math.cos(w), (gain + 1) * math.cos(w)
    shelf = ((gain * ((gain + 1) + minus + root), -2 * gain * ((gain - 1) + plus), gain * ((gain + 1) + minus - root)),
             ((gain + 1) - minus + root, 2 * ((gain - 1) - plus), (gain + 1) - minus - root))
    w = 2 * math.pi * 38.0 / sample_rate
    alpha, cos = math.sin(w) / 2 / 0.5, math.cos(w)
    highpass = (((1 + cos) / 2, -(1 + cos), (1 + cos) / 2), (1 + alpha, -2 * cos, 1 - alpha))
    return torch.from_numpy(_biquad_impulse_response([shelf, highpass], math.ceil(0.5 * sample_rate)))


# samples measured at a time, so that the float64 temporaries stay a few tens of MB whatever the length: about
# 2.7 s of K-weighting (FFTs of 2^18), 1.4 s of 4x oversampling (its convolution unfolds 15 taps per output)
LOUDNESS_BLOCK, TRUE_PEAK_BLOCK = 1 << 17, 1 << 16


def _filtered(signal, response, first, stop):
    """Outputs first..stop-1 of `signal` [C, N] filtered by the FIR `response` (float64), by one FFT over the
    inputs they read."""
    taps = response.shape[0]
    start = max(0, first - taps + 1)
    part = signal[:, start:stop].to(torch.float64)
    size = 1 << (part.shape[-1] + taps - 1).bit_length()  # the whole linear convolution: nothing wraps around
    spectrum = torch.fft.rfft(response, size)
    filtered = torch.fft.irfft(torch.fft.rfft(part, size) * spectrum, size)
    return filtered[:, first - start:stop - start]


def _block_powers(audio, sample_rate):
    """float64 [blocks]: the K-weighted power of each 400 ms gating block (100 ms apart, a trailing partial
    block dropped), summed over the channels. The K-weighted signal is made a group of whole blocks at a time
    (neighbouring groups share block - step samples, filtered twice)."""
    block, step = round(GATING_BLOCK_SECONDS * sample_rate), round(GATING_BLOCK_SECONDS / 4 * sample_rate)
    if audio.shape[-1] < block:
        raise ValueError(f"the mix lasts {audio.shape[-1] / sample_rate:.3f} s; loudness needs at least "
                         f"{GATING_BLOCK_SECONDS} s (one BS.1770 gating block)")
    response = k_weighting(sample_rate)
    count = (audio.shape[-1] - block) // step + 1
    group = max(1, LOUDNESS_BLOCK // step)
    power = torch.empty(count, dtype=torch.float64)
    for first in range(0, count, group):
        last = min(count, first + group)
        weighted = _filtered(audio, response, first * step, (last - 1) * step + block)
        power[first:last] = weighted.square().unfold(-1, block, step).mean(-1).sum(0)  # channel weights 1
    return power


def integrated_loudness(audio, sample_rate):
    """ITU-R BS.1770 integrated loudness in LUFS of [C, N] audio (C <= 3 front channels, weight 1), -inf when no
    block passes the gates. torchaudio.functional.loudness computes the same, but its filters clip their output
    at +-1 (a loud click reads quieter) and run one sample at a time in Python in recent versions (about 6 s of
    CPU per second of stereo), so the K-weighting here is its impulse response applied by FFT, a few seconds
    at a time."""
    power = _block_powers(torch.as_tensor(audio).detach().to("cpu"), sample_rate)
    blocks = -0.691 + 10 * torch.log10(power)
    gated = blocks > -70.0
    if not gated.any():
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(power[gated].mean())) - 10.0
    gated &= blocks > relative
    return -0.691 + 10 * math.log10(float(power[gated].mean()))


def true_peak(stereo, sample_rate):
    """Linear true peak: the largest magnitude of the samples and of the signal oversampled 4x, TRUE_PEAK_BLOCK
    samples at a time (each block resampled with the neighbours its kernel reaches)."""
    stereo = torch.as_tensor(stereo).detach().to("cpu")
    margin = math.ceil(RESAMPLE_ZERO_CROSSINGS / RESAMPLE_ROLLOFF) + 2  # the kernel's reach each side, in samples
    length, peak = stereo.shape[-1], 0.0
    for first in range(0, length, TRUE_PEAK_BLOCK):
        stop = min(length, first + TRUE_PEAK_BLOCK)
        start = max(0, first - margin)
        part = stereo[..., start:min(length, stop + margin)].to(torch.float64)
        oversampled = resample_sinc(part, sample_rate, TRUE_PEAK_OVERSAMPLING * sample_rate)
        kept = oversampled[..., TRUE_PEAK_OVERSAMPLING * (first - start):TRUE_PEAK_OVERSAMPLING * (stop - start)]
        peak = max(peak, float(part[..., first - start:stop - start].abs().max()), float(kept.abs().max()))
    return peak


def normalise(stereo, sample_rate, target_lufs=-23.0, true_peak_db=-1.0):
    """(audio turned to `target_lufs`, or less where its true peak would pass `true_peak_db` dBTP, report).
    The result's loudness and true peak in the report are the input's moved by the gain (both scale with it),
    not measured again."""
    require_finite_audio(stereo, "the mix")
    measured = integrated_loudness(stereo, sample_rate)
    if not math.isfinite(measured):
        raise ValueError(f"the mix is silent (integrated loudness {measured} LUFS, below BS.1770's -70 LUFS gate): "
                         f"there is nothing to bring to {target_lufs} LUFS")
    gain_db = target_lufs - measured
    input_peak_db = 20 * math.log10(true_peak(stereo, sample_rate))
    reduced_db = max(0.0, input_peak_db + gain_db - true_peak_db)
    # a hair more than the excess: the float32 result must stay under the ceiling too
    gain_db -= reduced_db + (1e-4 if reduced_db else 0.0)
    gain = 10.0 ** (gain_db / 20.0)
    out = torch.empty(stereo.shape, dtype=torch.float32)
    for first in range(0, stereo.shape[-1], TRUE_PEAK_BLOCK):
        part = stereo[..., first:first + TRUE_PEAK_BLOCK]
        out[..., first:first + TRUE_PEAK_BLOCK] = part.to("cpu", torch.float64) * gain
    report = dict(measured_lufs=measured, target_lufs=target_lufs, gain_db=gain_db,
                  loudness_lufs=measured + gain_db, true_peak_dbtp=input_peak_db + gain_db,
                  ceiling_dbtp=true_peak_db, turned_down_for_ceiling_db=reduced_db)
    return out, report


def describe(report):
    text = (f"measured {report['measured_lufs']:.1f} LUFS, gain {report['gain_db']:+.1f} dB -> "
            f"{report['loudness_lufs']:.1f} LUFS, true peak {report['true_peak_dbtp']:.1f} dBTP "
            f"(ceiling {report['ceiling_dbtp']:.1f})")
    if report["turned_down_for_ceiling_db"]:
        text += (f"; {report['turned_down_for_ceiling_db']:.1f} dB under the {report['target_lufs']:.1f} LUFS "
                 f"target: the peaks would have passed the ceiling (no limiter: lower the target, raise the ceiling "
                 f"or turn down the layer with the peaks)")
    return text


def mix_layers(layers, target_lufs=-23.0, true_peak_db=-1.0):
    """(stereo float32 [2, N], sample_rate, start_time, report) of `layers` normalised as in `normalise`."""
    mix, rate, start = place_layers(layers)
    out, report = normalise(mix, rate, target_lufs, true_peak_db)
    return out, rate, start, report
