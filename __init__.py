"""HunyuanVideo-Foley for ComfyUI: ComfyUI loads this package as a custom node."""
from .nodes import comfy_entrypoint

__all__ = ["comfy_entrypoint"]
