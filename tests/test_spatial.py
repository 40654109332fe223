"""Spatial and layered Foley, the engine's arithmetic: a source's position from its masks, constant-power panning
that moves no faster than its smoothing allows, object-focus masks on frames, a mix of layers at a BS.1770
loudness under a true-peak ceiling. Expected values come from closed forms computed here."""
import math

import numpy as np
import pytest
import torch
import torchaudio.functional

from foley_models import frames, media, mixing, spatial

RATE = 48000
FPS = 25


def disk_masks(centres_x, width=96, height=54, radius=6.0, cy=27.0):
    """Masks of an anti-aliased disk at each centre (pixel coordinates; pixel c spans [c, c + 1))."""
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    out = [np.clip(radius + 0.5 - np.hypot(xx - cx, yy - cy), 0, 1) for cx in centres_x]
    return torch.from_numpy(np.stack(out).astype(np.float32))


def true_x(cx, width=96):
    return cx / width * 2 - 1


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_the_track_of_a_disk_moving_left_to_right_is_its_centroid(smoothing):
    n = 50
    centres = np.linspace(8.0, 88.0, n)  # 2 s across the picture at 25 fps
    track = spatial.position_track(disk_masks(centres), np.arange(n) / FPS, smoothing)
    assert np.abs(track.x - true_x(centres)).max() < 0.05
    assert np.all(np.diff(track.x) > 0)
    assert track.area == pytest.approx(math.pi * 36 / (96 * 54), rel=0.05)


def test_empty_masks_hold_the_last_known_position():
    masks = disk_masks([20.0, 30.0, 40.0, 50.0, 60.0])
    masks[[0, 2, 3]] = 0
    track = spatial.position_track(masks, np.arange(5) / FPS, 0.0)
    # frame 0 takes the first known position (frame 1), frames 2 and 3 hold frame 1's
    np.testing.assert_allclose(track.x, true_x(np.array([30, 30, 30, 30, 60.0])), atol=0.01)
    with pytest.raises(ValueError, match="every mask is empty"):
        spatial.position_track(torch.zeros(3, 8, 8), np.arange(3) / FPS)


def constant_power_db(position, width):
    """Left/right level ratio in dB of the constant-power law at `position`, computed from its definition."""
    angle = (max(-1.0, min(1.0, position * width)) + 1) * math.pi / 4
    return 20 * math.log10(math.cos(angle) / math.sin(angle)) if 0 < angle < math.pi / 2 else None


@pytest.mark.parametrize("width", [1.0, 0.6])
def test_left_right_levels_follow_the_constant_power_law_at_each_position(width):
    positions = np.linspace(-0.9, 0.9, 7)
    seconds_each = 0.5
    times = np.arange(0, len(positions) * seconds_each, 1 / FPS)
    track = spatial.PositionTrack(times, positions[(times // seconds_each).astype(int)], np.full(times.size, 0.1))
    noise = torch.from_numpy(np.random.default_rng(0).standard_normal(int(times[-1] * RATE)).astype(np.float32))
    stereo = spatial.pan(0.1 * noise[None, None], RATE, track, width=width)[0].double().numpy()
    for k, position in enumerate(positions):
        # the middle of each position's stretch, away from the interpolation between frames
        middle = slice(int((k + 0.2) * seconds_each * RATE), int((k + 0.8) * seconds_each * RATE))
        left, right = np.sqrt(np.mean(stereo[:, middle] ** 2, axis=1))
        assert 20 * math.log10(left / right) == pytest.approx(constant_power_db(position, width), abs=0.5)
        assert left ** 2 + right ** 2 == pytest.approx(0.01 * np.mean(noise.numpy()[middle] ** 2), rel=0.02)



def test_stereo_audio_is_panned_as_its_channel_mean():
    """A stereo AUDIO batch (e.g. a decoded recording) is mixed to mono first, item by item, then panned."""
    times = np.arange(0, 1, 1 / FPS)
    track = spatial.PositionTrack(times, np.linspace(-1, 1, times.size), np.full(times.size, 0.1))
    rng = np.random.default_rng(1)
    stereo_in = torch.from_numpy(rng.standard_normal((2, 2, RATE)).astype(np.float32)) * 0.1
    mono_in = (stereo_in[:, 0] + stereo_in[:, 1]) / 2
    torch.testing.assert_close(spatial.pan(stereo_in, RATE, track), spatial.pan(mono_in[:, None], RATE, track),
                               atol=1e-6, rtol=0)

def test_a_jump_pans_no_faster_than_the_smoothing_allows():
    """A source that jumps from the left edge to the right edge: every per-sample change of each gain stays
    under (pi / 4) * width * range / (time_constant * rate), the bound of the smoothed track."""
    tau, width = 0.1, 1.0
    times = np.arange(50) / FPS
    masks = disk_masks(np.where(times < 1.0, 3.0, 93.0))
    track = spatial.position_track(masks, times, tau)
    ones = torch.ones(1, 1, 2 * RATE)
    gains = spatial.pan(ones, RATE, track, width=width)[0].double().numpy()
    raw_range = true_x(93.0) - true_x(3.0)
    bound = math.pi / 4 * width * raw_range / (tau * RATE)
    steps = np.abs(np.diff(gains, axis=1)).max(axis=1)
    assert steps.max() <= bound
    assert steps.max() > bound / 10  # it does move: from clearly left to clearly right
    assert gains[0, 0] > 0.99 and gains[1, -1] > 0.99


def test_interaural_delay_delays_the_far_ear():
    times = np.arange(25) / FPS
    track = spatial.PositionTrack(times, np.full(25, 1.0), np.ones(25))
    click = torch.zeros(1, 1, RATE // 2)
    click[..., 1000] = 1.0
    stereo = spatial.pan(click, RATE, track, width=1.0, interaural_delay_ms=0.5)[0].numpy()
    delay = 0.5e-3 * RATE  # 24 samples: the left ear hears a source on the right later
    assert np.argmax(stereo[1]) == 1000 and np.abs(stereo[0]).max() < 1e-6  # hard right: cos(pi/2) = 0 on the left
    track = spatial.PositionTrack(times, np.full(25, 0.5), np.ones(25))
    stereo = spatial.pan(click, RATE, track, width=1.0, interaural_delay_ms=0.5)[0].numpy()
    assert np.argmax(stereo[1]) == 1000 and np.argmax(stereo[0]) == 1000 + round(0.5 * delay)


def test_the_track_is_read_at_each_samples_time_on_the_video():
    """A layer starting at 1 s of the video reads the track from 1 s: a track that jumps at 1 s pans all of it right."""
    times = np.arange(50) / FPS
    track = spatial.PositionTrack(times, np.where(times < 1.0, -1.0, 1.0), np.ones(50))
    stereo = spatial.pan(torch.ones(1, 1, RATE // 2), RATE, track, start_time=1.0)[0].numpy()
    assert np.abs(stereo[0]).max() < 1e-6 and stereo[1].min() > 0.999


def test_a_full_mask_leaves_a_frame_untouched_and_a_mask_suppresses_only_outside():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    assert frames.apply_mask(frame, torch.ones(12, 16)) is frame
    mask = torch.zeros(48, 64)
    mask[:, :32] = 1
    out = frames.apply_mask(frame, mask)
    edge = math.ceil(3 * frames.FEATHER * 48) + 1  # the feather's reach
    np.testing.assert_array_equal(out[:, :32 - edge], frame[:, :32 - edge])  # inside, away from the edge: the frame
    outside_mean = frame[:, 32:].reshape(-1, 3).mean(0)
    np.testing.assert_allclose(out[:, 32 + edge:].reshape(-1, 3), np.broadcast_to(outside_mean, (48 * (32 - edge), 3)),
                               atol=1.5)  # outside: one flat colour, the suppressed region's mean


def test_masks_index_the_source_frames_and_a_wrong_count_is_named():
    images = torch.rand(10, 16, 16, 3)
    masks = torch.ones(10, 16, 16)
    masks[4, :, 8:] = 0  # only source frame 4 is masked
    plain = list(frames.image_batch_frames(images, 10.0, 10.0))
    masked = list(frames.image_batch_frames(images, 10.0, 10.0, masks=masks))
    picked = media.image_sequence_indices(10, 10.0, 10.0, max_seconds=math.inf)  # the official rule's float ticks
    changed = [picked[i] for i in range(len(picked)) if not np.array_equal(plain[0][i], masked[0][i])]
    assert changed and set(changed) == {4}
    with pytest.raises(ValueError, match="the mask batch has 3 masks but the video has 10 frames"):
        frames.image_batch_frames(images, 10.0, 10.0, masks=torch.ones(3, 16, 16))


def sine(seconds, freq, rate=RATE, amplitude=0.1):
    t = torch.arange(int(seconds * rate), dtype=torch.float64) / rate
    return (amplitude * torch.sin(2 * math.pi * freq * t)).float()[None]


def test_the_mix_is_the_sum_of_its_gained_and_panned_layers():
    a = sine(1.0, 440)
    b = torch.from_numpy(np.random.default_rng(2).uniform(-0.2, 0.2, (2, 24000)).astype(np.float32))
    layers = [mixing.Layer(a, RATE, start_time=1.5, gain_db=-6.0, pan=-0.5),
              mixing.Layer(b, RATE, start_time=0.5, gain_db=3.0, pan=0.4)]
    mix, rate, start = mixing.place_layers(layers)
    assert rate == RATE and start == 0.5
    expected = np.zeros((2, int(2.0 * RATE)))
    angle_a = (-0.5 + 1) * math.pi / 4  # mono: constant power
    gain_a = 10 ** (-6 / 20)
    expected[0, RATE:] += a[0].numpy() * gain_a * math.cos(angle_a)
    expected[1, RATE:] += a[0].numpy() * gain_a * math.sin(angle_a)
    # stereo, pan right: the left side turned down by sqrt(2) cos(angle), the right left as it is
    angle_b = (0.4 + 1) * math.pi / 4
    gain_b = 10 ** (3 / 20)
    expected[0, :24000] += b[0].numpy() * gain_b * math.sqrt(2) * math.cos(angle_b)
    expected[1, :24000] += b[1].numpy() * gain_b
    np.testing.assert_allclose(mix.numpy(), expected, atol=1e-6)


def loudness_reference(stereo, rate):
    """torchaudio's BS.1770 meter, read at -12 dB and corrected: its filters clip at +-1 (K-weighting lifts
    highs by 4 dB), which the level change avoids; loudness scales with level (no block is near -70 LUFS)."""
    return float(torchaudio.functional.loudness(stereo.double() * 0.25, rate)) - 20 * math.log10(0.25)


def true_peak_reference(stereo, rate):
    """True peak by 4x oversampling with torchaudio's resampler (another implementation than the pack's)."""
    up = torchaudio.functional.resample(stereo.double(), rate, 4 * rate)
    return max(float(stereo.abs().max()), float(up.abs().max()))


@pytest.mark.parametrize("target", [-23.0, -16.0])
def test_the_mix_reaches_its_target_loudness_under_the_ceiling(target):
    """At 16 kHz: torchaudio's meter runs its filters one sample at a time."""
    rng = np.random.default_rng(3)
    layers = [mixing.Layer(sine(2.0, 220, rate=16000, amplitude=0.05), 16000, 0.0, 0.0, -0.3),
              mixing.Layer(torch.from_numpy(rng.standard_normal((1, 12000)).astype(np.float32) * 0.02), 12000,
                           1.0, -3.0, 0.6),
              # a faint bed to 4 s: its blocks alone are above -70 LUFS but under the relative gate
              mixing.Layer(torch.from_numpy(rng.standard_normal((1, 64000)).astype(np.float32) * 3e-4), 16000)]
    stereo, rate, start, report = mixing.mix_layers(layers, target_lufs=target, true_peak_db=-1.0)
    assert rate == 16000 and start == 0.0
    assert loudness_reference(stereo, rate) == pytest.approx(target, abs=0.5)
    assert 20 * math.log10(true_peak_reference(stereo, rate)) <= -1.0 + 0.05
    assert report["turned_down_for_ceiling_db"] == 0


def test_peaks_that_would_pass_the_ceiling_turn_the_whole_mix_down_and_the_report_says_so():
    rate = 16000
    clicks = torch.zeros(1, 2 * rate)
    clicks[0, ::rate // 4] = 1.0  # impulsive: a high peak for a low loudness
    quiet = sine(2.0, 300, rate=rate, amplitude=0.01)
    stereo, _, _, report = mixing.mix_layers([mixing.Layer(clicks + quiet, rate)], target_lufs=-10.0,
                                             true_peak_db=-1.0)
    ceiling = 10 ** (-1.0 / 20)
    assert stereo.abs().max() <= ceiling  # no sample over the ceiling, nothing clipped
    assert true_peak_reference(stereo, rate) <= ceiling * 10 ** (0.05 / 20)
    loudness = loudness_reference(stereo, rate)
    assert loudness < -10.5 and report["turned_down_for_ceiling_db"] == pytest.approx(-10.0 - loudness, abs=0.1)
    assert "under the -10.0 LUFS target" in mixing.describe(report)
    # the shape is kept: a gain, not a limiter
    mono = (clicks + quiet)[0].double()
    ratio = stereo[0].double() / (mono * math.cos(math.pi / 4))
    assert float(ratio[mono.abs() > 0.005].std()) < 1e-5


def test_the_ceiling_is_on_the_true_peak_between_samples():
    """A sine at a quarter of the rate, 45 degrees off its samples: every sample is at 1/sqrt(2) of its true peak."""
    rate = 16000
    n = torch.arange(rate, dtype=torch.float64)
    tone = (0.5 * torch.sin(math.pi / 2 * n + math.pi / 4)).float()[None]
    stereo, _, _, report = mixing.mix_layers([mixing.Layer(tone, rate)], target_lufs=-3.0, true_peak_db=-9.0)
    ceiling = 10 ** (-9.0 / 20)
    assert true_peak_reference(stereo, rate) <= ceiling * 10 ** (0.05 / 20)
    # the samples sit 3 dB under the ceiling (1.2 % more: the tone's abrupt ends ring between samples)
    assert float(stereo.abs().max()) == pytest.approx(ceiling / math.sqrt(2), rel=0.02)
    assert report["turned_down_for_ceiling_db"] > 0


def test_bad_mixes_are_refused_with_their_cause():
    with pytest.raises(ValueError, match="no layers"):
        mixing.mix_layers([])
    with pytest.raises(ValueError, match="silent"):
        mixing.mix_layers([mixing.Layer(torch.zeros(1, RATE), RATE)])
    nan = sine(1.0, 440)
    nan[0, 7] = float("nan")
    with pytest.raises(ValueError, match="mix layer 1: the audio has 1 non-finite"):
        mixing.mix_layers([mixing.Layer(nan, RATE)])
    with pytest.raises(ValueError, match="at least 0.4 s"):
        mixing.mix_layers([mixing.Layer(sine(0.2, 440), RATE)])


def test_empty_masks_hold_the_last_known_area():
    masks = disk_masks([20.0, 30.0, 40.0, 50.0, 60.0])
    masks[1] *= 0.5  # a fainter mask: a smaller area
    masks[[0, 2, 3]] = 0
    track = spatial.position_track(masks, np.arange(5) / FPS, 0.0)
    full, half = float(masks[4].sum()) / (96 * 54), float(masks[1].sum()) / (96 * 54)
    np.testing.assert_allclose(track.area, [half, half, half, half, full], rtol=1e-6)


@pytest.mark.parametrize("seconds, tau", [(4.0, 5.0), (10.0, 5.0), (10.0, 1.0), (30.0, 5.0)])
def test_smoothing_a_short_clip_treats_both_ends_alike(seconds, tau):
    """A steady movement across the picture: the start and the end are followed equally closely, at most a few
    percent off, however long the time constant is against the clip."""
    times = np.arange(int(seconds * 24)) / 24
    ramp = np.linspace(-1.0, 1.0, times.size)
    smoothed = spatial.smooth(ramp, times, tau)
    assert smoothed[0] - ramp[0] == pytest.approx(ramp[-1] - smoothed[-1], abs=1e-9)
    assert abs(smoothed[0] - ramp[0]) < 0.03


def test_smoothing_reversed_in_time_is_the_smoothing_reversed():
    rng = np.random.default_rng(4)
    times = np.cumsum(rng.uniform(0.02, 0.06, 80))  # uneven frame times
    values = np.cumsum(rng.standard_normal(80)) * 0.05
    for tau in (0.1, 0.5, 5.0):
        forwards = spatial.smooth(values, times, tau)
        backwards = spatial.smooth(values[::-1], (times[-1] - times)[::-1], tau)
        np.testing.assert_allclose(backwards[::-1], forwards, rtol=0, atol=1e-12)


def position_reference(masks):
    """(x, area) per frame of the whole batch in float64, empty frames left NaN: the plain definition."""
    masks = masks.double().clamp(0, 1)
    column_x = (torch.arange(masks.shape[2], dtype=torch.float64) + 0.5) / masks.shape[2] * 2 - 1
    weight = masks.sum(dim=(1, 2))
    x = (masks.sum(dim=1) * column_x).sum(dim=1) / weight
    return x.numpy(), (weight / masks[0].numel()).numpy()


def test_the_track_read_a_chunk_of_frames_at_a_time_is_the_whole_batchs(monkeypatch):
    """Masks read three frames at a time in float32 (sums in float64) give the float64 whole-batch values to
    1e-12 (the sums' order), out-of-range values clamped, one [H, W] mask as one frame."""
    rng = np.random.default_rng(5)
    masks = torch.from_numpy(rng.uniform(-0.5, 1.5, (11, 54, 96)).astype(np.float32))
    monkeypatch.setattr(spatial, "MASK_CHUNK_ELEMENTS", 3 * 54 * 96)
    track = spatial.position_track(masks, np.arange(11) / FPS, 0.0)
    x, area = position_reference(masks)
    np.testing.assert_allclose(track.x, x, rtol=1e-12, atol=0)
    np.testing.assert_allclose(track.area, area, rtol=1e-12, atol=0)
    single = spatial.position_track(masks[4], np.zeros(1), 0.0)
    np.testing.assert_allclose([single.x[0], single.area[0]], [x[4], area[4]], rtol=1e-12)


def pan_reference(mono, rate, track, start_time, width, delay_ms, closeness_db):
    """The whole-signal panning (every sample's gains and delays at once, float64), from the definitions."""
    mono = mono.astype(np.float64)
    n = np.arange(mono.shape[-1])
    x = np.interp(start_time + n / rate, track.times, track.x)
    area = np.interp(start_time + n / rate, track.times, track.area)
    angle = (np.clip(x * width, -1, 1) + 1) * math.pi / 4
    size = np.sqrt(area)
    level = 10.0 ** (closeness_db * (size / size.max() - 1.0) / 20.0)
    placed = np.clip(x * width, -1, 1)
    far = delay_ms * 1e-3 * rate * np.abs(placed)
    left = np.stack([np.interp(n - np.where(placed > 0, far, 0), n, s, left=0.0) for s in mono])
    right = np.stack([np.interp(n - np.where(placed < 0, far, 0), n, s, left=0.0) for s in mono])
    return np.stack([left * np.cos(angle) * level, right * np.sin(angle) * level], axis=1).astype(np.float32)


def test_panning_block_by_block_is_the_whole_signals_panning(monkeypatch):
    """Blocks of 1000 samples (a delay reaching back across each block's start) give the whole-signal result
    exactly: every sample's arithmetic is the same."""
    rng = np.random.default_rng(6)
    times = np.arange(40) / FPS
    track = spatial.PositionTrack(times, np.sin(times * 3), rng.uniform(0.05, 0.3, 40))
    mono = rng.standard_normal((2, 1, 20000)).astype(np.float32) * 0.1
    monkeypatch.setattr(spatial, "PAN_BLOCK", 1000)
    stereo = spatial.pan(torch.from_numpy(mono), 16000, track, 0.2, 0.9, 0.7, 12.0).numpy()
    np.testing.assert_array_equal(stereo, pan_reference(mono[:, 0], 16000, track, 0.2, 0.9, 0.7, 12.0))


def test_loudness_and_true_peak_measured_block_by_block_are_the_whole_signals(monkeypatch):
    """Against the whole signal K-weighted by one FFT and oversampled at once: equal to float rounding."""
    rate = 16000
    rng = np.random.default_rng(7)
    stereo = torch.from_numpy(rng.standard_normal((2, 7 * rate + 123)).astype(np.float32) * 0.05)
    stereo[:, 3 * rate:4 * rate] *= 8  # a loud second, where the gates matter
    stereo[0, 5 * rate] = 0.9
    monkeypatch.setattr(mixing, "LOUDNESS_BLOCK", 5000)  # groups of 3 gating blocks
    monkeypatch.setattr(mixing, "TRUE_PEAK_BLOCK", 777)
    audio = stereo.double()
    response = mixing.k_weighting(rate)
    size = 1 << (audio.shape[-1] + response.shape[0]).bit_length()
    weighted = torch.fft.irfft(torch.fft.rfft(audio, size) * torch.fft.rfft(response, size), size)
    block, step = round(0.4 * rate), round(0.1 * rate)
    power = weighted[:, :audio.shape[-1]].square().unfold(-1, block, step).mean(-1).sum(0)
    gated = power[-0.691 + 10 * torch.log10(power) > -70]
    relative = power[power > gated.mean() / 10]
    assert mixing.integrated_loudness(stereo, rate) == pytest.approx(-0.691 + 10 * math.log10(relative.mean()),
                                                                     abs=1e-9)
    oversampled = torchaudio.functional.resample(audio, rate, 4 * rate)
    assert mixing.true_peak(stereo, rate) == pytest.approx(max(float(audio.abs().max()),
                                                               float(oversampled.abs().max())), rel=1e-6)


def test_the_report_gives_the_mixs_own_loudness_and_true_peak():
    """Loudness and true peak of the result follow from the input's and the gain: measuring the result agrees to
    the float32 rounding of its samples."""
    rate = 16000
    rng = np.random.default_rng(8)
    layer = mixing.Layer(torch.from_numpy(rng.standard_normal((1, 3 * rate)).astype(np.float32) * 0.05), rate)
    stereo, _, _, report = mixing.mix_layers([layer], target_lufs=-18.0, true_peak_db=-1.0)
    assert report["loudness_lufs"] == pytest.approx(mixing.integrated_loudness(stereo, rate), abs=1e-4)
    assert report["true_peak_dbtp"] == pytest.approx(20 * math.log10(mixing.true_peak(stereo, rate)), abs=1e-4)


PEAK_MEMORY_SCRIPT = """
import resource, sys
import numpy as np, torch
from foley_models import mixing, spatial
rate, seconds = 48000, 60
stereo = torch.from_numpy(np.random.default_rng(0).standard_normal((2, seconds * rate)).astype(np.float32) * 0.1)
times = np.arange(seconds * 25) / 25
track = spatial.PositionTrack(times, np.sin(times), np.full(times.size, 0.1))
masks = torch.zeros(40, 720, 1280)
masks[:, 100:300, 200:500] = 1
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sys.argv[1] == "mix":
    mixing.mix_layers([mixing.Layer(stereo, rate)])
elif sys.argv[1] == "pan":
    spatial.pan(stereo[None], rate, track, 0.0, 1.0, 0.5, 6.0)
else:
    spatial.position_track(masks, np.arange(40) / 25)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)  # kB -> MB (Linux)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_getaffinity"), reason="ru_maxrss in kB: Linux")
@pytest.mark.parametrize("what, limit_mb", [("mix", 400), ("pan", 200), ("track", 300)])
def test_peak_memory_does_not_grow_with_copies_of_the_input(what, limit_mb):
    """60 s of stereo at 48 kHz (23 MB in float32) mixed or panned, and 40 masks of 720p (147 MB) tracked, in a
    fresh process: the peak resident memory grows by less than `limit_mb` (the whole-array versions grew by about
    1 GB, 320 MB and 700 MB; these grow by about 140, 65 and 57 MB, the limits leave room for other allocators).
    What stays is the output and the mix's own copies: the mix 3 x 23 MB, the pan 23 MB."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", PEAK_MEMORY_SCRIPT, what], cwd=root, capture_output=True,
                            text=True, timeout=300, check=True)
    assert int(result.stdout.split()[-1]) < limit_mb


def test_a_single_mask_is_resized_and_feathered_once_for_all_frames(monkeypatch):
    images = torch.rand(10, 36, 48, 3)
    mask = torch.zeros(1, 9, 12)
    mask[:, 2:6, 3:8] = 1
    expected = [frames.apply_mask(f, mask[0]) for f in (images * 255).round().to(torch.uint8).numpy()]
    calls = []
    original = frames.mask_weights
    monkeypatch.setattr(frames, "mask_weights", lambda *args: calls.append(args[1:]) or original(*args))
    (chunk,) = list(frames.image_batch_frames(images, 10.0, 10.0, masks=mask))
    assert calls == [(36, 48)]
    picked = media.image_sequence_indices(10, 10.0, 10.0, max_seconds=math.inf)  # the official rule's float ticks
    np.testing.assert_array_equal(chunk, np.stack([expected[i] for i in picked]))
