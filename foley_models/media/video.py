"""Video decoding with PyAV (no ffmpeg subprocess): frames sampled by the official rule (clock.py) in one pass,
decoding started at a keyframe found by seeking, with a recovery for demuxers whose seeks land wrong.
"""
import itertools
import logging
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field

import av
import numpy as np

from .clock import OFFICIAL_MAX_SECONDS, SIGLIP2_FPS, SYNCHFORMER_FPS, TickSampler, window_end

log = logging.getLogger(__name__)


@dataclass
class VideoFrames:
    frames: dict  # rate -> uint8 [T, H, W, 3], upright, after the rate's transform if one was given
    source_fps: float | None
    source_duration: float | None
    # t = frame.time - start of every decoded frame in the window, in decode order. frame_indices(frame_times,
    # rate, window end) gives the picks at any rate as indices into this list (stream-wide decode-order
    # indices are unknown after a seek), e.g. how many frames 25 fps takes without keeping them.
    frame_times: list = field(default_factory=list)


def source_name(source):
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


def open_input(source, name):
    if hasattr(source, "seek"):  # a buffer may have been read before (ComfyUI hands the same BytesIO around)
        source.seek(0)
    try:
        return av.open(os.fspath(source) if isinstance(source, os.PathLike) else source, "r")
    except av.error.FFmpegError as e:
        for missing in (FileNotFoundError, PermissionError, IsADirectoryError):
            if isinstance(e, missing):  # not damage; and the plain type, which callers do not take for an FFmpeg error
                raise missing(e.errno, e.strerror, name) from e
        raise _unreadable(source, name, e, "open") from e


def first_video_stream(container, name):
    """The first video stream that is not cover art (an attached picture in .mp3/.m4a/.mp4)."""
    videos = container.streams.video
    real = [s for s in videos if not s.disposition & av.stream.Disposition.attached_pic]
    if not real:
        raise ValueError(f"{name}: no video stream" + (" (only cover art)" if videos else ""))
    return real[0]


def _open_video(source, name):
    container = open_input(source, name)
    try:
        stream = first_video_stream(container, name)
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
def decoded_frames_from(source, name, start):
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


def upright(image, rotation):
    """Turn a decoded frame as its display matrix says (phone clips are stored sideways)."""
    quarter_turns = round(rotation / 90) % 4  # `rotation` is counter-clockwise, like np.rot90
    return np.ascontiguousarray(np.rot90(image, quarter_turns)) if quarter_turns else image


def _picks(source, name, rates, start, end, transforms, frame_times):
    """(rate, frame, count) as frames are decoded: `frame` (upright, after the rate's transform) is picked
    `count` times by `rate`. Every decoded frame's t = frame.time - start in the window goes to frame_times."""
    samplers = {r: TickSampler(r) for r in rates}
    n_decoded = 0
    try:
        with decoded_frames_from(source, name, start) as (stream, frames):
            fps = _stream_fps(stream)
            for frame in frames:
                t = frame.time
                if t is None:  # no timestamps at all (raw elementary stream): assume constant rate
                    if n_decoded == 0:
                        log.warning("%s: frames carry no timestamps, assuming %s fps", name, fps)
                    if fps is None:
                        raise RuntimeError(f"{name}: frames carry no timestamps and the stream no frame rate")
                    t = n_decoded / fps  # decoded_frames_from never seeks without timestamps: counted from frame 0
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
                image = upright(frame.to_ndarray(format="rgb24"), frame.rotation)
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


def read_video_frames(source, rates=(SIGLIP2_FPS, SYNCHFORMER_FPS), start=0.0, duration=None,
                      max_seconds=OFFICIAL_MAX_SECONDS, transforms=None):
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
    end = window_end(start, duration, max_seconds)
    name = source_name(source)
    picked = {r: [] for r in rates}
    frame_times = []
    for rate, frame, count in _picks(source, name, rates, start, end, transforms, frame_times):
        picked[rate].extend([frame] * count)
    with open_input(source, name) as container:
        stream = first_video_stream(container, name)
        fps, source_duration = _stream_fps(stream), _stream_duration(stream, container)
    log.debug("%s: decoded %d frames, picked %s", name, len(frame_times), {r: len(p) for r, p in picked.items()})
    return VideoFrames({r: np.stack(picked[r]) for r in rates}, fps, source_duration, frame_times)


class VideoFrameStream:
    """The frames one rate picks, in chunks of at most `chunk` frames, decoded as they are consumed: a
    video of any length is read holding one chunk (plus the decoder's own frames). After iterating,
    `frame_times` is as in VideoFrames and `picked` counts the frames given out."""

    def __init__(self, source, rate, start=0.0, duration=None, max_seconds=math.inf, transform=None, chunk=64):
        self.source, self.rate, self.start, self.transform, self.chunk = source, rate, start, transform, chunk
        self.end = window_end(start, duration, max_seconds)
        self.frame_times, self.picked = [], 0

    def __iter__(self):
        self.frame_times.clear()
        self.picked = 0
        batch = []
        name = source_name(self.source)
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
    name = source_name(source)
    try:
        with decoded_frames_from(source, name, 0.0) as (stream, frames):
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
