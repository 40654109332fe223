"""The official schedule and the 8-step CFG run of the mmdit_tiny fixture, decoded by the tiny DAC."""
import pytest
import torch

from fixture_utils import FIXTURES, assert_bf16_criteria, assert_close, fixture_json, tensors
from foley_models import flow_sigmas, load_dac_vae, load_mmdit, sample_euler_cfg

SCHED = tensors("scheduler", "scheduler.safetensors")
RUN = tensors("mmdit_tiny", "sampling.safetensors")
TOL = fixture_json("mmdit_tiny")["tolerances"]


@pytest.mark.parametrize("steps", [10, 25, 50])
def test_sigmas_and_timesteps_are_bit_exact(steps):
    sigmas = flow_sigmas(steps)
    assert torch.equal(sigmas, SCHED[f"steps{steps}.sigmas"])
    assert torch.equal(sigmas[:-1] * 1000, SCHED[f"steps{steps}.timesteps"])


def test_shifted_sigmas():
    sigmas = flow_sigmas(10, shift=3.0)
    torch.testing.assert_close(sigmas, SCHED["extra_shift3_steps10.sigmas"], atol=1e-7, rtol=0)
    torch.testing.assert_close(sigmas[:-1] * 1000, SCHED["extra_shift3_steps10.timesteps"], atol=1e-4, rtol=0)


class _ConstantVelocity(torch.nn.Module):
    """Stands in for the DiT to check one scheduler step in isolation."""

    def __init__(self, velocity):
        super().__init__()
        self.velocity = velocity

    def forward(self, x, t, text, clip, sync):
        return self.velocity


def test_first_euler_step_matches_official_scheduler():
    model = _ConstantVelocity(SCHED["step.model_output"])
    feats = torch.zeros(1, 8, 768)
    out = sample_euler_cfg(model, SCHED["step.sample"], feats, feats, feats, feats, steps=10, cfg=1.0,
                           callback=lambda i, n, x: None)
    first = SCHED["step.sample"] + SCHED["step.model_output"] * (flow_sigmas(10)[1] - 1.0)
    torch.testing.assert_close(first, SCHED["step_first.prev_sample"], atol=1e-6, rtol=1e-6)
    assert out.dtype == torch.float32


@pytest.fixture(scope="module", params=["pth", "safetensors"])
def tiny_models(request):
    ext = request.param
    vae_ext = "pth" if ext == "pth" else "safetensors"
    return (load_mmdit(FIXTURES / "mmdit_tiny" / f"hunyuanvideo_foley.{ext}"),
            load_dac_vae(FIXTURES / "dac_vae_tiny" / f"vae_128d_48k.{vae_ext}"))


def test_cfg_sampling_run_matches_official(tiny_models):
    model, vae = tiny_models
    seen = []
    final = sample_euler_cfg(model, RUN["initial_noise"], RUN["text_feat"], RUN["uncond_text_feat"],
                             RUN["siglip2_feat"], RUN["syncformer_feat"], steps=8, cfg=4.5,
                             callback=lambda i, n, x: seen.append(x.clone()))
    assert len(seen) == 8
    # latents_before_each_step[k] is the input of step k: our callback's x after step k-1
    for k in range(1, 8):
        assert_close(seen[k - 1], RUN["latents_before_each_step"][k], TOL["sampling.final_latent"])
    assert_close(final, RUN["final_latent"], TOL["sampling.final_latent"])
    audio = vae.decode(final)
    assert audio.shape == (2, 1, 96000)
    assert_close(audio, RUN["decoded_audio"], TOL["sampling.decoded_audio"])


def test_bf16_sampling_run_meets_fixture_criteria():
    model = load_mmdit(FIXTURES / "mmdit_tiny" / "hunyuanvideo_foley.safetensors", dtype=torch.bfloat16)
    noise = RUN["bf16.initial_noise"].to(torch.bfloat16)  # the official bf16 run draws its noise in bf16
    final = sample_euler_cfg(model, noise, RUN["text_feat"], RUN["uncond_text_feat"], RUN["siglip2_feat"],
                             RUN["syncformer_feat"], steps=8, cfg=4.5)
    assert final.dtype == torch.float32
    assert_bf16_criteria(final, RUN["bf16.final_latent"], TOL["sampling.bf16.final_latent"])
