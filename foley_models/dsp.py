"""Torch-only audio signal processing for the scores: a windowed-sinc polyphase resampler and a power mel
spectrogram, computed with the arithmetic of torchaudio's `transforms.Resample` (default arguments) and
`transforms.MelSpectrogram` (HTK mel scale, no filter-bank norm), which the sync-score reference uses
(spec/sync_score.md §4.2 and §4.5). torchaudio itself is not a dependency of the pack.
"""
import functools
import math

import torch
import torch.nn.functional as F

RESAMPLE_ZERO_CROSSINGS = 6
RESAMPLE_ROLLOFF = 0.99


@functools.lru_cache(maxsize=32)
def _sinc_kernel(orig_sr, new_sr):
    """float32 kernel [n, 1, K] (one row per output phase), the left padding `width`, and the reduced
    rates (o, n). The kernel is computed in float64 (the phase term in float32, as torchaudio forms it)
    and stored as float32."""
    g = math.gcd(orig_sr, new_sr)
    o, n = orig_sr // g, new_sr // g
    base = min(o, n) * RESAMPLE_ROLLOFF
    width = math.ceil(RESAMPLE_ZERO_CROSSINGS * o / base)
    taps = torch.arange(-width, width + o, dtype=torch.float64)[None, None] / o  # (i - width) / o
    phase = -torch.arange(n, dtype=torch.int64)[:, None, None] / n  # float32, the default dtype
    t = ((phase + taps) * base).clamp(-RESAMPLE_ZERO_CROSSINGS, RESAMPLE_ZERO_CROSSINGS)
    window = torch.cos(t * math.pi / RESAMPLE_ZERO_CROSSINGS / 2) ** 2
    t = t * math.pi
    kernel = torch.where(t == 0, torch.tensor(1.0, dtype=torch.float64), torch.sin(t) / t)
    kernel = kernel * (window * (base / o))
    return kernel.to(torch.float32), width, o, n


def resample_sinc(waveform, orig_sr, new_sr):
    """Resample along the last axis: hann-windowed sinc low-pass at 0.99 x the lower Nyquist frequency,
    6 zero crossings; output length ceil(N * new_sr / orig_sr). Equal to
    `torchaudio.transforms.Resample(orig_sr, new_sr)` with default arguments. Works in float32 on the
    waveform's device; float64 input stays float64 (the kernel is float32-valued either way)."""
    orig_sr, new_sr = int(orig_sr), int(new_sr)
    if orig_sr <= 0 or new_sr <= 0:
        raise ValueError(f"sample rates must be positive integers, got {orig_sr} and {new_sr}")
    if orig_sr == new_sr:
        return waveform
    kernel, width, o, n = _sinc_kernel(orig_sr, new_sr)
    shape, length = waveform.shape[:-1], waveform.shape[-1]
    x = F.pad(waveform.reshape(-1, 1, length), (width, width + o))
    y = F.conv1d(x, kernel.to(device=x.device, dtype=x.dtype), stride=o)  # [B, n, frames]
    y = y.transpose(1, 2).reshape(y.shape[0], -1)
    target = -(-n * length // o)
    return y[:, :target].reshape(*shape, target)


def resample_prefix(waveform, orig_sr, new_sr, keep):
    """The first `keep` samples of resample_sinc(waveform) without resampling the rest of a long input:
    the input is cut a margin past the last sample those outputs read (their values do not depend on it)."""
    if orig_sr == new_sr:
        return waveform[..., :keep]
    _, width, o, n = _sinc_kernel(int(orig_sr), int(new_sr))
    needed = o * ((keep - 1) // n + 1) + width + o  # last input sample read by output keep - 1, plus slack
    cut = needed + max(int(orig_sr), 1024)  # a further second of context: the cut never touches kept outputs
    if waveform.shape[-1] > cut:
        waveform = waveform[..., :cut]
    return resample_sinc(waveform, orig_sr, new_sr)[..., :keep]


@functools.lru_cache(maxsize=8)
def mel_filterbank(sample_rate, n_fft, n_mels, f_min=0.0, f_max=None):
    """float32 [n_fft // 2 + 1, n_mels] HTK-scale triangles with peak 1 (no area normalisation)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    freqs = torch.linspace(0, sample_rate // 2, n_fft // 2 + 1)
    m_min = 2595.0 * math.log10(1.0 + f_min / 700.0)
    m_max = 2595.0 * math.log10(1.0 + f_max / 700.0)
    f_pts = 700.0 * (10.0 ** (torch.linspace(m_min, m_max, n_mels + 2) / 2595.0) - 1.0)
    rising = (freqs[:, None] - f_pts[None, :-2]) / (f_pts[1:-1] - f_pts[:-2])
    falling = (f_pts[None, 2:] - freqs[:, None]) / (f_pts[2:] - f_pts[1:-1])
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


def mel_power_spectrogram(segments, sample_rate=16000, n_fft=1024, win_length=400, hop_length=160, n_mels=128):
    """[..., L] -> power mel [..., n_mels, 1 + L // hop_length]: periodic hann window centred in the FFT frame,
    reflect-padded centred frames, |STFT|^2, mel = P^T F transposed (torchaudio's operation order)."""
    shape = segments.shape[:-1]
    x = segments.reshape(-1, segments.shape[-1])
    window = torch.hann_window(win_length, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=True,
                      pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    power = spec.abs().pow(2)
    fb = mel_filterbank(sample_rate, n_fft, n_mels).to(device=x.device, dtype=x.dtype)
    mel = torch.matmul(power.transpose(-1, -2), fb).transpose(-1, -2)
    return mel.reshape(*shape, n_mels, mel.shape[-1])


def mono_mix(waveform):
    """float32 [N] on the CPU: the channel mean (in float32, as after torchaudio.load) of a float waveform [N],
    [C, N] or ComfyUI's [1, C, N]; the one mono mix of the scores."""
    wave = torch.as_tensor(waveform)
    if not wave.is_floating_point():
        raise ValueError(f"expected a float waveform in [-1, 1], got {wave.dtype}")
    wave = wave.detach().to(device="cpu", dtype=torch.float32)
    if wave.ndim == 3 and wave.shape[0] == 1:
        wave = wave[0]
    if wave.ndim == 2:
        wave = wave.mean(0)
    if wave.ndim != 1:
        raise ValueError(f"expected a waveform [samples] or [channels, samples], got shape {list(wave.shape)}")
    return wave


def require_finite_audio(waveform, what):
    """Refuse audio with NaN or infinite samples, naming how many and where it was given: one NaN spreads through
    every convolution of the VAE and the scores' spectrograms, and encoders write it as garbage or fail."""
    bad = ~torch.isfinite(torch.as_tensor(waveform))  # a tensor or an ndarray
    if bad.any():
        first = int(bad.flatten().nonzero()[0]) % bad.shape[-1]
        raise ValueError(f"{what}: the audio has {int(bad.sum())} non-finite samples (NaN or infinity) of "
                         f"{bad.numel()}, the first at sample {first}. Fix the node that made it (a division "
                         f"by zero in a mix or a normalisation is the usual cause); nothing was encoded.")
    return waveform
