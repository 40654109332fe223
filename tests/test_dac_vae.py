import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from foley_models.dac_vae import DAC_CONFIG, DacVAE, dac_config_from_metadata, dac_config_from_state_dict

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "dac_vae_tiny"
TOL = json.loads((TINY / "fixture.json").read_text())["tolerances"]


def assert_close(name, actual, expected):
    tol = TOL[name]
    assert actual.shape == expected.shape, name
    assert torch.allclose(actual, expected, atol=tol["atol"], rtol=tol["rtol"]), \
        f"{name}: max abs diff {(actual - expected).abs().max().item():.3e} > atol {tol['atol']}"


@pytest.fixture(scope="module")
def tiny():
    path = TINY / "vae_128d_48k.safetensors"
    sd = load_file(path)
    with safe_open(path, "pt") as f:
        kwargs = json.loads(f.metadata()["dac_kwargs"])
    return sd, kwargs


@pytest.fixture(scope="module")
def model(tiny):
    sd, kwargs = tiny
    m = DacVAE(**dac_config_from_metadata(kwargs)).eval()
    m.load_state_dict(sd, strict=True)
    return m


@pytest.fixture(scope="module")
def io():
    return load_file(TINY / "io.safetensors")


def test_config_metadata_matches_shapes(tiny):
    sd, kwargs = tiny
    from_meta = dac_config_from_metadata(kwargs)
    from_shapes = dac_config_from_state_dict(sd)
    assert "n_codebooks" not in from_meta and "continuous" not in from_meta
    assert from_meta == {**from_shapes, "sample_rate": 48000}


@torch.no_grad()
def test_encode(model, io):
    mean, logvar = model.encode(io["waveform"])
    assert_close("posterior_mean", mean, io["posterior_mean"])
    assert_close("posterior_logvar", logvar, io["posterior_logvar"])
    assert_close("posterior_std", torch.exp(logvar / 2), io["posterior_std"])


@torch.no_grad()
def test_decode(model, io):
    assert_close("decoded_audio", model.decode(io["decode_input_latent"]), io["decoded_audio"])
    assert_close("roundtrip_decode_of_mean", model.decode(io["posterior_mean"]), io["roundtrip_decode_of_mean"])


@torch.no_grad()
def test_encode_pads_like_official_preprocess(model, io):
    short = io["preprocess_input_len_minus_123"]
    padded = io["preprocess_output"]
    assert short.shape[-1] == 23877 and padded.shape[-1] == 24000
    mean_s, logvar_s = model.encode(short)
    mean_p, logvar_p = model.encode(padded)
    assert mean_s.shape == (1, 128, 25)
    assert torch.equal(mean_s, mean_p) and torch.equal(logvar_s, logvar_p)


@torch.no_grad()
def test_decode_length_and_range(model):
    torch.manual_seed(0)
    for length in (1, 7):
        wav = model.decode(torch.randn(2, 128, length))
        assert wav.shape == (2, 1, 960 * length) and model.hop_length == 960
        assert wav.abs().max() < 1


def test_meta_build_matches_manifest():
    manifest = json.loads((FIXTURES / "manifests" / "dac_vae.json").read_text())
    m = DacVAE(**DAC_CONFIG, device="meta")
    built = sorted([k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in m.state_dict().items())
    assert built == sorted(manifest)
    assert m.hop_length == 960 and m.sample_rate == 48000 and m.latent_dim == 128


def test_config_roundtrip_other_size():
    torch.manual_seed(5)
    cfg = {"encoder_dim": 4, "encoder_rates": (2, 4), "latent_dim": 16, "decoder_dim": 32, "decoder_rates": (4, 2, 2)}
    m = DacVAE(**cfg)
    for p in m.parameters():
        p.data.normal_()
    sd = m.state_dict()
    assert dac_config_from_state_dict(sd) == cfg
    m2 = DacVAE(**dac_config_from_state_dict(sd))
    m2.load_state_dict(sd, strict=True)
    with torch.no_grad():
        assert m2.encode(torch.randn(1, 1, 50))[0].shape == (1, 16, 7)
        assert m2.decode(torch.randn(1, 16, 3)).shape == (1, 1, 48)


def test_receptive_fields_fit_in_the_chunk_context(model):
    """A change of one latent frame (one hop of audio) reaches fewer than CHUNK_CONTEXT frames either side."""
    from foley_models.dac_vae import CHUNK_CONTEXT

    torch.manual_seed(0)
    z = torch.randn(1, 128, 200)
    bumped = z.clone()
    bumped[..., 100] += 1
    with torch.no_grad():
        changed = torch.nonzero((model.decode(bumped) - model.decode(z)).abs()[0, 0] > 0).flatten() / model.hop_length
        wav = torch.randn(1, 1, 200 * model.hop_length) * 0.1
        kicked = wav.clone()
        kicked[..., 100 * model.hop_length] += 1
        moved = torch.nonzero((model.encode(kicked)[0] - model.encode(wav)[0]).abs()[0].amax(0) > 0).flatten()
    assert 100 - CHUNK_CONTEXT < changed.min() and changed.max() < 101 + CHUNK_CONTEXT
    assert 100 - CHUNK_CONTEXT < moved.min() and moved.max() < 100 + CHUNK_CONTEXT


def test_chunked_decode_and_encode_equal_whole_ones(model):
    torch.manual_seed(1)
    with torch.no_grad():
        z = torch.randn(1, 128, 1234)
        whole, chunked = model.decode(z), model.decode_chunked(z, chunk=300)
        wav = torch.randn(1, 1, 960 * 1234 + 17) * 0.1
        (mean, logvar), (mean_c, logvar_c) = model.encode(wav), model.encode_chunked(wav, chunk=300)
    assert chunked.shape == whole.shape and mean_c.shape == mean.shape == (1, 128, 1235)
    # float rounding only (convolutions of different lengths sum in another order); the note states the figure
    assert (chunked - whole).abs().max() < 1e-5
    assert (mean_c - mean).abs().max() < 1e-5 and (logvar_c - logvar).abs().max() < 1e-5


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_audio_is_refused_with_a_count(model, bad):
    wav = torch.zeros(1, 1, 96000)
    wav[0, 0, 1000:1010] = bad  # ten bad samples: without the check one NaN spreads through every convolution
    with pytest.raises(ValueError, match=r"10 non-finite samples \(NaN or infinity\) of 96000, the first at sample 1000"):
        model.encode(wav)


def test_encode_audio_takes_the_channel_mean_at_any_rate(model, io):
    mono = io["waveform"]  # [B, 1, N] at 48 kHz, with the official posterior mean in the fixture
    side = torch.linspace(-0.25, 0.25, mono.shape[-1])
    stereo = torch.cat([mono + side, mono - side], dim=1)  # the channel mean is the fixture's waveform
    assert_close("posterior_mean", model.encode_audio(stereo, 48000), io["posterior_mean"])
    half_rate = stereo[..., ::2]  # 24 kHz: resampled to 48 kHz first, so twice the samples, twice the frames
    assert model.encode_audio(half_rate, 24000).shape[-1] == -(-2 * half_rate.shape[-1] // 960)
    with pytest.raises(ValueError, match=r"expected audio \[batch, channels, samples\]"):
        model.encode_audio(mono[0], 48000)
