"""Video/audio I/O for the Foley pipeline, all through PyAV (no ffmpeg subprocess, no torchaudio).

Frame sampling reproduces the official `get_frames_av` rule (pipeline.md §1, §10), the latent length
its float quirk (§4), and muxing the official ffmpeg call (§7: video stream copy, mono duplicated to
stereo AAC at 192 kbit/s, original audio dropped, no -shortest).
"""
import logging
import math
import os
from dataclasses import dataclass, field

import av
import numpy as np
import torch

log = logging.getLogger(__name__)

MAX_SECONDS = 15.0  # get_frames_av end_sec when max_length is None
SIGLIP2_FPS = 8
SYNCHFORMER_FPS = 25
LATENT_RATE = 50  # latent frames per second: 48 kHz / hop 960
SAMPLE_RATE = 48000

_MUX_CODECS = {"aac": "aac", "flac": "flac", "pcm": "pcm_s16le"}
# containers (by output extension) each audio codec may go into
_MUX_CONTAINERS = {
    "aac": (".mp4", ".m4v", ".mov", ".mkv"),
    "flac": (".mkv", ".mp4"),
    "pcm": (".mov", ".mkv", ".mp4"),
}
_AUDIO_FORMATS = {".wav": "wav", ".flac": "flac"}


def _check_fps(fps):
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")


class _TickSampler:
    """One output rate of the get_frames_av rule: how often the current frame is appended."""

    def __init__(self, fps):
        _check_fps(fps)
        self.dt = 1.0 / fps
        self.next_t = 0.0

    def repeats(self, t):
        n = 0
        while t >= self.next_t:
            n += 1
            # repeated float addition, not k/fps: the official accumulation decides ties
            self.next_t += self.dt
        return n


def frame_indices(timestamps, fps, max_seconds=MAX_SECONDS):
    """Source-frame index for every output frame at `fps`, given decoded-frame times in seconds."""
    ticks = _TickSampler(fps)
    picked = []
    for i, t in enumerate(timestamps):
        if t < 0:
            continue
        if t > max_seconds:
            break
        picked.extend([i] * ticks.repeats(t))
    return picked


def latent_length(n25):
    """Latent frames for `n25` frames at 25 fps; the double rounding loses one frame for some n25 (P4)."""
    return int(n25 / SYNCHFORMER_FPS * LATENT_RATE)


def _window_end(duration, max_seconds):
    if duration is None:
        return max_seconds
    if not duration > 0:
        raise ValueError(f"duration must be > 0, got {duration!r}")
    return min(duration, max_seconds)


def image_sequence_indices(n_frames, source_fps, target_fps, start=0.0, duration=None,
                           max_seconds=MAX_SECONDS):
    """get_frames_av rule on an image batch at `source_fps` (t_i = i / source_fps - start)."""
    if not source_fps > 0:
        raise ValueError(f"source fps must be > 0, got {source_fps!r}")
    if n_frames <= 0:
        raise ValueError(f"image sequence has {n_frames} frames")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start!r}")
    times = [i / source_fps - start for i in range(n_frames)]
    return frame_indices(times, target_fps, _window_end(duration, max_seconds))


@dataclass
class VideoFrames:
    frames: dict  # rate -> uint8 [T, H, W, 3]
    source_fps: float | None
    source_duration: float | None
    # rate -> decode-order index of the source frame per output frame (after a seek, counted from the keyframe)
    source_indices: dict = field(default_factory=dict)


def _source_name(source):
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) or f"<{type(source).__name__} video>"


def _open_input(source, name):
    if hasattr(source, "seek"):  # a buffer may have been read before (ComfyUI hands the same BytesIO around)
        source.seek(0)
    try:
        return av.open(os.fspath(source) if isinstance(source, os.PathLike) else source, "r")
    except av.error.FFmpegError as e:
        raise RuntimeError(f"cannot open media file {name}: {e}") from e


def _first_video_stream(container, name):
    if not container.streams.video:
        raise ValueError(f"{name}: no video stream")
    return container.streams.video[0]


def _stream_fps(stream):
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


def _stream_duration(stream, container):
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def read_video_frames(source, rates=(SIGLIP2_FPS, SYNCHFORMER_FPS), start=0.0, duration=None,
                      max_seconds=MAX_SECONDS):
    """Sample the first video stream at every rate in `rates` in one decode pass (get_frames_av rule).

    `source` is a path or a binary file-like object. Decoding stops at the first frame after the
    window end; only frames some rate picks are converted to RGB.
    """
    rates = list(dict.fromkeys(rates))
    if not rates:
        raise ValueError("no frame rates requested")
    samplers = {r: _TickSampler(r) for r in rates}
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start!r}")
    end = _window_end(duration, max_seconds)
    name = _source_name(source)

    images, picks = [], {r: [] for r in rates}
    n_decoded = 0
    with _open_input(source, name) as container:
        stream = _first_video_stream(container, name)
        stream.thread_type = "AUTO"
        fps = _stream_fps(stream)
        try:
            if start > 0:
                # lands on the keyframe before `start`; earlier frames get t < 0 and are skipped
                container.seek(int(math.floor(start / stream.time_base)), stream=stream, backward=True)
            for frame in container.decode(stream):
                t = frame.time
                if t is None:  # no timestamps at all (raw elementary stream): assume constant rate
                    if n_decoded == 0:
                        log.warning("%s: frames carry no timestamps, assuming %s fps", name, fps)
                    if fps is None:
                        raise RuntimeError(f"{name}: frames carry no timestamps and the stream no frame rate")
                    t = n_decoded / fps
                t -= start
                n_decoded += 1
                if t < 0:
                    continue
                if t > end:
                    break
                counts = {r: s.repeats(t) for r, s in samplers.items()}
                if any(counts.values()):
                    images.append(frame.to_ndarray(format="rgb24"))
                    for r, n in counts.items():
                        picks[r].extend([(len(images) - 1, n_decoded - 1)] * n)
        except av.error.FFmpegError as e:
            raise RuntimeError(f"cannot decode video {name}: {e}") from e
        source_duration = _stream_duration(stream, container)

    if n_decoded == 0:
        raise ValueError(f"{name}: no decodable video frames")
    if not images:
        raise ValueError(f"{name}: no video frames in the window start={start} s, end={end} s")
    log.debug("%s: decoded %d frames, picked %s", name, n_decoded, {r: len(p) for r, p in picks.items()})
    frames = {r: np.stack([images[k] for k, _ in picks[r]]) for r in rates}
    indices = {r: [i for _, i in picks[r]] for r in rates}
    return VideoFrames(frames, fps, source_duration, indices)


def video_info(source):
    """Container metadata of the first video stream, without decoding."""
    name = _source_name(source)
    with _open_input(source, name) as container:
        stream = _first_video_stream(container, name)
        return dict(
            fps=_stream_fps(stream),
            duration=_stream_duration(stream, container),
            n_frames=stream.frames or None,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            has_audio=bool(container.streams.audio),
        )


def _as_channels_first(waveform):
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


def _layout(channels):
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels} channels")


def _check_rate(sample_rate):
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")


def _planar_frame(wave, sample_rate):
    frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout=_layout(wave.shape[0]))
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
    wave = _as_channels_first(waveform)
    _check_rate(sample_rate)
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
            stream = container.add_stream("pcm_f32le", rate=sample_rate, layout=_layout(wave.shape[0]))
        else:
            stream = container.add_stream("flac", rate=sample_rate, layout=_layout(wave.shape[0]))
            stream.codec_context.format = "s32"  # s32 input makes the FLAC encoder write 24-bit samples
            wave = np.clip(wave, -1.0, 1.0)
        container.mux(_encode_audio(stream, wave, sample_rate))


def mux_audio_into_video(video_source, waveform, sample_rate, out_path, codec="aac", bitrate=192000,
                         mono_to_stereo=True):
    """Copy the first video stream unchanged and add `waveform` as the only audio stream.

    codec "aac" (bitrate applies), "flac" or "pcm" (16-bit); all three fit .mp4, which core SaveVideo writes. The container keeps the
    full video length, like the official ffmpeg call without -shortest.
    """
    if codec not in _MUX_CODECS:
        raise ValueError(f"unsupported audio codec {codec!r} (one of {sorted(_MUX_CODECS)})")
    out_path = os.fspath(out_path)
    ext = os.path.splitext(out_path)[1].lower()
    if ext not in _MUX_CONTAINERS[codec]:
        raise ValueError(f"audio codec {codec!r} cannot go into a {ext or 'extension-less'} file "
                         f"({out_path}); use one of {', '.join(_MUX_CONTAINERS[codec])}")
    wave = _as_channels_first(waveform)
    _check_rate(sample_rate)
    if mono_to_stereo and wave.shape[0] == 1:
        wave = np.repeat(wave, 2, axis=0)  # pan=stereo|c0=c0|c1=c0 of the official call

    name = _source_name(video_source)
    with _open_input(video_source, name) as src:
        in_video = _first_video_stream(src, name)
        try:
            with av.open(out_path, "w") as out:
                out_video = out.add_stream_from_template(in_video)
                out_audio = out.add_stream(_MUX_CODECS[codec], rate=sample_rate, layout=_layout(wave.shape[0]))
                if codec == "aac":
                    out_audio.bit_rate = bitrate
                audio_packets = _encode_audio(out_audio, wave, sample_rate)
                pending = iter(audio_packets)
                next_audio = next(pending, None)
                for packet in src.demux(in_video):
                    if packet.dts is None:  # demuxer flush marker
                        continue
                    while next_audio is not None and next_audio.dts * next_audio.time_base <= packet.dts * packet.time_base:
                        out.mux(next_audio)
                        next_audio = next(pending, None)
                    packet.stream = out_video
                    out.mux(packet)
                while next_audio is not None:
                    out.mux(next_audio)
                    next_audio = next(pending, None)
        except av.error.FFmpegError as e:
            raise RuntimeError(f"cannot mux {codec} audio from {name} into {out_path}: {e}") from e


def load_audio(source):
    """Decode the first audio stream -> (float32 tensor [C, N], sample_rate)."""
    name = _source_name(source)
    with _open_input(source, name) as container:
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
    _check_rate(from_sr)
    _check_rate(to_sr)
    is_tensor = isinstance(waveform, torch.Tensor)
    wave = _as_channels_first(waveform)
    if from_sr != to_sr:
        n_out = round(wave.shape[1] * to_sr / from_sr)
        resampler = av.AudioResampler(format="fltp", layout=_layout(wave.shape[0]), rate=to_sr)
        frames = resampler.resample(_planar_frame(wave, from_sr)) + resampler.resample(None)
        out = np.concatenate([f.to_ndarray() for f in frames], axis=1)[:, :n_out]
        # swr's flush can end a few samples short of the exact ratio
        wave = np.pad(out, ((0, 0), (0, n_out - out.shape[1])))
    if is_tensor:
        return torch.from_numpy(np.ascontiguousarray(wave)).to(waveform.device)
    return wave
