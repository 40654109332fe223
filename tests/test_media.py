import io
import json
import math
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
import torch
from make_media import remux_with_rotation, write_animated_webp, write_audio_with_cover, write_video

from foley_models.muxing import mux_audio_into_video
from foley_models.media import (
    frame_indices,
    image_sequence_indices,
    latent_length,
    load_audio,
    read_video_frames,
    resample_audio,
    video_info,
    write_audio,
)
from foley_models.siglip2 import resize_frame
from foley_models.synchformer import resize_crop_frame

FRAMES = Path(__file__).parent / "fixtures" / "frames"
FIXTURE = json.loads((FRAMES / "fixture.json").read_text())
VIDEOS = FIXTURE["videos"]
VIDEO_IDS = [v["file"] for v in VIDEOS]
MUX_VIDEO = FRAMES / "video_30fps_3.3s_96x64.mp4"


def stripe_index(frame):
    """Index coded in the top half of a fixture frame: 8 stripes of 12 px, MSB left, light = 1."""
    top = frame[: frame.shape[0] // 2].astype(np.float32)
    rows = slice(top.shape[0] // 4, 3 * top.shape[0] // 4)
    bits = [top[rows, 12 * s + 3: 12 * s + 9].mean() > 125 for s in range(8)]
    return int("".join("1" if b else "0" for b in bits), 2)


def video_packets(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


@pytest.mark.parametrize("video", VIDEOS, ids=VIDEO_IDS)
def test_frame_indices_match_official(video):
    times = video["source"]["frame_times"]
    sampling = video["sampling"]
    assert frame_indices(times, 8) == sampling["siglip2_8fps"]["indices"]
    assert frame_indices(times, 25) == sampling["synchformer_25fps"]["indices"]
    # The official max_length=1.5 ends the window at 1.5 s inclusive and then keeps only
    # int(1.5 * 25) = 37 frames; max_seconds alone does not cut the surplus frame.
    capped = sampling["synchformer_25fps_max_length_1.5"]
    windowed = frame_indices(times, 25, max_seconds=1.5)
    assert windowed[: int(1.5 * 25)] == capped["indices"]
    # the 3.3 s file has a frame at exactly 1.5 s, which the window keeps as a 38th frame
    assert len(windowed) == capped["n_frames"] + (1.5 in times)


@pytest.mark.parametrize("video", VIDEOS, ids=VIDEO_IDS)
def test_read_video_frames_picks_official_frames(video):
    result = read_video_frames(FRAMES / video["file"])
    sampling = video["sampling"]
    for rate, key in ((8, "siglip2_8fps"), (25, "synchformer_25fps")):
        frames = result.frames[rate]
        assert frames.dtype == np.uint8 and frames.shape[1:] == (64, 96, 3)
        assert len(frames) == sampling[key]["n_frames"]
        assert [stripe_index(f) for f in frames] == sampling[key]["indices"]
        assert frame_indices(result.frame_times, rate) == sampling[key]["indices"]  # frame 0 is at t = 0
    assert result.source_fps == pytest.approx(float(Fraction(video["encoded_fps"])))


def test_read_video_frames_file_like_window_and_seek():
    video = VIDEOS[0]
    data = (FRAMES / video["file"]).read_bytes()
    buffer = io.BytesIO(data)
    assert video_info(buffer)["width"] == 96  # reads the buffer; the next reader must start from byte 0 again
    from_bytes = read_video_frames(buffer, rates=(25,))
    assert [stripe_index(f) for f in from_bytes.frames[25]] == video["sampling"]["synchformer_25fps"]["indices"]

    times = video["source"]["frame_times"]
    windowed = read_video_frames(io.BytesIO(data), rates=(8, 25), duration=1.0)
    for rate in (8, 25):
        expected = frame_indices(times, rate, max_seconds=1.0)
        assert [stripe_index(f) for f in windowed.frames[rate]] == expected

    seeked = read_video_frames(FRAMES / video["file"], rates=(8, 25), start=1.0)
    for rate in (8, 25):
        expected = frame_indices([t - 1.0 for t in times], rate)
        assert expected[0] == 30  # frame 30 sits at exactly 1.0 s
        assert [stripe_index(f) for f in seeked.frames[rate]] == expected


def decode_reference(path, start=0.0, duration=None, rates=(8, 25)):
    """What decoding everything from the first frame gives: frame_times and frames per rate, from PyAV directly."""
    with av.open(str(path)) as container:
        decoded = [(f.time, f.to_ndarray(format="rgb24")) for f in container.decode(container.streams.video[0])]
    end = min(duration or 15.0, 15.0)
    shifted = [t - start for t, _ in decoded]
    frames = {r: np.stack([decoded[i][1] for i in frame_indices(shifted, r, end)]) for r in rates}
    window = []
    for t in shifted:
        if t > end:
            break
        window += [t] if t >= 0 else []
    return window, frames


# h264 with B-frames, VP8/VP9, MPEG-4 part 2 with B-frames, MPEG-2; several GOPs of 1 s (the encoders add
# scene-cut keyframes where they like) and one stream with a single keyframe
SEEK_MEDIA = {
    "h264.mp4": dict(options={"bf": "2", "g": "25", "sc_threshold": "0"}),
    "h264.mkv": dict(options={"bf": "2", "g": "25", "sc_threshold": "0"}),
    "vp8.webm": dict(codec="libvpx", gop=25),
    "vp9.webm": dict(codec="libvpx-vp9", gop=25),
    "mpeg4.avi": dict(codec="mpeg4", gop=25, max_b_frames=2),
    "h264.ts": dict(options={"bf": "2", "g": "25", "sc_threshold": "0"}),
    "mpeg2.ts": dict(codec="mpeg2video", gop=25, max_b_frames=2),
    "h264_one_keyframe.ts": dict(options={"bf": "2", "g": "1000", "sc_threshold": "0"}),
    "mpeg2_ps.mpg": dict(codec="mpeg2video", gop=25, max_b_frames=2),  # MPEG-PS
}
SEEK_WINDOWS = [(0.3, 1.2), (1.0, 1.2), (1.37, 1.2), (2.0, 1.2), (2.5, 1.2), (4.5, None)]


@pytest.fixture(scope="module")
def seek_media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seek")
    return {key: write_video(folder / key, n_frames=150, fps=25, **kwargs) for key, kwargs in SEEK_MEDIA.items()}


@pytest.mark.parametrize("start, duration", SEEK_WINDOWS)
@pytest.mark.parametrize("key", SEEK_MEDIA)
def test_start_picks_the_frames_of_a_full_decode(seek_media, key, start, duration):
    # Demuxers land after the seek target (TS, PS, AVI with B-frames), before the only keyframe (TS), or
    # give other packet timestamps after a seek than from the start (PS): none of it may show.
    path = seek_media[key]
    window, expected = decode_reference(path, start, duration)
    result = read_video_frames(path, start=start, duration=duration)
    assert result.frame_times == window
    for rate in (8, 25):
        assert result.frames[rate].shape == expected[rate].shape
        assert np.array_equal(result.frames[rate], expected[rate]), f"{key} at {start} s, {rate} fps"


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_display_rotation_is_applied(tmp_path, rotation):
    plain = write_video(tmp_path / "plain.mp4", n_frames=30, width=64, height=48)
    turned = remux_with_rotation(plain, tmp_path / f"turned{rotation}.mp4", rotation)  # same packets
    stored = read_video_frames(plain, rates=(25,), start=0.3).frames[25]
    shapes = []
    result = read_video_frames(turned, rates=(8, 25), start=0.3, transforms={8: lambda f: shapes.append(f.shape) or f})
    upright = result.frames[25]
    # `rotation` is the clockwise turn a player applies (the `rotate` tag of phone clips, FFmpeg's autorotate):
    # the stored top-left corner ends top-right after 90, bottom-right after 180, bottom-left after 270
    corner = {90: (0, -1), 180: (-1, -1), 270: (-1, 0)}[rotation]
    assert np.array_equal(upright[:, corner[0], corner[1]], stored[:, 0, 0])
    assert np.array_equal(upright, np.rot90(stored, -rotation // 90, axes=(1, 2)))
    assert upright.shape[1:3] == ((64, 48) if rotation % 180 else (48, 64))
    assert set(shapes) == {upright.shape[1:]}  # transforms see upright frames
    info = video_info(turned)
    assert (info["width"], info["height"]) == (upright.shape[2], upright.shape[1])


def test_transforms_run_once_per_picked_frame(tmp_path):
    # 12 fps source: 25 fps repeats most frames, and 8 fps picks some of the same frames again
    path = write_video(tmp_path / "portrait.mp4", n_frames=30, fps=12, width=96, height=160)
    calls = []

    def shrink_sync(frame):
        calls.append("sync")
        return resize_crop_frame(frame)

    def shrink_visual(frame):
        calls.append("visual")
        return resize_frame(frame, 64)

    full = read_video_frames(path, start=0.5)
    small = read_video_frames(path, start=0.5, transforms={25: shrink_sync, 8: shrink_visual})
    assert small.frames[25].shape[1:] == (224, 224, 3) and small.frames[8].shape[1:] == (64, 64, 3)
    assert np.array_equal(small.frames[25], np.stack([resize_crop_frame(f) for f in full.frames[25]]))
    assert np.array_equal(small.frames[8], np.stack([resize_frame(f, 64) for f in full.frames[8]]))
    distinct = {r: len(set(frame_indices(small.frame_times, r))) for r in (8, 25)}
    assert distinct[25] < len(small.frames[25])
    assert calls.count("sync") == distinct[25] and calls.count("visual") == distinct[8]

    calls.clear()
    shared = read_video_frames(path, start=0.5, transforms={25: shrink_sync, 8: shrink_sync})
    assert np.array_equal(shared.frames[25], small.frames[25])
    picked_by_any = set(frame_indices(small.frame_times, 8)) | set(frame_indices(small.frame_times, 25))
    assert len(calls) == len(picked_by_any)
    with pytest.raises(ValueError, match="transforms.*30"):
        read_video_frames(path, rates=(8, 25), transforms={30: shrink_sync})


def test_cover_art_is_not_video(tmp_path):
    song = write_audio_with_cover(tmp_path / "song.mp3")
    with av.open(str(song)) as c:  # the picture is a video stream, marked as attached
        assert c.streams.video[0].disposition & av.stream.Disposition.attached_pic
    for read in (read_video_frames, video_info):
        with pytest.raises(ValueError, match="song.mp3: no video stream"):
            read(song)

    clip = write_video(tmp_path / "clip.mp4", n_frames=30, cover_art=True)
    assert video_info(clip)["width"] == 64
    assert np.array_equal(read_video_frames(clip).frames[25], decode_reference(clip)[1][25])
    # the mp4 muxer stores cover art after the video; a demuxer may list it first
    from foley_models.media import first_video_stream

    with av.open(str(clip)) as c:
        cover_first = SimpleNamespace(streams=SimpleNamespace(video=sorted(c.streams.video, key=lambda s: -s.index)))
        assert cover_first.streams.video[0].codec_context.name == "mjpeg"
        assert first_video_stream(cover_first, "clip").codec_context.name == "h264"


def test_unreadable_files_say_why(tmp_path):
    webp = write_animated_webp(tmp_path / "moving.webp")
    for read in (read_video_frames, video_info):
        with pytest.raises(ValueError, match="moving.webp is an animated WebP.*MP4"):
            read(webp)
        with pytest.raises(ValueError, match="animated WebP"):
            read(io.BytesIO(webp.read_bytes()))

    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    moov_last = write_video(tmp_path / "moov_last.mp4", n_frames=50)
    cut = tmp_path / "cut.mp4"  # index (moov) at the end: lost
    cut.write_bytes(moov_last.read_bytes()[:-300])
    moov_first = write_video(tmp_path / "moov_first.mp4", n_frames=50, container_options={"movflags": "faststart"})
    cut_data = tmp_path / "cut_data.mp4"  # index kept, frame data missing
    cut_data.write_bytes(moov_first.read_bytes()[: moov_first.stat().st_size // 2])
    for damaged in (garbage, cut, cut_data):
        with pytest.raises(RuntimeError, match=f"{damaged.name}: the file is damaged or incomplete"):
            read_video_frames(damaged)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        read_video_frames(tmp_path / "missing.mp4")


def test_video_info():
    info = video_info(MUX_VIDEO)
    assert info["fps"] == 30.0 and info["n_frames"] == 99
    assert (info["width"], info["height"]) == (96, 64)
    assert info["duration"] == pytest.approx(3.3) and info["has_audio"] is False


def test_latent_length_official_table():
    table = FIXTURE["latent_len_by_n25"]
    assert [latent_length(n) for n in range(1, len(table["n25_from_1"]) + 1)] == table["n25_from_1"]
    short = [n for n in range(1, 376) if latent_length(n) == 2 * n - 1]
    assert short == table["n25_where_latent_len_is_2n25_minus_1"]
    for video in VIDEOS:
        lengths = video["pipeline_lengths"]
        n25 = video["sampling"]["synchformer_25fps"]["n_frames"]
        assert n25 / 25 == lengths["audio_len_in_s"]
        assert latent_length(n25) == lengths["latent_len = int(audio_len_in_s * 50)"]
        assert latent_length(n25) * 960 == lengths["decoded_audio_samples = latent_len * 960"]


def test_latent_length_past_the_official_15_s_is_exact():
    table = FIXTURE["latent_len_by_n25"]["n25_from_1"]
    assert len(table) <= 376  # the official table ends within the official range
    assert [latent_length(n) for n in (377, 7499, 7500, 15001)] == [754, 14998, 15000, 30002]


@pytest.mark.parametrize("rate", [12, 24, 25, 30])
def test_image_sequence_indices(rate):
    n = 2 * rate  # a 2 s batch
    for target in (8, 25):
        expected = frame_indices([i / rate for i in range(n)], target)
        assert image_sequence_indices(n, rate, target) == expected
    # By hand, last frame at (n-1)/rate: 25 fps ticks at ~k/25 up to it.
    # 12 fps: 23/12 = 1.917 s -> ticks 0..47 -> 48; 24 fps: 47/24 = 1.958 -> 49;
    # 30 fps: 59/30 = 1.967 -> 50; 25 fps: 49/25 = 1.96 but the 49th accumulated tick is
    # 1.960000000000001 > 1.96, so the last frame is not reached -> 49. 8 fps: 16 in all cases.
    assert len(image_sequence_indices(n, rate, 25)) == {12: 48, 24: 49, 25: 49, 30: 50}[rate]
    assert len(image_sequence_indices(n, rate, 8)) == 16
    window = image_sequence_indices(n, rate, 25, start=0.5, duration=1.0)
    assert window == frame_indices([i / rate - 0.5 for i in range(n)], 25, max_seconds=1.0)
    assert window[0] == math.ceil(rate / 2)  # first frame at or after 0.5 s


def test_image_sequence_cap_at_15s():
    # 20 s at 25 fps: the official 15 s cap gives 376 frames at 25 fps and 121 at 8 fps (spec §1)
    assert len(image_sequence_indices(500, 25, 25)) == 376
    assert len(image_sequence_indices(500, 25, 8)) == 121


def test_errors(tmp_path):
    audio_only = tmp_path / "audio_only.wav"
    write_audio(audio_only, np.zeros((1, 4800), np.float32), 48000)
    with pytest.raises(ValueError, match="no video stream"):
        read_video_frames(audio_only)


    with pytest.raises(ValueError, match="fps.*0"):
        frame_indices([0.0, 0.1], 0)
    with pytest.raises(ValueError, match="fps.*0"):
        read_video_frames(MUX_VIDEO, rates=(8, 0))
    with pytest.raises(ValueError, match="fps"):
        image_sequence_indices(10, 0, 25)
    with pytest.raises(ValueError, match="0 frames"):
        image_sequence_indices(0, 25, 25)
    with pytest.raises(ValueError, match="window"):
        read_video_frames(MUX_VIDEO, start=10.0)
    with pytest.raises(ValueError, match="audio has 0 samples"):
        write_audio(tmp_path / "empty.wav", np.zeros((1, 0), np.float32), 48000)
    with pytest.raises(ValueError, match="sample_rate"):
        write_audio(tmp_path / "bad.wav", np.zeros((1, 10), np.float32), 0)


def test_write_audio_wav_and_flac(tmp_path):
    torch.manual_seed(0)
    wave = torch.rand(1, 2, 48000 + 123) * 2 - 1  # [1, C, N] like the decoder output
    for name, tol in (("out.wav", 0.0), ("out.flac", 1e-5)):
        write_audio(tmp_path / name, wave, 48000)
        loaded, sr = load_audio(tmp_path / name)
        assert sr == 48000 and loaded.shape == wave.shape[1:] and loaded.dtype == torch.float32
        assert (loaded - wave[0]).abs().max().item() <= tol
    with av.open(str(tmp_path / "out.wav")) as c:
        assert c.streams.audio[0].codec_context.name == "pcm_f32le"
    write_audio(tmp_path / "forced", wave[0, :1].numpy(), 48000, format="flac")
    with av.open(str(tmp_path / "forced")) as c:
        assert c.streams.audio[0].codec_context.name == "flac"


def _sine(freq, sample_rate, seconds):
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(sample_rate * seconds)) / sample_rate)).astype(np.float32)


@pytest.mark.parametrize("codec,suffix,decoded_name", [
    ("aac", ".mp4", "aac"), ("flac", ".mp4", "flac"), ("pcm", ".mp4", "pcm_s16le"),
    ("flac", ".mkv", "flac"), ("pcm", ".mov", "pcm_s16le")])
def test_mux_audio_into_video(tmp_path, codec, suffix, decoded_name):
    wave = _sine(440, 48000, 2.5)[None]
    out = tmp_path / f"muxed{suffix}"
    mux_audio_into_video(MUX_VIDEO, wave, 48000, out, codec=codec)
    assert video_packets(out) == video_packets(MUX_VIDEO)
    with av.open(str(out)) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
        audio = c.streams.audio[0]
        assert audio.codec_context.name == decoded_name and audio.codec_context.channels == 2
        assert c.duration / av.time_base == pytest.approx(3.3, abs=0.05)  # no -shortest
        n_video = sum(1 for _ in c.decode(video=0))
    with av.open(str(out)) as c:
        n_samples = sum(f.samples for f in c.decode(audio=0))
    assert n_video == 99
    assert abs(n_samples - wave.shape[1]) / 48000 < 0.05


def test_mux_codec_that_does_not_fit_the_container_raises(tmp_path):
    with pytest.raises(ValueError, match="flac"):
        mux_audio_into_video(MUX_VIDEO, _sine(440, 48000, 1.0)[None], 48000, tmp_path / "x.m4v", codec="flac")


def test_load_and_resample_audio(tmp_path):
    src = np.stack([_sine(1000, 44100, 1.0), _sine(3000, 44100, 1.0)])
    write_audio(tmp_path / "in.wav", src, 44100)
    wave, sr = load_audio(tmp_path / "in.wav")
    assert sr == 44100 and wave.shape == (2, 44100)
    out = resample_audio(wave, 44100, 48000)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 48000)
    spectrum = torch.fft.rfft(out).abs()  # 1 s -> 1 Hz bins
    assert spectrum.argmax(dim=-1).tolist() == [1000, 3000]
    assert out.abs().max().item() == pytest.approx(0.5, abs=0.02)
    assert resample_audio(src, 44100, 44100).shape == src.shape


def test_a_duration_past_the_official_cap_is_cut_to_15_s():
    # frames at t = i / 25 up to and including t = 15.0 s: 376, however long the duration asked for
    assert len(image_sequence_indices(500, 25, 25, duration=20.0)) == 15 * 25 + 1
    assert len(image_sequence_indices(500, 25, 25, duration=20.0, max_seconds=float("inf"))) == 500
