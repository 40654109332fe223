"""Video/audio I/O for the Foley pipeline, all through PyAV (no ffmpeg subprocess, no torchaudio).

Frame sampling reproduces the official `get_frames_av` rule (pipeline.md §1, §10) and the latent length
its float quirk (§4); audio files are read, written and resampled here (muxing into video: muxing.py).
"""
import itertools
import logging
import math
import os
from contextlib import contextmanager
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


OFFICIAL_MAX_FRAMES_25 = 376  # frames at 25 fps up to t = 15.0 s: the longest clip the official code makes


def latent_length(n25):
    """Latent frames for `n25` frames at 25 fps; the double rounding loses one frame for some n25 (P4).
    Past the official 15 s the length is exact (2 per frame), so long videos do not lose frames to it."""
    if n25 > OFFICIAL_MAX_FRAMES_25:
        return n25 * LATENT_RATE // SYNCHFORMER_FPS
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
    frames: dict  # rate -> uint8 [T, H, W, 3], upright, after the rate's transform if one was given
    source_fps: float | None
    source_duration: float | None
    # t = frame.time - start of every decoded frame in the window, in decode order. frame_indices(frame_times,
    # rate, window end) gives the picks at any rate as indices into this list (stream-wide decode-order
    # indices are unknown after a seek), e.g. how many frames 25 fps takes without keeping them.
    frame_times: list = field(default_factory=list)


def _source_name(source):
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) or f"<{type(source).__name__} video>"


def _is_animated_webp(source):
    """VP8X header with the animation flag: FFmpeg's webp decoder cannot decode animation."""
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):  # a URL FFmpeg opened itself
            return False
        with open(source, "rb") as f:
            head = f.read(21)
    elif hasattr(source, "seek"):
        source.seek(0)
        head = source.read(21)
    else:
        return False
    return len(head) == 21 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)


def _unreadable(source, name, error, doing):
    """The error to raise for an FFmpeg failure while `doing`: named, saying why, FFmpeg's text kept."""
    if _is_animated_webp(source):
        return ValueError(f"{name} is an animated WebP, which FFmpeg cannot decode; convert it to MP4, WebM or GIF")
    return RuntimeError(f"cannot {doing} {name}: the file is damaged or incomplete (a partial download or copy?) "
                        f"or not a media file ({error})")


def _open_input(source, name):
    if hasattr(source, "seek"):  # a buffer may have been read before (ComfyUI hands the same BytesIO around)
        source.seek(0)
    try:
        return av.open(os.fspath(source) if isinstance(source, os.PathLike) else source, "r")
    except av.error.FFmpegError as e:
        for missing in (FileNotFoundError, PermissionError, IsADirectoryError):
            if isinstance(e, missing):  # not damage; and the plain type, which callers do not take for an FFmpeg error
                raise missing(e.errno, e.strerror, name) from e
        raise _unreadable(source, name, e, "open") from e


def _video_stream(container, name):
    """The first video stream that is not cover art (an attached picture in .mp3/.m4a/.mp4)."""
    videos = container.streams.video
    real = [s for s in videos if not s.disposition & av.stream.Disposition.attached_pic]
    if not real:
        raise ValueError(f"{name}: no video stream" + (" (only cover art)" if videos else ""))
    return real[0]


def _open_video(source, name):
    container = _open_input(source, name)
    try:
        stream = _video_stream(container, name)
    except BaseException:
        container.close()
        raise
    stream.thread_type = "AUTO"
    return container, stream


def _stream_fps(stream):
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


def _stream_duration(stream, container):
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _shown(packet):
    ts = packet.pts if packet.pts is not None else packet.dts
    return None if ts is None else float(ts * packet.time_base)


def _reaches(packet, start):
    """Whether this packet or any later one can be shown at `start` s or after it."""
    if packet.dts is not None and packet.dts * packet.time_base > start:
        return True
    shown = _shown(packet)
    return packet.is_keyframe and (shown is None or shown > start)


def _seek_to_keyframe(container, stream, start):
    """Packets from a keyframe shown at or before `start` s, found by seeking, or None.

    Demuxers can land after the target (AVI with B-frames) or where no keyframe follows before it:
    each landing is checked on the packets, and a miss seeks further back."""
    back = 0.0
    while start - back > 0:
        try:
            container.seek(int(math.floor((start - back) / stream.time_base)), stream=stream, backward=True)
        except av.error.FFmpegError as e:
            log.debug("seek to %.3f s failed (%s); demuxing from the start", start - back, e)
            return None
        packets = container.demux(stream)
        for packet in packets:
            if packet.is_keyframe and not _reaches(packet, start):
                return itertools.chain([packet], packets)
            if _reaches(packet, start):
                break
        back = max(1.0, 2 * back)
    return None


def _skip_to_keyframe(container, stream, start):
    """All packets from the first, less those before the last keyframe shown at or before `start` s:
    decoding skips the earlier GOPs, timestamps are those of a full demux."""
    packets = container.demux(stream)
    gop = []  # compressed packets since the last keyframe
    for packet in packets:
        if _reaches(packet, start):
            return itertools.chain(gop, [packet], packets)
        if packet.is_keyframe:
            gop = []
        gop.append(packet)
    return iter(gop)


# Containers whose seeking lands by an index on packets with their own timestamps. Elsewhere (MPEG-TS/PS)
# packet times come from a parser whose state after a seek can differ by a fraction of a frame from a
# full demux, which moves picks: those are demuxed from the start.
_SEEKABLE_FORMATS = {"mov", "mp4", "matroska", "webm", "avi"}


@contextmanager
def _frames_from(source, name, start):
    """(stream, decoded frames) such that the frames from `start` s on are those a full decode gives.

    Decoding begins at a keyframe shown at or before `start`, reached by seeking or by demuxing from
    the start; if the first decoded frame is not at or before `start` (a decoder that dropped the
    keyframe, frames without timestamps), the next way is tried, the last being a plain full decode."""
    container, stream = _open_video(source, name)
    ways = []
    if start > 0:
        seekable = _SEEKABLE_FORMATS & set(container.format.name.split(","))
        ways = [_seek_to_keyframe, _skip_to_keyframe] if seekable else [_skip_to_keyframe]
    try:
        for position in ways:
            packets = position(container, stream, start)
            if packets is not None:
                frames = (f for p in packets for f in p.decode())
                first = next(frames, None)
                if first is not None and first.time is not None and first.time <= start:
                    yield stream, itertools.chain([first], frames)
                    return
            container.close()
            container, stream = _open_video(source, name)
        yield stream, (f for p in container.demux(stream) for f in p.decode())
    finally:
        container.close()


def _upright(image, rotation):
    """Turn a decoded frame as its display matrix says (phone clips are stored sideways)."""
    quarter_turns = round(rotation / 90) % 4  # `rotation` is counter-clockwise, like np.rot90
    return np.ascontiguousarray(np.rot90(image, quarter_turns)) if quarter_turns else image


def _picks(source, name, rates, start, end, transforms, frame_times):
    """(rate, frame, count) as frames are decoded: `frame` (upright, after the rate's transform) is picked
    `count` times by `rate`. Every decoded frame's t = frame.time - start in the window goes to frame_times."""
    samplers = {r: _TickSampler(r) for r in rates}
    n_decoded = 0
    try:
        with _frames_from(source, name, start) as (stream, frames):
            fps = _stream_fps(stream)
            for frame in frames:
                t = frame.time
                if t is None:  # no timestamps at all (raw elementary stream): assume constant rate
                    if n_decoded == 0:
                        log.warning("%s: frames carry no timestamps, assuming %s fps", name, fps)
                    if fps is None:
                        raise RuntimeError(f"{name}: frames carry no timestamps and the stream no frame rate")
                    t = n_decoded / fps  # _frames_from never seeks without timestamps: counted from frame 0
                n_decoded += 1
                shifted = t - start
                if shifted < 0:
                    continue
                if shifted > end:
                    break
                frame_times.append(shifted)
                counts = {r: s.repeats(shifted) for r, s in samplers.items()}
                if not any(counts.values()):
                    continue
                image = _upright(frame.to_ndarray(format="rgb24"), frame.rotation)
                outputs = {}  # id(transform) -> output: one call per frame, however often and by whichever rate
                for rate, n in counts.items():
                    if n:
                        transform = transforms.get(rate)
                        if id(transform) not in outputs:
                            outputs[id(transform)] = image if transform is None else transform(image)
                        yield rate, outputs[id(transform)], n
    except av.error.FFmpegError as e:
        raise _unreadable(source, name, e, "decode the video") from e
    if n_decoded == 0:
        raise ValueError(f"{name}: no decodable video frames (the file may be damaged or incomplete)")
    if not frame_times:
        raise ValueError(f"{name}: no video frames in the window start={start} s, end={end} s")


def _check_window_args(start, duration, max_seconds):
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start!r}")
    return _window_end(duration, max_seconds)


def read_video_frames(source, rates=(SIGLIP2_FPS, SYNCHFORMER_FPS), start=0.0, duration=None,
                      max_seconds=MAX_SECONDS, transforms=None):
    """Sample the video stream at every rate in `rates` in one decode pass (get_frames_av rule).

    `source` is a path or a binary file-like object. Frames come out upright (display rotation applied).
    `transforms` maps a rate to a callable(uint8 [H, W, 3]) -> uint8 array applied once to each frame that
    rate picks, as it is decoded, so that full-size frames are never all held (e.g. the encoders' resizes).
    Decoding stops at the first frame after the window end; only picked frames are converted to RGB.
    """
    rates = list(dict.fromkeys(rates))
    if not rates:
        raise ValueError("no frame rates requested")
    transforms = dict(transforms or {})
    if set(transforms) - set(rates):
        raise ValueError(f"transforms given for rates {sorted(set(transforms) - set(rates))} not in rates {rates}")
    end = _check_window_args(start, duration, max_seconds)
    name = _source_name(source)
    picked = {r: [] for r in rates}
    frame_times = []
    for rate, frame, count in _picks(source, name, rates, start, end, transforms, frame_times):
        picked[rate].extend([frame] * count)
    with _open_input(source, name) as container:
        stream = _video_stream(container, name)
        fps, source_duration = _stream_fps(stream), _stream_duration(stream, container)
    log.debug("%s: decoded %d frames, picked %s", name, len(frame_times), {r: len(p) for r, p in picked.items()})
    return VideoFrames({r: np.stack(picked[r]) for r in rates}, fps, source_duration, frame_times)


class VideoFrameStream:
    """The frames one rate picks, in chunks of at most `chunk` frames, decoded as they are consumed: a
    video of any length is read holding one chunk (plus the decoder's own frames). After iterating,
    `frame_times` is as in VideoFrames and `picked` counts the frames given out."""

    def __init__(self, source, rate, start=0.0, duration=None, max_seconds=math.inf, transform=None, chunk=64):
        self.source, self.rate, self.start, self.transform, self.chunk = source, rate, start, transform, chunk
        self.end = _check_window_args(start, duration, max_seconds)
        self.frame_times, self.picked = [], 0

    def __iter__(self):
        self.frame_times.clear()
        self.picked = 0
        batch = []
        name = _source_name(self.source)
        transforms = {self.rate: self.transform} if self.transform else {}
        for _, frame, count in _picks(self.source, name, [self.rate], self.start, self.end, transforms,
                                      self.frame_times):
            for _ in range(count):
                batch.append(frame)
                if len(batch) == self.chunk:
                    yield np.stack(batch)
                    self.picked += len(batch)
                    batch = []
        if batch:
            self.picked += len(batch)
            yield np.stack(batch)


def video_info(source):
    """Metadata of the video stream; width and height as displayed. PyAV shows the display rotation only
    on decoded frames, so the first frame is decoded."""
    name = _source_name(source)
    try:
        with _frames_from(source, name, 0.0) as (stream, frames):
            first = next(frames, None)
            if first is None:
                raise ValueError(f"{name}: no decodable video frames (the file may be damaged or incomplete)")
            width, height = first.width, first.height
            if round(first.rotation / 90) % 2:
                width, height = height, width
            return dict(
                fps=_stream_fps(stream),
                duration=_stream_duration(stream, stream.container),
                n_frames=stream.frames or None,
                width=width,
                height=height,
                has_audio=bool(stream.container.streams.audio),
            )
    except av.error.FFmpegError as e:
        raise _unreadable(source, name, e, "decode the video") from e


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
