"""Print how far the engine is from every official golden fixture (max abs error against the tolerance,
rel-L2 / cosine for bf16). Run from the repo root: .venv/bin/python tests/parity_report.py"""
import sys
from pathlib import Path

import torch

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]

from fixture_utils import FIXTURES, fixture_json, rel_l2_cosine, tensors  # noqa: E402
from foley_models import (load_dac_vae, load_mmdit, load_sync_scorer, load_synchformer, sample_euler_cfg,  # noqa: E402
                          sync_audio_input)
from foley_models.dsp import mel_power_spectrogram, resample_sinc  # noqa: E402
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

    qtol, qspec = fixture_json("syncscore_tiny")["tolerances"], fixture_json("syncscore_tiny")["tiny_spec"]
    qin, qpre = tensors("syncscore_tiny", "input.safetensors"), tensors("syncscore_tiny", "preprocess.safetensors")
    qout = tensors("syncscore_tiny", "output.safetensors")
    wave = qin["waveform_i16"].float() / 32768
    frames = qin["frames_lowres_u8"].repeat_interleave(8, 1).repeat_interleave(8, 2)  # stored as 8x8 blocks
    row("sync score waveform_16k", resample_sinc(wave, 48000, 16000)[:128000], qpre["waveform_16k"],
        qtol["waveform_16k"])
    row("sync score resample_case 44.1 kHz", resample_sinc(qin["resample_case.waveform_i16"].float() / 32768,
                                                           44100, 16000),
        qpre["resample_case.waveform_16k"], qtol["resample_case.waveform_16k"])
    mel = mel_power_spectrogram(qpre["waveform_16k"].unfold(0, 10240, 5120))
    row("sync score ln(mel_power + 1e-6)", torch.log(mel + 1e-6), torch.log(qpre["mel_power"] + 1e-6),
        qtol["mel_power"])
    spec = sync_audio_input(wave, 48000, 8.0)
    row("sync score spec_input", spec, qpre["spec_input"], qtol["spec_input"])
    heads = dict(visual_heads=qspec["vit"]["NUM_HEADS"], audio_heads=qspec["ast"]["num_attention_heads"],
                 sync_heads=qspec["global_transformer"]["n_head"])
    for ext in ("pth", "safetensors"):
        scorer = load_sync_scorer(FIXTURES / "syncscore_tiny" / f"synchformer_state_dict.{ext}", **heads)
        aud, vis = scorer.audio_features(spec), scorer.visual_features(frames)
        row(f"sync score {ext} ast_last_hidden_state", scorer.afeat_extractor.ast(spec), qout["ast_last_hidden_state"],
            qtol["ast_last_hidden_state"])
        row(f"sync score {ext} audio_feat", aud[None], qout["audio_feat"], qtol["audio_feat"])
        row(f"sync score {ext} video_feat", vis[None], qout["video_feat"], qtol["video_feat"])
        v, a = torch.stack([vis[:14], vis[-14:]]), torch.stack([aud[:14], aud[-14:]])
        row(f"sync score {ext} transformer_input", scorer.transformer_input(v, a), qout["transformer_input"],
            qtol["transformer_input"])
        v, a = vis.unfold(0, 14, 1).permute(0, 3, 1, 2), aud.unfold(0, 14, 1).permute(0, 3, 1, 2)
        row(f"sync score {ext} logits_every_window", scorer.window_logits(v, a), qout["logits_every_window"],
            qtol["logits_every_window"])
        result = scorer.desync(frames, wave, 48000)
        row(f"sync score {ext} desync() logits", result["logits"], qout["logits"], qtol["logits"])
        print(f"{'sync score ' + ext + ' classes / DeSync':<44} {result['classes'].tolist()} / {result['desync']!r}  "
              f"(official {qout['pred_class'].tolist()} / {qout['desync'].item()!r}, exact)")

    from transformers import ClapTextModelWithProjection

    ctol, cio = fixture_json("text_clap_tiny")["tolerances"], tensors("text_clap_tiny", "io.safetensors")
    clap = ClapTextEncoder(ClapTextModelWithProjection.from_pretrained(
        str(FIXTURES / "text_clap_tiny" / "clap_text_tiny"), local_files_only=True).eval())
    for case in ("short", "long"):
        cond, uncond = clap.encode_ids(cio[f"{case}.input_ids"], cio[f"{case}.attention_mask"])
        row(f"clap {case} text features", cond, cio[f"{case}.text_feat"], ctol[f"{case}.text_feat"])


if __name__ == "__main__":
    main()
