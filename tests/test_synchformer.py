import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from foley_models.synchformer import (SYNCHFORMER_CONFIG, Synchformer, preprocess_frames, resize_crop_frame,
                                      synchformer_config_from_state_dict)

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "synchformer_tiny"
TOL = json.loads((TINY / "fixture.json").read_text())["tolerances"]
PREFIX = "vfeat_extractor."


def assert_close(name, actual, expected):
    tol = TOL[name]
    assert actual.shape == expected.shape, name
    assert torch.allclose(actual, expected, atol=tol["atol"], rtol=tol["rtol"]), \
        f"{name}: max abs diff {(actual - expected).abs().max().item():.3e} > atol {tol['atol']}"


def official_normalize(x):
    # torchvision ToDtype(float32, scale=True) then Normalize(0.5, 0.5), as recorded in fixture.json.
    return (x.to(torch.float32).mul_(1 / 255) - 0.5) / 0.5


@pytest.fixture(scope="module")
def model():
    sd = {k: v for k, v in load_file(TINY / "synchformer_state_dict.safetensors").items() if k.startswith(PREFIX)}
    m = Synchformer(**synchformer_config_from_state_dict(sd), num_heads=2).eval()  # tiny fixture: 2 heads
    m.load_state_dict(sd, strict=True)
    return m


@pytest.fixture(scope="module")
def frames():
    return load_file(TINY / "input_frames_u8.safetensors")["frames_u8"]


@pytest.fixture(scope="module")
def expected():
    return load_file(TINY / "output.safetensors")


@torch.no_grad()
def test_encode_frames_matches_official(model, frames, expected):
    feats = model.encode_frames(frames)
    assert feats.dtype == torch.float32
    assert_close("sync_feat", feats, expected["sync_feat"])
    assert_close("model_batched_segments", feats, expected["model_batched_segments"])


@torch.no_grad()
def test_segment_batches_give_same_result(model, frames, expected):
    assert_close("sync_feat", model.encode_frames(frames, segment_batch=1), expected["sync_feat"])
    assert_close("sync_feat", model.encode_frames(frames, segment_batch=2), expected["sync_feat"])


def test_too_few_frames_raises(model, frames):
    with pytest.raises(ValueError, match=r"at least 16 frames at 25 fps \(0.64 s of video\), but the clip gives 15 "
                                         r"frames \(0.60 s\)\. Use a longer clip or a smaller start_time.*text-only"):
        model.encode_frames(frames[:15])


@torch.no_grad()
def test_frames_reach_the_model_in_bounded_batches(model, monkeypatch):
    frames = torch.randint(0, 256, (96, 224, 224, 3), dtype=torch.uint8)  # 11 windows
    expected = model.encode_frames(frames, segment_batch=None)  # all windows at once
    batches = []
    forward = model.forward_segments
    monkeypatch.setattr(model, "forward_segments", lambda segments: batches.append(len(segments)) or forward(segments))
    # batch sizes pick different CPU kernels: equal within the fixture's tolerance, not bit for bit
    tol = TOL["model_batched_segments"]
    torch.testing.assert_close(model.encode_frames(frames), expected, atol=tol["atol"], rtol=tol["rtol"])
    assert batches == [8, 3]


# odd sizes, landscape, portrait, already 224 on one side, smaller than 224 (upscaled)
FRAME_SIZES = [(225, 301), (301, 225), (97, 131), (224, 300), (360, 224), (480, 270), (100, 150)]


@pytest.mark.parametrize("height, width", FRAME_SIZES)
def test_resize_crop_frame_then_preprocess_is_bit_identical(height, width):
    torch.manual_seed(height * width)
    full = torch.randint(0, 256, (5, height, width, 3), dtype=torch.uint8)
    small = np.stack([resize_crop_frame(f) for f in full.numpy()])
    assert small.dtype == np.uint8 and small.shape == (5, 224, 224, 3)
    assert torch.equal(preprocess_frames(small), preprocess_frames(full))


@torch.no_grad()
@pytest.mark.parametrize("height, width", [(225, 301), (301, 225)])
def test_features_from_frames_resized_while_decoding_are_bit_identical(model, height, width):
    torch.manual_seed(height)
    full = torch.randint(0, 256, (24, height, width, 3), dtype=torch.uint8)
    small = np.stack([resize_crop_frame(f) for f in full.numpy()])
    assert torch.equal(model.encode_frames(small), model.encode_frames(full))


def test_preprocess_identity_size_is_exact(frames):
    out = Synchformer.preprocess(frames[:3])
    assert torch.equal(out, official_normalize(frames[:3].permute(0, 3, 1, 2)))


def _resize_crop_reference(frames_u8, size, top, left):
    x = F.interpolate(frames_u8.permute(0, 3, 1, 2), size=size, mode="bicubic", antialias=True)
    return official_normalize(x[:, :, top:top + 224, left:left + 224])


@pytest.mark.parametrize("height, width", [(360, 640), (480, 270), (64, 96), (224, 300)])
def test_preprocess_equals_the_official_torchvision_transform(height, width):
    # the official syncformer transform, built from torchvision as the official code builds it
    from torchvision.transforms import v2

    official = v2.Compose([v2.Resize(224, interpolation=v2.InterpolationMode.BICUBIC), v2.CenterCrop(224),
                           v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
                           v2.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])])
    torch.manual_seed(height)
    frames = torch.randint(0, 256, (3, height, width, 3), dtype=torch.uint8)  # noise: the hardest case
    assert torch.equal(Synchformer.preprocess(frames), official(frames.permute(0, 3, 1, 2)))


@pytest.mark.parametrize("wide", [True, False])
def test_preprocess_resize_and_centre_crop(wide):
    # 448x320 frame: red borders (56 columns each side) that the centre crop must remove, and ramps in
    # green/blue so that a crop offset off by one pixel is detected.
    height, width = 320, 448
    cols = torch.arange(width, dtype=torch.float32)
    rows = torch.arange(height, dtype=torch.float32)
    img = torch.zeros(height, width, 3)
    img[:, :, 1] = (cols * 255 / (width - 1)).round()[None, :]
    img[:, :, 2] = (rows * 255 / (height - 1)).round()[:, None]
    img[:, :56, 0] = 255
    img[:, -56:, 0] = 255
    img = img.to(torch.uint8)[None].repeat(2, 1, 1, 1)
    if not wide:
        img = img.transpose(1, 2).contiguous()  # 320 wide, 448 high: the crop is vertical
    out = Synchformer.preprocess(img)
    assert out.shape == (2, 3, 224, 224) and out.dtype == torch.float32
    assert torch.all(out[:, 0] == -1), "border colour survived the centre crop"
    # short side 320 -> 224, long side int(224 * 448 / 320) = 313, offset round(44.5) = 44
    size, top, left = ((224, 313), 0, 44) if wide else ((313, 224), 44, 0)
    assert torch.equal(out, _resize_crop_reference(img, size, top, left))
    shifted = (top, left + 1) if wide else (top + 1, left)
    assert not torch.equal(out, _resize_crop_reference(img, size, *shifted))


def test_meta_build_matches_manifest():
    manifest = json.loads((FIXTURES / "manifests" / "synchformer.json").read_text())
    expected = sorted(entry for entry in manifest if entry[0].startswith(PREFIX))
    assert len(expected) == 238
    m = Synchformer(**SYNCHFORMER_CONFIG, device="meta")
    built = sorted([k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in m.state_dict().items())
    assert built == expected


def test_config_roundtrip_other_size():
    torch.manual_seed(7)
    m = Synchformer(embed_dim=48, depth=1, num_heads=3)
    for p in m.parameters():
        p.data.normal_(std=0.02)
    sd = m.state_dict()
    cfg = synchformer_config_from_state_dict(sd)
    assert cfg == {"embed_dim": 48, "depth": 1, "mlp_ratio": 4.0}
    m2 = Synchformer(**cfg, num_heads=3).eval()
    m2.load_state_dict(sd, strict=True)
    frames = torch.randint(0, 256, (24, 224, 224, 3), dtype=torch.uint8)
    with torch.no_grad():
        feats = m2.encode_frames(frames)
    assert feats.shape == (1, 16, 48) and torch.isfinite(feats).all()
    with pytest.raises(ValueError, match="vfeat_extractor.cls_token"):
        synchformer_config_from_state_dict({k.removeprefix(PREFIX): v for k, v in sd.items()})
