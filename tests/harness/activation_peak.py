"""Peak activation memory of one MMDiT forward at XXL width, counted exactly from the tensors PyTorch makes.

A dispatch mode sees every tensor an ATen op returns and when the last tensor on its storage dies, so the
peak of live bytes is the activations' own (no allocator slack, same on any machine). Storage of the
weights and inputs is not counted. Internal buffers of fused kernels (CPU attention's score matrix) are
not seen either, which is what a GPU with flash attention needs. Depth does not matter (each block's
activations are freed before the next), so one block of each kind.
"""
import weakref
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from foley_models.mmdit import MMDIT_CONFIGS, HunyuanVideoFoley


class LiveBytes(TorchDispatchMode):
    def __init__(self, ignore=()):
        super().__init__()
        self.ignore = {t.untyped_storage().data_ptr() for t in ignore}
        self.users, self.sizes = Counter(), {}
        self.live = self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out

    def _track(self, tensor):
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in self.ignore or storage.nbytes() == 0:
            return
        if self.users[ptr] == 0:
            self.sizes[ptr] = storage.nbytes()
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
        self.users[ptr] += 1
        weakref.finalize(tensor, self._release, ptr)

    def _release(self, ptr):
        self.users[ptr] -= 1
        if self.users[ptr] == 0:
            self.live -= self.sizes.pop(ptr)


def activation_peak_mb(batch, frames, dtype=torch.float32):
    """MiB of activations at the peak of one forward: XXL width, `batch` x `frames` latent frames."""
    torch.manual_seed(0)
    config = dict(MMDIT_CONFIGS["xxl"], depth_triple=1, depth_single=1)
    model = HunyuanVideoFoley(**config, dtype=dtype, device="meta").to_empty(device="cpu").requires_grad_(False)
    for p in model.parameters():
        p.normal_(0, 0.02)
    seconds = frames / 50
    inputs = (torch.randn(batch, 128, frames, dtype=dtype), torch.full((batch,), 500.0),
              torch.randn(batch, 77, 768, dtype=dtype), torch.randn(batch, round(seconds * 8), 768, dtype=dtype),
              torch.randn(batch, 8 * round(seconds * 25 / 8), 768, dtype=dtype))
    with torch.inference_mode(), LiveBytes(ignore=[*model.parameters(), *model.buffers(), *inputs]) as counter:
        model(*inputs)
    return counter.peak / 2**20
