"""Work that depends on neither the latent nor the timestep is done once per sampling run of the engine (per
window), with the same results bit for bit. (Inside ComfyUI each step gets new copies of the conditioning, so
nothing is reused there: the skipped work is under 3 % of a step, benchmarks/conditions_cache.py.)"""
import pytest
import torch
from tiny_models import random_mmdit
from uncached import Uncached

from foley_models.mmdit import _rope_tables
from foley_models.sampling import sample_euler_cfg
from foley_models.windows import WindowedMMDiT


def _model(seed=0):
    return random_mmdit(depth_triple=2, depth_single=2, seed=seed)


def _inputs(seconds=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    frames = 50 * seconds
    return (torch.randn(1, 128, frames, generator=g), torch.randn(1, 7, 48, generator=g),
            torch.randn(1, 7, 48, generator=g), torch.randn(1, 8 * seconds, 32, generator=g),
            torch.randn(1, 8 * ((25 * seconds - 16) // 8 + 1), 32, generator=g))


class Counting:
    def __init__(self, model):
        self.calls = {}
        for name in ("cond_in", "visual_proj", "sync_in"):
            getattr(model, name).register_forward_hook(self._count(name))
        for i, block in enumerate(model.triple_blocks):
            block.text_cross_kv.register_forward_hook(self._count(f"text_kv{i}"))

    def _count(self, name):
        def hook(*_):
            self.calls[name] = self.calls.get(name, 0) + 1
        return hook


@pytest.mark.parametrize("windowed", [False, True])
def test_sampling_computes_the_conditions_once_per_run(windowed):
    model = _model()
    seconds = 14 if windowed else 2
    noise, text, neg, clip, sync = _inputs(seconds)
    wrapped = WindowedMMDiT(model, window=300, overlap=60) if windowed else model
    windows = 3 if windowed else 1
    counter = Counting(model)
    plain = sample_euler_cfg(Uncached(wrapped), noise, text, neg, clip, sync, steps=4)
    assert counter.calls["cond_in"] == 4 * windows and counter.calls["text_kv0"] == 4 * windows
    counter.calls.clear()
    cached = sample_euler_cfg(wrapped, noise, text, neg, clip, sync, steps=4)
    assert torch.equal(cached, plain)
    # the text once (the same for every window), the video conditioning once per window
    assert counter.calls == {"cond_in": 1, "text_kv0": 1, "text_kv1": 1, "visual_proj": windows, "sync_in": windows}
    assert model._conditions_cache is None  # nothing kept after the run


def test_cache_tells_tensors_apart():
    model = _model()
    noise, text, _, clip, sync = _inputs()
    t = torch.tensor([500.0])
    counter = Counting(model)
    with torch.no_grad(), model.cached_conditions():
        first = model(noise, t, text, clip, sync)
        assert torch.equal(model(noise, t, text, clip, sync), first)
        assert counter.calls["cond_in"] == 1
        other = text.clone()  # same values, another tensor: computed again (identity, never values)
        model(noise, t, other, clip, sync)
        assert counter.calls["cond_in"] == 2
        text.mul_(2)  # written in place: computed again
        changed = model(noise, t, text, clip, sync)
        assert counter.calls["cond_in"] == 3
    with torch.no_grad():
        assert torch.equal(changed, model(noise, t, text, clip, sync))


def test_rope_tables_are_cached_per_shape():
    first = _rope_tables(100, 16, 7, 32, "cpu")
    assert _rope_tables(100, 16, 7, 32, torch.device("cpu")) is first
    assert _rope_tables(101, 16, 7, 32, "cpu") is not first
    with torch.inference_mode():
        assert _rope_tables(100, 16, 7, 32, "cpu") is not first  # inference tensors kept apart
