"""Test-environment shim: let the CUDA-built torchvision wheel import on a CPU-only torch.

torchvision's _C.so needs libtorch_cuda/libc10_cuda, so it silently fails to load; then
torchvision/_meta_registrations.py calls torch.library.register_fake("torchvision::nms"/"qnms") unguarded and
`import torchvision` dies. Defining those two op schemas first makes the pure-Python parts importable; compiled
ops (nms, roi_align, decode_jpeg) stay unusable. Installed by .ci/setup_env.sh (with a .pth) only on CPU torch.
Does nothing until something imports torchvision.
"""
import importlib.abc
import importlib.machinery
import sys

_KEEP = []


class _TorchvisionOpsFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torchvision":
            return None
        sys.meta_path.remove(self)
        try:
            import os

            import torch

            spec = importlib.machinery.PathFinder.find_spec("torchvision")
            so = os.path.join(os.path.dirname(spec.origin), "_C.so") if spec and spec.origin else None
            try:
                if so and os.path.exists(so):
                    torch.ops.load_library(so)
                    return None  # compiled ops load: nothing to do
            except OSError:
                pass
            lib = torch.library.Library("torchvision", "DEF")
            lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            lib.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
            _KEEP.append(lib)
        except Exception:  # never break interpreter start-up
            pass
        return None


sys.meta_path.insert(0, _TorchvisionOpsFinder())
