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
