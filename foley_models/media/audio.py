"""Audio files read, written and resampled with PyAV (no torchaudio); muxing audio into video is muxing.py."""
import os

import av
import numpy as np
import torch

from .video import open_input, source_name

_AUDIO_FORMATS = {".wav": "wav", ".flac": "flac"}


def as_channels_first(waveform):
    """[C, N], [1, C, N] or [N] tensor/ndarray -> contiguous float32 ndarray [C, N]."""
    if isinstance(waveform, torch.Tensor):
        waveform = waveform.detach().to("cpu", torch.float32).numpy()
    wave = np.asarray(waveform, dtype=np.float32)
    if wave.ndim == 3:
        if wave.shape[0] != 1:
            raise ValueError(f"expected one waveform, got a batch of shape {wave.shape}")
        wave = wave[0]
    elif wave.ndim == 1:
        wave = wave[None]
    if wave.ndim != 2:
        raise ValueError(f"waveform must be [C, N], got shape {wave.shape}")
    if wave.shape[1] == 0:
        raise ValueError("audio has 0 samples")
    return np.ascontiguousarray(wave)


def channel_layout(channels):
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels} channels")


def check_sample_rate(sample_rate):
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")


def _planar_frame(wave, sample_rate):
    frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout=channel_layout(wave.shape[0]))
    frame.sample_rate = sample_rate
    frame.pts = 0
    return frame


def _encode_audio(stream, wave, sample_rate):
    ctx = stream.codec_context
    resampler = av.AudioResampler(format=ctx.format, layout=ctx.layout, rate=sample_rate)
    frames = resampler.resample(_planar_frame(wave, sample_rate)) + resampler.resample(None)
    packets = [p for f in frames for p in stream.encode(f)]
    return packets + list(stream.encode(None))


def write_audio(path, waveform, sample_rate, format=None):
    """Write WAV (32-bit float, like torchaudio.save of a float tensor) or FLAC (24-bit)."""
    wave = as_channels_first(waveform)
    check_sample_rate(sample_rate)
    if format is None:
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError("format is required when writing to a file-like object")
        ext = os.path.splitext(os.fspath(path))[1].lower()
        if ext not in _AUDIO_FORMATS:
            raise ValueError(f"cannot infer audio format from {os.fspath(path)!r}; use .wav or .flac")
        format = _AUDIO_FORMATS[ext]
    if format not in ("wav", "flac"):
        raise ValueError(f"unsupported audio format {format!r} (wav or flac)")
    target = os.fspath(path) if isinstance(path, os.PathLike) else path
    with av.open(target, "w", format=format) as container:
        if format == "wav":
            stream = container.add_stream("pcm_f32le", rate=sample_rate, layout=channel_layout(wave.shape[0]))
        else:
            stream = container.add_stream("flac", rate=sample_rate, layout=channel_layout(wave.shape[0]))
            stream.codec_context.format = "s32"  # s32 input makes the FLAC encoder write 24-bit samples
            wave = np.clip(wave, -1.0, 1.0)
        container.mux(_encode_audio(stream, wave, sample_rate))


def load_audio(source):
    """Decode the first audio stream -> (float32 tensor [C, N], sample_rate)."""
    name = source_name(source)
    with open_input(source, name) as container:
        if not container.streams.audio:
            raise ValueError(f"{name}: no audio stream")
        stream = container.streams.audio[0]
        to_planar = av.AudioResampler(format="fltp")
        try:
            chunks = [f.to_ndarray() for frame in container.decode(stream) for f in to_planar.resample(frame)]
            chunks += [f.to_ndarray() for f in to_planar.resample(None)]
        except av.error.FFmpegError as e:
            raise RuntimeError(f"cannot decode audio {name}: {e}") from e
        sample_rate = stream.codec_context.sample_rate
    if not chunks or sum(c.shape[1] for c in chunks) == 0:
        raise ValueError(f"{name}: audio has 0 samples")
    return torch.from_numpy(np.concatenate(chunks, axis=1).astype(np.float32, copy=False)), sample_rate


def resample_audio(waveform, from_sr, to_sr):
    """Band-limited resampling with libswresample; output has round(N · to_sr / from_sr) samples."""
    check_sample_rate(from_sr)
    check_sample_rate(to_sr)
    is_tensor = isinstance(waveform, torch.Tensor)
    wave = as_channels_first(waveform)
    if from_sr != to_sr:
        n_out = round(wave.shape[1] * to_sr / from_sr)
        resampler = av.AudioResampler(format="fltp", layout=channel_layout(wave.shape[0]), rate=to_sr)
        frames = resampler.resample(_planar_frame(wave, from_sr)) + resampler.resample(None)
        out = np.concatenate([f.to_ndarray() for f in frames], axis=1)[:, :n_out]
        # swr's flush can end a few samples short of the exact ratio
        wave = np.pad(out, ((0, 0), (0, n_out - out.shape[1])))
    if is_tensor:
        return torch.from_numpy(np.ascontiguousarray(wave)).to(waveform.device)
    return wave
