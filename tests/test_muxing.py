"""Audio into video: copied streams from many containers, one encode where MP4 cannot hold the codec, the
audio placed at its window, exact cuts, rotation kept, frames from memory at their true rate."""
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from foley_models.media import read_video_frames
from foley_models.muxing import encode_video_with_audio, mux_audio_into_video
from make_media import index_frame, probe_media, read_audio, remux_with_rotation, write_video

SOURCES = [  # (file name, codec, container format): what users load
    ("h264.mp4", "libx264", None), ("h264.mkv", "libx264", None), ("h264.ts", "libx264", "mpegts"),
    ("mpeg4.avi", "mpeg4", None), ("vp9.webm", "libvpx-vp9", None), ("mpeg2.mpg", "mpeg2video", "mpeg"),
]
NOT_MP4 = [("vp8.webm", "libvpx", None), ("prores.mov", "prores_ks", None), ("raw.avi", "rawvideo", None)]


def decoded(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def sine(seconds, freq=440.0, rate=48000):
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(np.float32)[None]


def write(tmp_path, name, codec, fmt):
    pix = {"prores_ks": "yuv422p10le", "rawvideo": "rgb24"}.get(codec)
    path = tmp_path / name
    if pix is None:
        write_video(path, n_frames=50, fps=25, codec=codec, format=fmt)
    else:  # write_video uses yuv420p; ProRes and raw need their own pixel formats
        with av.open(str(path), "w", format=fmt) as out:
            stream = out.add_stream(codec, rate=25)
            stream.width, stream.height, stream.pix_fmt = 64, 48, pix
            for i in range(50):
                out.mux(stream.encode(av.VideoFrame.from_ndarray(index_frame(i), format="rgb24")))
            out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("name, codec, fmt", SOURCES, ids=[s[0] for s in SOURCES])
def test_video_from_any_container_is_copied_unchanged(tmp_path, name, codec, fmt):
    src = write(tmp_path, name, codec, fmt)
    out = tmp_path / "out.mp4"
    mux_audio_into_video(src, sine(2.0), 48000, out)
    frames, original = decoded(out), decoded(src)
    assert len(frames) == len(original) == 50
    assert all(np.array_equal(a, b) for a, b in zip(frames, original))  # the same bitstream, decoded alike
    assert probe_media(out)["audio"]["channels"] == 2


@pytest.mark.parametrize("name, codec, fmt", NOT_MP4, ids=[s[0] for s in NOT_MP4])
def test_a_codec_mp4_cannot_hold_is_encoded_once_to_h264(tmp_path, name, codec, fmt, caplog):
    src = write(tmp_path, name, codec, fmt)
    out = tmp_path / "out.mp4"
    mux_audio_into_video(src, sine(2.0), 48000, out)
    assert "encoding it once to H.264" in caplog.text
    info = probe_media(out)
    assert info["video"]["codec"] == "h264" and info["video"]["frames"] == 50 and info["video"]["fps"] == 25
    for a, b in zip(decoded(out), decoded(src)):
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 4  # crf 18


def test_audio_start_puts_silence_before_the_audio(tmp_path):
    src = write(tmp_path, "h264.mp4", "libx264", None)
    out = tmp_path / "out.mp4"
    mux_audio_into_video(src, sine(0.5, 1000), 48000, out, codec="pcm", audio_start=1.0)
    wave, rate = read_audio(out)
    assert np.abs(wave[:, : rate - 10]).max() == 0
    assert np.abs(wave[:, rate + 10: int(1.49 * rate)]).max() > 0.25


@pytest.mark.parametrize("codec", ["aac", "flac", "pcm"])
def test_audio_with_nan_is_refused_before_a_file_is_written(tmp_path, codec):
    src = write(tmp_path, "h264.mp4", "libx264", None)
    out = tmp_path / "out.mp4"
    wave = sine(1.0)
    wave[..., 100:110] = float("nan")
    with pytest.raises(ValueError, match=r"10 non-finite samples \(NaN or infinity\) of 48000, the first at sample 100"):
        mux_audio_into_video(src, wave, 48000, out, codec=codec)
    assert not out.exists()


def test_window_cuts_exactly_those_frames(tmp_path):
    src = write(tmp_path, "h264.mp4", "libx264", None)
    out = tmp_path / "out.mp4"
    mux_audio_into_video(src, sine(0.8), 48000, out, window=(0.4, 1.2))
    frames = decoded(out)
    assert len(frames) == 20  # frames 10..29 of the 25 fps source
    reference = decoded(src)
    for k, i in ((0, 10), (19, 29)):
        assert np.abs(frames[k].astype(int) - reference[i].astype(int)).mean() < 4
    assert probe_media(out)["audio"]["duration_s"] == pytest.approx(0.8, abs=0.03)


def test_rotation_is_kept_when_the_stream_is_copied(tmp_path):
    src = remux_with_rotation(write(tmp_path, "h264.mp4", "libx264", None), tmp_path / "phone.mp4", 90)
    out = tmp_path / "out.mp4"
    mux_audio_into_video(src, sine(2.0), 48000, out)
    upright = read_video_frames(src, rates=(25,)).frames[25]
    assert upright.shape[1:3] == (64, 48)
    np.testing.assert_array_equal(read_video_frames(out, rates=(25,)).frames[25], upright)


def test_frames_from_memory_are_encoded_at_their_true_rate(tmp_path):
    frames = torch.stack([torch.from_numpy(index_frame(i)).float() / 255 for i in range(30)])
    out = tmp_path / "out.mp4"
    encode_video_with_audio(frames, Fraction(30000, 1001), sine(1.0), 48000, out, audio_start=0.25)
    info = probe_media(out)
    assert info["video"]["frames"] == 30 and info["video"]["fps"] == Fraction(30000, 1001)
    wave, rate = read_audio(out)
    assert np.abs(wave[:, : int(0.24 * rate)]).max() < 1e-3 and np.abs(wave[:, int(0.3 * rate):]).max() > 0.2
    for k in (0, 29):
        assert np.abs(decoded(out)[k].astype(int) - index_frame(k).astype(int)).mean() < 4


@pytest.mark.parametrize("codec", ["aac", "flac", "pcm"])
def test_stereo_audio_keeps_its_two_channels_and_its_start(tmp_path, codec):
    src = write(tmp_path, "h264.mp4", "libx264", None)
    out = tmp_path / "out.mp4"
    stereo = np.concatenate([sine(1.0, 440), 0.5 * sine(1.0, 1000)])  # a different tone and level on each side
    mux_audio_into_video(src, stereo, 48000, out, codec=codec, audio_start=0.5)
    assert probe_media(out)["audio"]["channels"] == 2
    wave, rate = read_audio(out)
    assert wave.shape[0] == 2
    assert np.abs(wave[:, : int(0.49 * rate)]).max() < 1e-3
    for channel, freq, level in ((0, 440, 0.3), (1, 1000, 0.15)):
        inside = wave[channel, int(0.55 * rate): int(1.45 * rate)]
        assert np.argmax(np.abs(np.fft.rfft(inside))) == pytest.approx(freq * inside.size / rate, abs=2)
        assert np.sqrt(np.mean(inside ** 2)) == pytest.approx(level / np.sqrt(2), rel=0.05)
