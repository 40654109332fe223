"""Print how far the engine is from every official golden fixture (max abs error against the tolerance,
rel-L2 / cosine for bf16). Run from the repo root: .venv/bin/python tests/parity_report.py"""
import sys
from pathlib import Path

import torch

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]

from fixture_utils import FIXTURES, fixture_json, rel_l2_cosine, tensors  # noqa: E402
from foley_models import load_dac_vae, load_mmdit, load_synchformer, sample_euler_cfg  # noqa: E402
from foley_models.clap import ClapTextEncoder  # noqa: E402


def row(name, actual, expected, tol=None):
    err = (actual.float() - expected.float()).abs().max().item()
    rel, cos = rel_l2_cosine(actual, expected)
    limit = f"atol {tol['atol']:g}" if tol and "atol" in tol else (
        f"rel-L2 <= {tol['max_rel_l2']}, cos >= {tol['min_cosine']}" if tol else "")
    print(f"{name:<44} max|err| {err:.2e}  rel-L2 {rel:.2e}  cos {cos:.7f}  ({limit})")


@torch.no_grad()
def main():
    torch.set_num_threads(2)
    tol = fixture_json("mmdit_tiny")["tolerances"]
    fin, fout = tensors("mmdit_tiny", "forward_inputs.safetensors"), tensors("mmdit_tiny", "forward_outputs.safetensors")
    for ext in ("pth", "safetensors"):
        model = load_mmdit(FIXTURES / "mmdit_tiny" / f"hunyuanvideo_foley.{ext}")
        for case in ("b2_2s", "b1_odd"):
            i = {k.split(".", 1)[1]: v for k, v in fin.items() if k.startswith(case)}
            row(f"mmdit {ext} {case} cond", model(i["x"], i["t"], i["cond"], i["clip_feat"], i["sync_feat"]),
                fout[f"{case}.velocity_cond"], tol[f"{case}.velocity_cond"])
            b, lv, ls = i["x"].shape[0], i["clip_feat"].shape[1], i["sync_feat"].shape[1]
            row(f"mmdit {ext} {case} uncond", model(i["x"], i["t"], i["uncond_cond"], model.empty_clip(b, lv),
                                                  model.empty_sync(b, ls)),
                fout[f"{case}.velocity_uncond"], tol[f"{case}.velocity_uncond"])
    bf16 = load_mmdit(FIXTURES / "mmdit_tiny" / "hunyuanvideo_foley.safetensors", dtype=torch.bfloat16)
    for case in ("b2_2s", "b1_odd"):
        i = {k.split(".", 1)[1]: v for k, v in fin.items() if k.startswith(case)}
        row(f"mmdit bf16 {case} cond (vs official bf16)", bf16(i["x"], i["t"], i["cond"], i["clip_feat"], i["sync_feat"]),
            fout[f"{case}.velocity_cond_bf16"], tol[f"{case}.velocity_cond_bf16"])

    run = tensors("mmdit_tiny", "sampling.safetensors")
    feats = (run["text_feat"], run["uncond_text_feat"], run["siglip2_feat"], run["syncformer_feat"])
    vae = load_dac_vae(FIXTURES / "dac_vae_tiny" / "vae_128d_48k.pth")
    final = sample_euler_cfg(load_mmdit(FIXTURES / "mmdit_tiny" / "hunyuanvideo_foley.pth"), run["initial_noise"],
                             *feats, steps=8, cfg=4.5)
    row("sampling 8 steps cfg 4.5 final latent", final, run["final_latent"], tol["sampling.final_latent"])
    row("sampling decoded audio", vae.decode(final), run["decoded_audio"], tol["sampling.decoded_audio"])
    final = sample_euler_cfg(bf16, run["bf16.initial_noise"].to(torch.bfloat16), *feats, steps=8, cfg=4.5)
    row("sampling bf16 final latent (vs official bf16)", final, run["bf16.final_latent"],
        tol["sampling.bf16.final_latent"])

    dtol, io = fixture_json("dac_vae_tiny")["tolerances"], tensors("dac_vae_tiny", "io.safetensors")
    for ext in ("pth", "safetensors"):
        vae = load_dac_vae(FIXTURES / "dac_vae_tiny" / f"vae_128d_48k.{ext}")
        mean, logvar = vae.encode(io["waveform"])
        row(f"dac {ext} posterior mean", mean, io["posterior_mean"], dtol["posterior_mean"])
        row(f"dac {ext} posterior logvar", logvar, io["posterior_logvar"], dtol["posterior_logvar"])
        row(f"dac {ext} decode", vae.decode(io["decode_input_latent"]), io["decoded_audio"], dtol["decoded_audio"])
        row(f"dac {ext} round trip", vae.decode(mean), io["roundtrip_decode_of_mean"], dtol["roundtrip_decode_of_mean"])

    stol = fixture_json("synchformer_tiny")["tolerances"]
    frames = tensors("synchformer_tiny", "input_frames_u8.safetensors")["frames_u8"]
    for ext in ("pth", "safetensors"):
        sync = load_synchformer(FIXTURES / "synchformer_tiny" / f"synchformer_state_dict.{ext}", num_heads=2)
        row(f"synchformer {ext} features", sync.encode_frames(frames),
            tensors("synchformer_tiny", "output.safetensors")["sync_feat"], stol["sync_feat"])

    from transformers import ClapTextModelWithProjection

    ctol, cio = fixture_json("text_clap_tiny")["tolerances"], tensors("text_clap_tiny", "io.safetensors")
    clap = ClapTextEncoder(ClapTextModelWithProjection.from_pretrained(
        str(FIXTURES / "text_clap_tiny" / "clap_text_tiny"), local_files_only=True).eval())
    for case in ("short", "long"):
        cond, uncond = clap.encode_ids(cio[f"{case}.input_ids"], cio[f"{case}.attention_mask"])
        row(f"clap {case} text features", cond, cio[f"{case}.text_feat"], ctol[f"{case}.text_feat"])


if __name__ == "__main__":
    main()
