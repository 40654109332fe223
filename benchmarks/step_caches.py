"""Core's step caches (EasyCache, LazyCache) on the Foley MODEL: model evaluations, sampling time and the relative
L2 deviation of the final latent from the uncached run, for a few reuse thresholds each.

The mid-size random MMDiT of gpu_bench.py on the CPU, loaded by FoleyModelLoader inside an in-process ComfyUI
(the test harness), conditioned by FoleyConditioning on random features and sampled by KSampler (euler /
simple, cfg 4.5). Time is the process's CPU time: with one thread it is what the run costs, even on a busy
machine. Random weights measure the mechanism (how many steps are skipped and what that costs in
deviation for this model's dynamics), not what the skipping does to the sound of the released model.

    .venv/bin/python benchmarks/step_caches.py [--seconds 5] [--steps 20] [--threads 1] [--out FILE]
    COMFYUI_ROOT=.cache/comfyui-0.33.0 .venv-0.33/bin/python benchmarks/step_caches.py
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "harness"))
import gpu_bench as gb  # noqa: E402

PACK_NAME = "ComfyUI-HunyuanVideo-Foley"
THRESHOLDS = {"EasyCache": (0.05, 0.2, 0.5), "LazyCache": (0.05, 0.2, 0.5)}


def boot_comfyui(comfy_root, work):
    from comfy_inproc import InProcessComfy

    base, models = work / "base", work / "models"
    (base / "custom_nodes").mkdir(parents=True)
    os.symlink(ROOT, base / "custom_nodes" / PACK_NAME, target_is_directory=True)
    (models / "foley").mkdir(parents=True)
    paths = work / "extra_model_paths.yaml"
    paths.write_text(f"bench:\n    base_path: {models}\n    foley: foley\n")
    return InProcessComfy(comfy_root, base, extra_model_paths=[paths]), models / "foley"


def run_node(comfyui, node_id, **inputs):
    cls = comfyui.nodes.NODE_CLASS_MAPPINGS[node_id]
    if hasattr(cls, "define_schema"):
        return cls.execute(**inputs).result
    return getattr(cls(), cls.FUNCTION)(**inputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="also write the table (markdown) to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    comfy_root = Path(os.environ.get("COMFYUI_ROOT") or ROOT / ".cache" / "comfyui-0.3.75").resolve()

    with tempfile.TemporaryDirectory() as tmp:
        comfyui, model_dir = boot_comfyui(comfy_root, Path(tmp))
        from foley_models.mmdit import HunyuanVideoFoley

        config = gb.MID_MMDIT
        torch.manual_seed(0)
        torch.save(gb.build_on(HunyuanVideoFoley, config, torch.device("cpu"), torch.float32).state_dict(),
                   model_dir / "mid.pth")
        (model,) = run_node(comfyui, "FoleyModelLoader", file="mid.pth", weight_dtype="fp32")
        shapes = gb.clip_shapes(args.seconds)
        text, neg, clip, sync = gb.features(config, shapes, "cpu")
        positive, negative, latent = run_node(
            comfyui, "FoleyConditioning", text={"cond": text, "uncond": neg},
            visual={"features": clip, "frames_25": shapes["n25"], "start_time": 0.0},
            sync={"features": sync, "frames_25": shapes["n25"], "start_time": 0.0}, batch_size=1)

        # counted where the engine runs, under every wrapper
        engine = type(model.model.diffusion_model).__mro__[1]
        forward = engine.forward
        evaluations = [0]

        def counting(self, *a, **kw):
            evaluations[0] += 1
            return forward(self, *a, **kw)

        engine.forward = counting

        def sample(patched, steps=args.steps):
            evaluations[0] = 0
            start = time.process_time()
            (out,) = run_node(comfyui, "KSampler", model=patched, seed=0, steps=steps, cfg=4.5,
                              sampler_name="euler", scheduler="simple", positive=positive, negative=negative,
                              latent_image=latent, denoise=1.0)
            return out["samples"], evaluations[0], time.process_time() - start

        sample(model, steps=2)  # warm-up: first-call allocations and lazy imports
        reference, count, seconds = sample(model)
        rows = [("none", "-", count, seconds, 0.0)]
        for cache, thresholds in THRESHOLDS.items():
            for threshold in thresholds:
                (cached_model,) = run_node(comfyui, cache, model=model, reuse_threshold=threshold,
                                           start_percent=0.15, end_percent=0.95, verbose=False)
                out, count, seconds = sample(cached_model)
                deviation = ((out - reference).norm() / reference.norm()).item()
                rows.append((cache, threshold, count, seconds, deviation))
                print(rows[-1], file=sys.stderr, flush=True)

    head = (f"MMDiT mid (hidden {config['hidden_size']}, {config['depth_triple']}+{config['depth_single']} blocks, "
            f"random weights, fp32, CPU, {args.threads} threads), {args.seconds:g} s clip ({shapes['latent']} "
            f"latent frames), KSampler euler/simple, {args.steps} steps, cfg 4.5, start 0.15 / end 0.95, "
            f"ComfyUI at {comfy_root.name}\n\n")
    table = ["| cache | reuse_threshold | model evaluations | sampling CPU time (s) | speed-up | rel. L2 deviation |",
             "|---|---|---|---|---|---|"]
    base_seconds = rows[0][3]
    for cache, threshold, count, seconds, deviation in rows:
        table.append(f"| {cache} | {threshold} | {count} / {args.steps} | {seconds:.2f} | "
                     f"{base_seconds / seconds:.2f}x | {deviation:.4f} |")
    text = head + "\n".join(table) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
