"""Peak activation memory of one MMDiT forward at XXL width, measured as resident memory on the CPU.

usage: python activation_peak.py BATCH LATENT_FRAMES     prints JSON {"weights_mb", "activations_mb"}
Run in a fresh process: ru_maxrss is the process's peak, so the model is built without a transient
(meta, then empty storage) and the activations are the peak over the resident size before the forward.
Depth does not matter (each block's activations are freed before the next), so one block of each kind.
"""
import json
import resource
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from foley_models.mmdit import MMDIT_CONFIGS, HunyuanVideoFoley  # noqa: E402


def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main(batch, frames):
    torch.manual_seed(0)
    config = dict(MMDIT_CONFIGS["xxl"], depth_triple=1, depth_single=1)
    model = HunyuanVideoFoley(**config, device="meta").to_empty(device="cpu").requires_grad_(False)
    for p in model.parameters():
        p.normal_(0, 0.02)
    seconds = frames / 50
    x = torch.randn(batch, 128, frames)
    t = torch.full((batch,), 500.0)
    text = torch.randn(batch, 77, 768)
    clip = torch.randn(batch, round(seconds * 8), 768)
    sync = torch.randn(batch, 8 * round(seconds * 25 / 8), 768)
    with torch.inference_mode():
        model(x[..., :50], t, text, clip[:, :8], sync[:, :16])  # first-call allocations, below the peak to measure
        before = resident_mb()
        model(x, t, text, clip, sync)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    weights = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    print(json.dumps({"weights_mb": weights, "activations_mb": peak - before}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
