"""HunyuanVideo-Foley for ComfyUI: ComfyUI loads this package as a custom node."""
from .nodes import comfy_entrypoint

WEB_DIRECTORY = "./js"  # the candidates view of FoleySelectBest

__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
