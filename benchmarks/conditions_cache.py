"""Per-step time saved by doing the latent- and timestep-independent work once per run (text projection and
every block's text keys/values, SigLIP2 projection, Synchformer conditioning; HunyuanVideoFoley.cached_conditions)
with the mid-size random MMDiT of gpu_bench.py on the CPU. A and B alternate so that load changes hit both;
the process's CPU time is measured (with one thread it is what the run costs, even on a busy machine), and the
lowest of the rounds is compared.

    .venv/bin/python benchmarks/conditions_cache.py [--seconds 10] [--steps 4] [--rounds 4] [--threads 1]
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "harness"))
import gpu_bench as gb  # noqa: E402
from uncached import Uncached

from foley_models.mmdit import HunyuanVideoFoley, _rope_tables  # noqa: E402
from foley_models.sampling import sample_euler_cfg  # noqa: E402
from foley_models.windows import WindowedMMDiT  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--windowed", action="store_true", help="through WindowedMMDiT (e.g. --seconds 20)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = gb.MID_MMDIT
    model = gb.build_on(HunyuanVideoFoley, config, torch.device("cpu"), torch.float32)
    if args.windowed:
        model = WindowedMMDiT(model)
    shapes = gb.clip_shapes(args.seconds)
    text, neg, clip, sync = gb.features(config, shapes, "cpu")
    noise = torch.randn(args.batch, 128, shapes["latent"], generator=torch.Generator().manual_seed(0))
    variants = {"cached": model, "uncached": Uncached(model)}
    times = {name: [] for name in variants}
    outputs = {}
    for _ in range(args.rounds):
        for name, m in variants.items():
            start = time.process_time()
            outputs[name] = sample_euler_cfg(m, noise, text, neg, clip, sync, steps=args.steps, cfg=4.5)
            times[name].append((time.process_time() - start) / args.steps)
    assert torch.equal(outputs["cached"], outputs["uncached"]), "the cache changed the result"
    # the skipped work itself, timed alone (many repeats: it is small): per step, the model sees batch 2B
    base = model.model if args.windowed else model
    batch = 2 * args.batch
    feats = [f.expand(batch, -1, -1) for f in (text, clip, sync)]
    span = min(shapes["latent"], getattr(model, "window", shapes["latent"]))
    rope = _rope_tables(span, clip.shape[1], text.shape[1], base.head_dim, "cpu")
    skipped = []
    with torch.no_grad():
        for _ in range(20):
            start = time.process_time()
            base._video_conditions(feats[1], feats[2], span)
            base._text_conditions(feats[0], rope)
            skipped.append(time.process_time() - start)
    skipped = min(skipped)
    cached, uncached = (min(times[n]) for n in ("cached", "uncached"))
    print(f"mid MMDiT, {args.seconds:g} s, batch {args.batch}{', windowed' if args.windowed else ''}, "
          f"{torch.get_num_threads()} thread(s): CPU time per step {1000 * uncached:.0f} ms uncached, {1000 * cached:.0f} ms "
          f"cached: {1000 * (uncached - cached):.0f} ms ({(uncached - cached) / uncached:.1%}) saved per step; "
          f"the skipped work alone: {1000 * skipped:.1f} ms per model call ({skipped / uncached:.1%} of a step); "
          f"results bit-identical. all (ms): "
          + ", ".join(f"{n} {[round(1000 * t) for t in v]}" for n, v in times.items()))


if __name__ == "__main__":
    main()
