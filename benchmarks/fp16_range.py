"""Is fp16 compute safe for the MMDiT? The largest activation magnitudes against fp16's limit (65504), and the
fp16 result against fp32, on (a) the tiny fixture (its forward cases and its 8-step CFG run), (b) one triple and one
single block at full XXL width with random weights on 10 s shapes and (c) the whole XXL depth with random
weights (independent per block, drawn again before each block so that one block's memory is enough; 2 s
clip). CPU is enough.

    .venv/bin/python benchmarks/fp16_range.py [--out benchmarks/results]

Random and tiny weights say little about the released checkpoint, whose activations were never measured here:
a margin found here is not a proof for the real model, an overflow here would be a disproof.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from foley_models.mmdit import MMDIT_CONFIGS, HunyuanVideoFoley, SingleStreamBlock, TripleStreamBlock  # noqa: E402
from foley_models.mmdit import _rope_tables  # noqa: E402
from foley_models.sampling import sample_euler_cfg  # noqa: E402

FP16_MAX = torch.finfo(torch.float16).max


class MaxAbs:
    """Largest |value| of every floating tensor a module takes or returns, per module, over the `with` block."""

    def __init__(self, model):
        self.model, self.peaks, self.handles = model, {}, []

    def __enter__(self):
        for name, module in self.model.named_modules():
            self.handles.append(module.register_forward_hook(self._hook(name or "<model>")))
        return self

    def _hook(self, name):
        def hook(module, args, output):
            # inputs too: e.g. the gated product silu(w1 x) * w3 x only exists as the input of w2
            # (not the timestep t = sigma * 1000, an fp32 input of the model and of time_in by design)
            inputs = () if name in ("<model>", "time_in") else args
            outs = (*inputs, *(output if isinstance(output, (tuple, list)) else (output,)))
            for t in outs:
                if isinstance(t, torch.Tensor) and t.is_floating_point():
                    value = t.detach().float().abs().max().item()
                    self.peaks[name] = max(self.peaks.get(name, 0.0), value)
        return hook

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()

    def top(self, n=5):
        return sorted(self.peaks.items(), key=lambda kv: -kv[1])[:n]


def rel_l2(a, b):
    a, b = a.double().flatten(), b.double().flatten()
    return ((a - b).norm() / b.norm()).item()


def tiny_fixture():
    from safetensors.torch import load_file

    from foley_models.mmdit import mmdit_config_from_state_dict

    tiny = ROOT / "tests" / "fixtures" / "mmdit_tiny"
    sd = load_file(tiny / "hunyuanvideo_foley.safetensors")
    inputs = load_file(tiny / "forward_inputs.safetensors")
    run = load_file(tiny / "sampling.safetensors")
    out = {}
    models = {}
    for dtype in (torch.float32, torch.float16):
        model = HunyuanVideoFoley(**mmdit_config_from_state_dict(sd), dtype=dtype).eval()
        model.load_state_dict(sd)
        models[dtype] = model
    for case in ("b2_2s", "b1_odd"):
        get = lambda n: inputs[f"{case}.{n}"]  # noqa: E731
        args = (get("x"), get("t"), get("cond"), get("clip_feat"), get("sync_feat"))
        with torch.no_grad(), MaxAbs(models[torch.float32]) as peaks:
            ref = models[torch.float32](*args)
        with torch.no_grad():
            half = models[torch.float16](*args).float()
        out[f"forward {case}"] = dict(max_abs=max(peaks.peaks.values()), top=peaks.top(3),
                                      fp16_finite=bool(half.isfinite().all()), fp16_rel_l2=rel_l2(half, ref))
    sampling = {}
    for dtype, model in models.items():
        with MaxAbs(model) as peaks:
            final = sample_euler_cfg(model, run["initial_noise"], run["text_feat"], run["uncond_text_feat"],
                                     run["siglip2_feat"], run["syncformer_feat"], steps=8, cfg=4.5)
        sampling[dtype] = (final, peaks)
    ref, peaks = sampling[torch.float32]
    half = sampling[torch.float16][0]
    out["8-step CFG run"] = dict(max_abs=max(peaks.peaks.values()), top=peaks.top(3),
                                 fp16_finite=bool(half.isfinite().all()), fp16_rel_l2=rel_l2(half, ref),
                                 fp32_vs_official_rel_l2=rel_l2(ref, run["final_latent"]))
    return out


def xxl_blocks(seconds=10, batch=2, seed=0):
    """One triple and one single block at XXL width, random weights, 10 s shapes, inputs at unit scale."""
    config = MMDIT_CONFIGS["xxl"]
    hidden, heads = config["hidden_size"], config["num_heads"]
    L, Lv, Lt = 50 * seconds, 8 * seconds, 77
    torch.manual_seed(seed)

    def build(cls, dtype):
        block = cls(hidden, heads, config["mlp_ratio"], dtype=dtype).eval().requires_grad_(False)
        return block

    def randomize(block):
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in block.named_parameters():
                if p.ndim >= 2:
                    p.copy_(torch.randn(p.shape, generator=g) * p[0].numel() ** -0.5)
                elif "norm" in name:
                    p.copy_(1 + 0.02 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.02 * torch.randn(p.shape, generator=g))
        return block

    rope = _rope_tables(L, Lv, Lt, hidden // heads, "cpu")
    g = torch.Generator().manual_seed(seed + 1)
    audio, text, visual = (torch.randn(batch, n, hidden, generator=g) for n in (L, Lt, Lv))
    vec = torch.randn(batch, hidden, generator=g)
    vec_tokens = torch.randn(batch, L, hidden, generator=g)
    out = {}
    for cls, args in ((TripleStreamBlock, (audio, text, visual, vec, rope)),
                      (SingleStreamBlock, (audio, vec_tokens, rope["cross_audio"]))):
        ref_block = randomize(build(cls, torch.float32))
        with torch.no_grad(), MaxAbs(ref_block) as peaks:
            ref = ref_block(*args)
        half_block = build(cls, torch.float16)
        half_block.load_state_dict(ref_block.state_dict())
        half_args = [a.half() if isinstance(a, torch.Tensor) else a for a in args]
        with torch.no_grad():
            half = half_block(*half_args)
        ref0 = ref[0] if isinstance(ref, tuple) else ref
        half0 = (half[0] if isinstance(half, tuple) else half).float()
        out[cls.__name__] = dict(max_abs=max(peaks.peaks.values()), top=peaks.top(3),
                                 fp16_finite=bool(half0.isfinite().all()), fp16_rel_l2=rel_l2(half0, ref0))
        del ref_block, half_block
    return out


def xxl_full_depth(seconds=1, batch=1, seed=0):
    """The whole XXL forward (18 triple + 36 single blocks, embeddings, final layer) with independent random
    weights per block, holding one block of each kind: the weights are drawn again before every block call
    (same draws for fp32 and fp16). Shows how the residual streams grow over the full depth."""
    config = dict(MMDIT_CONFIGS["xxl"], depth_triple=1, depth_single=1)
    L, Lv, Ls, Lt = 50 * seconds, 8 * seconds, 8 * ((25 * seconds - 16) // 8 + 1), 77
    g = torch.Generator().manual_seed(seed + 1)
    inputs = (torch.randn(batch, 128, L, generator=g), torch.full((batch,), 1000.0),
              torch.randn(batch, Lt, 768, generator=g), torch.randn(batch, Lv, 768, generator=g),
              torch.randn(batch, Ls, 768, generator=g))
    depth = {"triple_blocks.0": MMDIT_CONFIGS["xxl"]["depth_triple"],
             "single_blocks.0": MMDIT_CONFIGS["xxl"]["depth_single"]}
    results = {}
    for dtype in (torch.float32, torch.float16):
        model = HunyuanVideoFoley(**config, dtype=dtype).eval().requires_grad_(False)
        calls = {}

        def redraw(name):
            def pre_hook(module, args, kwargs):
                calls[name] = calls.get(name, -1) + 1
                draw = torch.Generator().manual_seed(seed * 1000 + calls[name] + (500 if "single" in name else 0))
                with torch.no_grad():
                    for pname, p in module.named_parameters():
                        if p.ndim >= 2:
                            value = torch.randn(p.shape, generator=draw) * p[0].numel() ** -0.5
                        elif "norm" in pname:
                            value = 1 + 0.02 * torch.randn(p.shape, generator=draw)
                        else:
                            value = 0.02 * torch.randn(p.shape, generator=draw)
                        p.copy_(value.to(p.dtype))
            return pre_hook

        modules = dict(model.named_modules())
        redraw("<model>")(model, (), {})  # embeddings, final layer, learned features; the blocks per call
        handles = [modules[name].register_forward_pre_hook(redraw(name), with_kwargs=True) for name in depth]
        # run the one block of each kind `depth` times: the model's own loop over a repeated ModuleList
        model.triple_blocks = torch.nn.ModuleList([model.triple_blocks[0]] * depth["triple_blocks.0"])
        model.single_blocks = torch.nn.ModuleList([model.single_blocks[0]] * depth["single_blocks.0"])
        start = time.perf_counter()
        with torch.no_grad(), MaxAbs(model) as peaks:
            out = model(*inputs).float()
        print(f"full depth {dtype}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
        for h in handles:
            h.remove()
        results[dtype] = (out, peaks)
    ref, peaks = results[torch.float32]
    half = results[torch.float16][0]
    return {f"full depth, {seconds} s, batch {batch}": dict(
        max_abs=max(peaks.peaks.values()), top=peaks.top(3), fp16_finite=bool(half.isfinite().all()),
        fp16_rel_l2=rel_l2(half, ref))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = {"fp16_max": FP16_MAX, "tiny fixture": tiny_fixture(),
              "XXL blocks (random, 10 s, batch 2)": xxl_blocks(), "XXL (random)": xxl_full_depth()}
    text = json.dumps(report, indent=1)
    print(text)
    lines = ["| case | largest abs activation | share of 65504 | fp16 finite | fp16 vs fp32 rel L2 | largest at |",
             "|---|---|---|---|---|---|"]
    for group in ("tiny fixture", "XXL blocks (random, 10 s, batch 2)", "XXL (random)"):
        for case, r in report[group].items():
            lines.append(f"| {group}: {case} | {r['max_abs']:.4g} | {r['max_abs'] / FP16_MAX:.2%} | {r['fp16_finite']} "
                         f"| {r['fp16_rel_l2']:.2e} | {r['top'][0][0]} |")
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "fp16_range.json").write_text(text)
        (args.out / "fp16_range.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
