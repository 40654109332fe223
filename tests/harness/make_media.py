"""Small media files for tests, written and read back with PyAV (what ComfyUI 0.3.75 uses for audio/video)."""
from fractions import Fraction

import av
import numpy as np


def make_video(path, n_frames=24, fps=12, width=64, height=48, with_audio=True, sample_rate=44100):
    """h264 (+ aac mono 440 Hz sine) clip; frames are a grey ramp so each frame differs."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=sample_rate, layout="mono") if with_audio else None
        for i in range(n_frames):
            img = np.full((height, width, 3), int(255 * i / max(1, n_frames - 1)), np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            t = np.arange(int(sample_rate * n_frames / fps)) / sample_rate
            samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = sample_rate, 0
            for packet in audio.encode(frame):
                container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)
    return path


def probe_media(path):
    """Decode every stream fully -> {"video": {...} | None, "audio": {...} | None, "format": str}.

    video: codec, width, height, fps (Fraction), frames (decoded count), duration_s;
    audio: codec, sample_rate, channels, samples (decoded count), duration_s.
    Raises if the file cannot be opened or decoded, so a passing probe means the file is playable.
    """
    info = {"video": None, "audio": None}
    with av.open(str(path)) as container:
        info["format"] = container.format.name
        for stream in container.streams:
            if stream.type == "video" and info["video"] is None:
                n = sum(1 for _ in container.decode(stream))
                rate = stream.average_rate or stream.guessed_rate or Fraction(0)
                info["video"] = {"codec": stream.codec_context.name, "width": stream.codec_context.width,
                                 "height": stream.codec_context.height, "fps": Fraction(rate), "frames": n,
                                 "duration_s": float(n / rate) if rate else None}
                container.seek(0)
            elif stream.type == "audio" and info["audio"] is None:
                samples = sum(f.samples for f in container.decode(stream))
                sr = stream.codec_context.sample_rate
                info["audio"] = {"codec": stream.codec_context.name, "sample_rate": sr,
                                 "channels": stream.codec_context.channels, "samples": samples,
                                 "duration_s": samples / sr if sr else None}
                container.seek(0)
    return info


def read_audio(path):
    """-> (float32 array [channels, samples] in [-1, 1], sample_rate) of the first audio stream."""
    chunks = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            a = frame.to_ndarray()
            if not frame.format.is_planar:  # packed formats come back as [1, samples * channels]
                a = a.reshape(-1, len(frame.layout.channels)).T
            if np.issubdtype(a.dtype, np.integer):
                a = a.astype(np.float64) / float(np.iinfo(a.dtype).max + 1)
            chunks.append(a.astype(np.float32))
        sr = stream.codec_context.sample_rate
    return np.concatenate(chunks, axis=1), sr


def index_frame(i, width=64, height=48):
    """RGB frame that shows its index: 8 stripes over the top half (MSB left, white = 1) and a grey
    level of its own below, so that every frame of a short clip survives lossy coding distinguishably."""
    img = np.zeros((height, width, 3), np.uint8)
    stripe = width // 8
    for s, bit in enumerate(f"{i % 256:08b}"):
        img[: height // 2, s * stripe:(s + 1) * stripe] = 255 * (bit == "1")
    img[height // 2:] = (40 + 7 * i) % 256
    return img


def _picture_bytes(codec, size=32):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), 200, np.uint8)).save(buffer, {"mjpeg": "JPEG", "png": "PNG"}[codec])
    return buffer.getvalue()


def _add_cover_art(container, codec="mjpeg"):
    """An attached-picture stream (cover art) and its one packet; mux the packet before anything else."""
    stream = container.add_stream(codec)
    stream.width = stream.height = 32
    stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "rgb24"
    stream.time_base = Fraction(1, 90000)
    stream.disposition = av.stream.Disposition.attached_pic
    packet = av.Packet(_picture_bytes(codec))
    packet.stream, packet.pts, packet.dts, packet.time_base = stream, 0, 0, stream.time_base
    return packet


def write_video(path, n_frames=150, fps=25, codec="libx264", format=None, width=64, height=48, options=None,
                gop=None, max_b_frames=None, rotation=None, cover_art=False, container_options=None):
    """Video-only clip of index_frame(i) frames in any container/codec PyAV can write.

    rotation: display rotation in degrees clockwise (the old `rotate` tag of phone clips), stored as the
    display matrix; cover_art: an attached-picture stream added before the video stream (the mp4 muxer
    still stores it after)."""
    with av.open(str(path), "w", format=format, options=container_options or {}) as container:
        cover = _add_cover_art(container) if cover_art else None
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if gop is not None:
            stream.codec_context.gop_size = gop
        if max_b_frames is not None:
            stream.codec_context.max_b_frames = max_b_frames
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV takes counter-clockwise degrees
        if cover is not None:
            container.mux(cover)
        for i in range(n_frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(index_frame(i, width, height), format="rgb24")))
        container.mux(stream.encode(None))
    return path


def remux_with_rotation(src, dst, rotation):
    """Copy the video packets of `src` into `dst` with a display rotation (degrees clockwise): the
    decoded pixels stay bit-identical to those of `src`."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        out_stream.set_display_rotation(-rotation)
        for packet in inp.demux(in_stream):
            if packet.dts is None:
                continue
            packet.stream = out_stream
            out.mux(packet)
    return dst


def write_audio_with_cover(path, seconds=1.0, sample_rate=44100, format="mp3", codec="libmp3lame"):
    """Silent audio file with cover art (an attached mjpeg picture), like a tagged .mp3."""
    with av.open(str(path), "w", format=format) as container:
        audio = container.add_stream(codec, rate=sample_rate, layout="mono")
        container.mux(_add_cover_art(container))
        frame = av.AudioFrame.from_ndarray(np.zeros((1, int(seconds * sample_rate)), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = sample_rate, 0
        container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    return path


def write_animated_webp(path, n_frames=5, fps=10, width=64, height=48):
    """Animated WebP (libwebp_anim), which FFmpeg writes but cannot decode."""
    with av.open(str(path), "w", format="webp") as container:
        stream = container.add_stream("libwebp_anim", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(n_frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(index_frame(i, width, height), format="rgb24")))
        container.mux(stream.encode(None))
    return path


def frame_number(rgb):
    """The index (mod 256) that index_frame drew into a decoded frame: its 8 stripes read at their centres."""
    height, width = rgb.shape[:2]
    stripe = width // 8
    bits = [rgb[height // 4, s * stripe + stripe // 2].mean() > 127 for s in range(8)]
    return int("".join("1" if b else "0" for b in bits), 2)
