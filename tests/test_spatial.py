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
