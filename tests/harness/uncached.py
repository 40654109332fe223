"""The sampling model without cached_conditions: every step recomputes everything, as without the cache (what the
cached run is compared with, in tests/test_conditions_cache.py and benchmarks/conditions_cache.py)."""
import torch


class Uncached(torch.nn.Module):
    """`model` (HunyuanVideoFoley or WindowedMMDiT) without its cached_conditions."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *args):
        return self.model(*args)

    def empty_clip(self, *args):
        return self.model.empty_clip(*args)

    def empty_sync(self, *args):
        return self.model.empty_sync(*args)
