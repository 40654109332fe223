"""FoleySampler: ComfyUI's own KSampler path with the model's defaults (50 Euler steps, cfg 4.5)."""
import comfy.samplers
from comfy_api.latest import io

import nodes as comfy_nodes  # ComfyUI's top-level nodes.py (this package is imported under another name)

from .vocabulary import CATEGORY


class FoleySampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleySampler", display_name="Foley Sampler", category=CATEGORY,
            description="Samples Foley audio latents. Same machinery as KSampler (progress, preview, cancel), "
                        "with the official defaults: euler, simple schedule (shift 1.0), 50 steps, cfg 4.5.",
            inputs=[
                io.Model.Input("model", tooltip="The Foley MMDiT, from Load Foley Model (optionally through "
                                                "Foley Windowing or other model patches)."),
                io.Conditioning.Input("positive", tooltip="The positive output of Foley Conditioning: prompt "
                                                          "and video features."),
                io.Conditioning.Input("negative", tooltip="The negative output of Foley Conditioning: the "
                                                          "negative prompt without video; cfg pushes away from it."),
                io.Latent.Input("latent", tooltip="The latent to sample: the empty one of Foley Conditioning (its "
                                                  "length sets the audio length), or encoded / masked audio for "
                                                  "variation, inpainting and extension."),
                io.Int.Input("seed", default=0, min=0, max=0xffffffffffffffff, control_after_generate=True,
                             tooltip="Seed of the starting noise: the same seed and inputs give the same audio."),
                io.Int.Input("steps", default=50, min=1, max=1000,
                             tooltip="Sampling steps; 50 is the official setting, fewer are faster and coarser."),
                io.Float.Input("cfg", default=4.5, min=0.0, max=30.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance: how strongly the prompt and video steer the "
                                       "audio away from the negative. 4.5 is official; 1 turns guidance off (the "
                                       "negative is not evaluated, twice as fast)."),
                io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default="euler",
                               tooltip="ComfyUI sampler; euler is what the official pipeline uses."),
                io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="simple",
                               tooltip="Noise schedule; simple (shift 1.0) is the official one."),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Share of the schedule that is run: 1.0 generates from pure noise (also "
                                       "for inpainting and extension); below 1 keeps that much of an encoded "
                                       "audio's character (variation, e.g. 0.6); 0 returns the latent unchanged."),
            ],
            outputs=[io.Latent.Output()],
        )

    @classmethod
    def execute(cls, model, positive, negative, latent, seed, steps, cfg, sampler_name, scheduler, denoise):
        (samples,) = comfy_nodes.common_ksampler(model, seed, steps, cfg, sampler_name, scheduler, positive, negative,
                                                 latent, denoise=denoise)
        return io.NodeOutput(samples)


NODES = [FoleySampler]
