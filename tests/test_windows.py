"""Windows over a long latent: coverage, blend weights, feature slices on their grids, single-window equality."""
import pytest
import torch
from safetensors.torch import load_file

from fixture_utils import FIXTURES, tensors
from foley_models import editing
from foley_models.loading import load_mmdit
from foley_models.synchformer import Synchformer, synchformer_config_from_state_dict
from foley_models.windows import SEGMENT_STEP_LATENT, blend_weights, clip_slice, sync_slice, window_spans, windowed

LENGTHS = [32, 499, 500, 501, 777, 1001, 3000, 3017, 15001]


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("window, overlap", [(500, 100), (500, 0), (752, 300), (64, 32)])
def test_windows_cover_the_latent_on_the_segment_grid(length, window, overlap):
    spans = window_spans(length, window, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(s % SEGMENT_STEP_LATENT == 0 for s, _ in spans)
    assert all(b[0] <= a[1] for a, b in zip(spans, spans[1:]))  # no gap
    assert all(window <= e - s < window + SEGMENT_STEP_LATENT for s, e in spans) or len(spans) == 1
    covered = torch.zeros(length, dtype=torch.int64)
    for s, e in spans:
        covered[s:e] += 1
    assert covered.min() >= 1  # every frame
    assert all(a[1] - b[0] >= overlap for a, b in zip(spans, spans[1:]))
    if length < window + SEGMENT_STEP_LATENT:
        assert spans == [(0, length)]
    else:  # not more windows than the stride needs
        stride = (window - overlap) // SEGMENT_STEP_LATENT * SEGMENT_STEP_LATENT
        assert len(spans) <= -(-(length - window) // stride) + 1
        assert len(spans) == 1 + -(-((length - window) // SEGMENT_STEP_LATENT) // (stride // SEGMENT_STEP_LATENT))


@pytest.mark.parametrize("length", LENGTHS)
def test_blend_weights_sum_to_one_and_change_smoothly(length):
    spans = window_spans(length, 500, 100)
    weights = blend_weights(spans, length, dtype=torch.float64)
    torch.testing.assert_close(weights.sum(0), torch.ones(length, dtype=torch.float64))
    assert weights.min() >= 0
    for w, (s, e) in zip(weights, spans):
        assert not w[:s].any() and not w[e:].any()
    # raised-cosine ramps over >= 84 frames: no step between neighbouring frames is larger than pi / (2 * 84)
    assert (weights[:, 1:] - weights[:, :-1]).abs().max() < 0.02 if len(spans) > 1 else True


def test_a_short_latent_takes_the_single_window_path_unchanged():
    calls = []

    def forward(x, t, text, clip, sync):
        calls.append(x.shape[-1])
        return x * 2

    x = torch.randn(2, 4, 431)
    out = windowed(forward, x, None, None, torch.zeros(1, 70, 3), torch.zeros(1, 200, 3), 500, 100)
    assert calls == [431] and torch.equal(out, x * 2)


def _rise(first, last):
    """The closed-form raised cosine over frames first..last - 1 (a window coming in): 0.5 - 0.5 cos(pi u) at
    frame centres u = (p - first + 0.5) / (last - first)."""
    u = (torch.arange(first, last, dtype=torch.float64) - first + 0.5) / (last - first)
    return 0.5 - 0.5 * torch.cos(torch.pi * u)


def test_two_windows_cross_fade_over_their_overlap_as_a_raised_cosine():
    weights = blend_weights([(0, 500), (400, 900)], 900, dtype=torch.float64)
    rise = _rise(400, 500)
    torch.testing.assert_close(weights[1, 400:500], rise)
    torch.testing.assert_close(weights[0, 400:500], 1 - rise)
    assert weights[0, :400].eq(1).all() and weights[1, 500:].eq(1).all()
    assert not weights[0, 500:].any() and not weights[1, :400].any()


def test_windowed_velocity_is_the_blend_of_each_windows_own_run():
    """220 latent frames, windows of 100 overlapping by >= 36: the spans, feature slices and weights written out
    by hand from the rules (starts on the 16-frame segment grid, spread evenly; SigLIP2 at 8 of 50 frames per
    second; Synchformer by whole segments of 8 tokens per 16 frames), not read from the code under test."""
    model = load_mmdit(FIXTURES / "mmdit_tiny" / "hunyuanvideo_foley.pth")
    run = tensors("mmdit_tiny", "sampling.safetensors")
    torch.manual_seed(0)
    length = 220  # 4.4 s with 2 s windows
    x = torch.randn(1, 128, length)
    t = torch.full((1,), 700.0)
    text = run["text_feat"][:1]
    clip = torch.randn(1, 36, 768)  # 4.5 s at 8 fps
    sync = torch.randn(1, 96, 768)  # 12 segments: 110 frames at 25 fps
    # (latent span, SigLIP2 frames, Synchformer tokens) of each window
    windows = [((0, 100), (0, 16), (0, 40)),      # 2 s: 16 frames at 8 fps; 50 frames at 25 fps = 5 segments
               ((48, 148), (8, 24), (24, 64)),    # starts 3 segment steps in: token 24; frame round(7.68) = 8
               ((112, 220), (18, 36), (56, 96))]  # the last one runs to the end (108 frames, still 5 segments)
    weight = torch.zeros(3, length, dtype=torch.float64)
    weight[0, :48], weight[1, 100:112], weight[2, 148:] = 1, 1, 1
    weight[1, 48:100] = _rise(48, 100)
    weight[0, 48:100] = 1 - weight[1, 48:100]
    weight[2, 112:148] = _rise(112, 148)
    weight[1, 112:148] = 1 - weight[2, 112:148]
    with torch.no_grad():
        out = windowed(model, x, t, text, clip, sync, 100, 36)
        expected = torch.zeros_like(out)
        for i, ((s, e), (c0, c1), (s0, s1)) in enumerate(windows):
            v = model(x[..., s:e], t, text, clip[:, c0:c1], sync[:, s0:s1])
            expected[..., s:e] += v * weight[i, s:e].float()
    assert window_spans(length, 100, 36) == [span for span, _, _ in windows]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_sync_slice_of_a_window_equals_the_features_of_its_own_frames():
    """A window's Synchformer tokens are the segments an official run on that stretch of video would make."""
    sd = {k: v for k, v in load_file(FIXTURES / "synchformer_tiny" / "synchformer_state_dict.safetensors").items()
          if k.startswith("vfeat_extractor.")}
    model = Synchformer(**synchformer_config_from_state_dict(sd), num_heads=2).eval()
    model.load_state_dict(sd)
    frames = torch.randint(0, 256, (120, 224, 224, 3), dtype=torch.uint8)  # 4.8 s at 25 fps
    whole = model.encode_frames(frames)
    span = (64, 64 + 112)  # latent frames 64..175 = video frames 32..87 at 25 fps
    own = model.encode_frames(frames[32:88])
    torch.testing.assert_close(whole[:, sync_slice(span, whole.shape[1])], own, rtol=0, atol=1e-6)


def test_clip_slice_takes_the_8_fps_frames_of_the_window():
    assert clip_slice((0, 500), 120) == slice(0, 80)
    assert clip_slice((400, 900), 120) == slice(64, 120)  # 8 s .. 15 s, cut at the end of the features


def test_inpaint_mask_is_zero_outside_the_range_and_fades_inside():
    mask = editing.inpaint_mask(500, 2.0, 4.0, 0.2)
    assert not mask[:100].any() and not mask[200:].any()
    assert mask[110:190].eq(1).all() and 0 < mask[100] < 0.1 and 0 < mask[199] < 0.1


def test_time_range_area_starts_on_the_segment_grid_and_covers_the_soft_edges():
    (frames, offset), mask = editing.time_range(1000, 3.0, 8.0, 0.5)
    assert offset % SEGMENT_STEP_LATENT == 0 and offset <= 125 and offset + frames >= 425
    assert mask[150:400].eq(1).all() and not mask[:offset].any() and not mask[offset + frames:].any()
    assert 0 < mask[140] < 1 and mask[124] == 0
