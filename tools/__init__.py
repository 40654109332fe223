"""Command-line helpers of the pack that talk to ComfyUI over HTTP (no ComfyUI or torch import): see foley_batch.py."""
