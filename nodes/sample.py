"""FoleySampler: ComfyUI's own KSampler path with the model's defaults (50 Euler steps, cfg 4.5)."""
import comfy.samplers
from comfy_api.latest import io

import nodes as comfy_nodes  # ComfyUI's top-level nodes.py (this package is imported under another name)

from .loaders import CATEGORY


class FoleySampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleySampler", display_name="Foley Sampler", category=CATEGORY,
            description="Samples Foley audio latents. Same machinery as KSampler (progress, preview, cancel), "
                        "with the official defaults: euler, simple schedule (shift 1.0), 50 steps, cfg 4.5.",
            inputs=[
                io.Model.Input("model"),
                io.Conditioning.Input("positive"),
                io.Conditioning.Input("negative"),
                io.Latent.Input("latent"),
                io.Int.Input("seed", default=0, min=0, max=0xffffffffffffffff, control_after_generate=True),
                io.Int.Input("steps", default=50, min=1, max=1000),
                io.Float.Input("cfg", default=4.5, min=0.0, max=30.0, step=0.1, round=0.01),
                io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default="euler"),
                io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="simple"),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01),
            ],
            outputs=[io.Latent.Output()],
        )

    @classmethod
    def execute(cls, model, positive, negative, latent, seed, steps, cfg, sampler_name, scheduler, denoise):
        (samples,) = comfy_nodes.common_ksampler(model, seed, steps, cfg, sampler_name, scheduler, positive, negative,
                                                 latent, denoise=denoise)
        return io.NodeOutput(samples)


NODES = [FoleySampler]
