"""Putting generated audio into a video with PyAV: the video stream copied where it can be, encoded once where not.

The official pipeline muxes with ffmpeg (pipeline.md §7): video stream copy, mono duplicated to stereo
AAC at 192 kbit/s, the original audio dropped, no -shortest. Beyond that, the audio of a window of the
video lands at the window's time (silence before it), or the video is cut to the window.
"""
import logging
import math
import os
from fractions import Fraction

import av
import numpy as np

from .dsp import require_finite_audio
from .media.audio import as_channels_first, channel_layout, check_sample_rate
from .media.video import decoded_frames_from, first_video_stream, open_input, source_name, upright

log = logging.getLogger(__name__)

AUDIO_CODECS = {"aac": "aac", "flac": "flac", "pcm": "pcm_s16le"}
# containers (by output extension) each audio codec may go into
_AUDIO_CONTAINERS = {
    "aac": (".mp4", ".m4v", ".mov", ".mkv"),
    "flac": (".mkv", ".mp4"),
    "pcm": (".mov", ".mkv", ".mp4"),
}
# video codecs FFmpeg's MP4 muxer takes as they are; others (ProRes, rawvideo, VP8, ...) are encoded to H.264
MP4_VIDEO_CODECS = {"h264", "hevc", "av1", "vp9", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg"}
H264_OPTIONS = {"crf": "18", "preset": "fast"}  # visually lossless; one encode, so quality over size


def _check_output(out_path, codec):
    if codec not in AUDIO_CODECS:
        raise ValueError(f"unsupported audio codec {codec!r} (one of {sorted(AUDIO_CODECS)})")
    ext = os.path.splitext(out_path)[1].lower()
    if ext not in _AUDIO_CONTAINERS[codec]:
        raise ValueError(f"audio codec {codec!r} cannot go into a {ext or 'extension-less'} file "
                         f"({out_path}); use one of {', '.join(_AUDIO_CONTAINERS[codec])}")


class _PlacedAudio:
    """The track to write: `audio_start` seconds of silence, then the waveform, mono duplicated to stereo
    (pan=stereo|c0=c0|c1=c0 of the official call), built chunk by chunk as it is encoded, so a long track
    is never held padded or doubled."""

    def __init__(self, waveform, sample_rate, audio_start, mono_to_stereo):
        # AAC refuses NaN with a codec error, FLAC and PCM would write garbage
        self.wave = require_finite_audio(as_channels_first(waveform), "muxing the audio into the video")
        check_sample_rate(sample_rate)
        if audio_start < 0:
            raise ValueError(f"audio_start must be >= 0, got {audio_start!r}")
        self.lead = round(audio_start * sample_rate)
        self.channels = 2 if mono_to_stereo and self.wave.shape[0] == 1 else self.wave.shape[0]
        self.length = self.lead + self.wave.shape[1]

    def chunks(self, size=1 << 16):
        for start in range(0, self.length, size):
            end = min(start + size, self.length)
            chunk = np.zeros((self.wave.shape[0], end - start), np.float32)
            lo, hi = max(start, self.lead), end
            if hi > lo:
                chunk[:, lo - start:] = self.wave[:, lo - self.lead:hi - self.lead]
            yield start, np.ascontiguousarray(np.broadcast_to(chunk, (self.channels, chunk.shape[1])))


def _audio_packets(out, codec, track, sample_rate, bitrate):
    stream = out.add_stream(AUDIO_CODECS[codec], rate=sample_rate, layout=channel_layout(track.channels))
    if codec == "aac":
        stream.bit_rate = bitrate
    ctx = stream.codec_context
    resampler = av.AudioResampler(format=ctx.format, layout=ctx.layout, rate=sample_rate)
    packets = []  # compressed: small next to the samples
    for start, chunk in track.chunks():
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=channel_layout(track.channels))
        frame.sample_rate, frame.pts = sample_rate, start
        packets += [p for f in resampler.resample(frame) for p in stream.encode(f)]
    packets += [p for f in resampler.resample(None) for p in stream.encode(f)]
    return packets + list(stream.encode(None))


def _interleave(out, video_packets, audio_packets):
    """Mux both packet streams in time order (what av_interleaved_write_frame expects of a caller)."""
    pending = iter(audio_packets)
    audio = next(pending, None)
    for packet in video_packets:
        clock = packet.dts if packet.dts is not None else packet.pts
        while audio is not None and clock is not None and audio.dts * audio.time_base <= clock * packet.time_base:
            out.mux(audio)
            audio = next(pending, None)
        out.mux(packet)
    while audio is not None:
        out.mux(audio)
        audio = next(pending, None)


class _H264Encoder:
    """RGB frames -> H.264 yuv420p packets at a constant rate (odd sizes are cropped by one pixel)."""

    def __init__(self, out, rate, width, height):
        self.stream = out.add_stream("libx264", rate=rate, options=dict(H264_OPTIONS))
        self.stream.width, self.stream.height = width - width % 2, height - height % 2
        self.stream.pix_fmt = "yuv420p"
        self.count = 0

    def encode(self, rgb_u8):
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(rgb_u8[:self.stream.height, :self.stream.width]), format="rgb24")
        frame.pts = self.count
        self.count += 1
        return self.stream.encode(frame.reformat(format="yuv420p"))

    def flush(self):
        return self.stream.encode(None)


def _encoded(frames, rate, out):
    """Packets of `frames` (uint8 [H, W, 3] each) encoded to H.264 at `rate`."""
    encoder = None
    for rgb in frames:
        if encoder is None:
            encoder = _H264Encoder(out, rate, rgb.shape[1], rgb.shape[0])
        yield from encoder.encode(rgb)
    if encoder is None:
        raise ValueError("no video frames to encode (is the window inside the video?)")
    yield from encoder.flush()


def _window_frames(source, name, window):
    """Decoded RGB frames (upright) of the video whose timestamps lie in [start, end), the end
    excluded as core Trim Video excludes it; decoding starts at the keyframe before `start`."""
    start, end = window
    with decoded_frames_from(source, name, max(start, 0.0)) as (_, frames):
        for frame in frames:
            t = frame.time
            if t is not None and t < start - 1e-6:
                continue
            if t is not None and t >= end - 1e-6:
                break
            yield upright(frame.to_ndarray(format="rgb24"), frame.rotation)


def mux_audio_into_video(video_source, waveform, sample_rate, out_path, codec="aac", bitrate=192000,
                         audio_start=0.0, window=None, mono_to_stereo=True):
    """Write the first video stream of `video_source` with `waveform` as the only audio track.

    audio_start: seconds of silence before the audio (the start of the window it was made for).
    window: (start, end) seconds, end possibly math.inf: cut the video to that range (frames re-encoded to
    H.264, display rotation applied, so the cut is exact); audio_start then counts from `start`.
    Otherwise the video packets are copied unchanged when the output container takes the codec, and
    encoded to H.264 once when not (ProRes, rawvideo, VP8 into MP4); the full video length is kept.
    """
    out_path = os.fspath(out_path)
    _check_output(out_path, codec)
    track = _PlacedAudio(waveform, sample_rate, audio_start, mono_to_stereo)
    name = source_name(video_source)
    with open_input(video_source, name) as src:
        in_video = first_video_stream(src, name)
        in_codec = in_video.codec_context.name
        rate = in_video.average_rate or in_video.guessed_rate or Fraction(25)
        copy = window is None and (not out_path.lower().endswith((".mp4", ".m4v")) or in_codec in MP4_VIDEO_CODECS)
        if copy:
            try:
                with av.open(out_path, "w") as out:
                    out_video = out.add_stream_from_template(in_video)

                    def packets():
                        for packet in src.demux(in_video):
                            # an empty packet is the demuxer's flush marker; a missing dts (Matroska's first
                            # packets before B-frames) the muxer fills in from the pts
                            if packet.size:
                                packet.stream = out_video
                                yield packet
                    _interleave(out, packets(), _audio_packets(out, codec, track, sample_rate, bitrate))
            except av.error.FFmpegError as e:
                raise RuntimeError(f"cannot write {codec} audio and the video of {name} into {out_path}: {e}") from e
            return
    # decoded by a container of its own (which seeks to the window): closed here first, so that a file
    # object source is never read by two containers at once
    if window is None:
        log.warning("%s: %s video cannot be copied into %s; encoding it once to H.264", name, in_codec, out_path)
    try:
        with av.open(out_path, "w") as out:
            frames = _window_frames(video_source, name, window or (-math.inf, math.inf))
            video_packets = _started(_encoded(frames, rate, out))  # the video stream exists before the audio's
            _interleave(out, video_packets, _audio_packets(out, codec, track, sample_rate, bitrate))
    except av.error.FFmpegError as e:
        raise RuntimeError(f"cannot write {codec} audio and the video of {name} into {out_path}: {e}") from e


def _started(packets):
    """Run a packet generator up to its first packet, so that the streams it adds exist before others."""
    packets = iter(packets)
    first = next(packets, None)

    def chained():
        if first is not None:
            yield first
        yield from packets
    return chained()


def _rgb_u8(frame):
    """One frame as uint8 RGB: a uint8 array as it is, a 0..1 float array or tensor (ComfyUI IMAGE) rounded."""
    if isinstance(frame, np.ndarray) and frame.dtype == np.uint8:
        return frame[..., :3]
    frame = np.asarray(frame.cpu() if hasattr(frame, "cpu") else frame, dtype=np.float32)
    return np.clip(np.round(frame[..., :3] * 255), 0, 255).astype(np.uint8)


def encode_video_with_audio(frames, fps, waveform, sample_rate, out_path, codec="aac", bitrate=192000,
                            audio_start=0.0, window=None, mono_to_stereo=True):
    """Encode an image sequence (uint8 or 0..1 float [T, H, W, 3], frame i at i / fps) once to H.264 with
    `waveform` as its audio track; `audio_start` and `window` as in mux_audio_into_video."""
    out_path = os.fspath(out_path)
    _check_output(out_path, codec)
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    if len(frames) == 0:
        raise ValueError("the video has 0 frames")
    track = _PlacedAudio(waveform, sample_rate, audio_start, mono_to_stereo)
    rate = Fraction(fps).limit_denominator(1001000)
    first, last = 0, len(frames)
    if window is not None:
        first = max(0, math.ceil(window[0] * fps - 1e-6))
        if math.isfinite(window[1]):
            last = min(len(frames), math.ceil(window[1] * fps - 1e-6))

    try:
        with av.open(out_path, "w") as out:
            video_packets = _started(_encoded((_rgb_u8(frames[i]) for i in range(first, last)), rate, out))
            _interleave(out, video_packets, _audio_packets(out, codec, track, sample_rate, bitrate))
    except av.error.FFmpegError as e:
        raise RuntimeError(f"cannot encode the video with {codec} audio into {out_path}: {e}") from e
