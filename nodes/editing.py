"""Editing nodes: a prompt for a time range, an inpainting mask on a time range, extension of given audio."""

from comfy_api.latest import io

from ..foley_models import editing
from .comfy_model import loaded
from .vocabulary import CATEGORY, LATENT_LENGTH, FoleyVAE


class FoleyConditioningTimeRange(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyConditioningTimeRange", display_name="Foley Conditioning Time Range", category=CATEGORY,
            description="Limits a Foley conditioning to a time range: the model sees only that part of the latent "
                        "and of the video features (cut on their own time grids). Combine several with "
                        "ConditioningCombine, e.g. 'footsteps on gravel' for 0-3 s and 'a door slams' for 3-8 s; "
                        "together they should cover the whole clip (time no range covers gets no guidance).",
            inputs=[
                io.Conditioning.Input("conditioning", tooltip="A positive from FoleyConditioning."),
                io.Float.Input("start", default=0.0, min=0.0, max=100000.0, step=0.01, tooltip="Seconds."),
                io.Float.Input("end", default=5.0, min=0.02, max=100000.0, step=0.01, tooltip="Seconds."),
                io.Float.Input("edge_softness", default=0.5, min=0.0, max=10.0, step=0.02,
                               tooltip="Seconds outside the range over which this prompt fades out, blending "
                                       "with its neighbours."),
            ],
            outputs=[io.Conditioning.Output()],
        )

    @classmethod
    def execute(cls, conditioning, start, end, edge_softness):
        limited = []
        for tensor, options in conditioning:
            if LATENT_LENGTH not in options:
                raise ValueError("FoleyConditioningTimeRange takes a conditioning made by FoleyConditioning")
            area, mask = editing.time_range(options[LATENT_LENGTH], start, end, edge_softness)
            limited.append([tensor, dict(options, area=area, mask=mask[None], set_area_to_bounds=False)])
        return io.NodeOutput(limited)


class FoleyTimeMask(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyTimeMask", display_name="Foley Time Mask (inpaint)", category=CATEGORY,
            description="Marks a time range of a latent to be generated anew (audio inpainting); FoleySampler, "
                        "KSampler and SamplerCustomAdvanced keep the latent outside it exactly. Encode the audio "
                        "with FoleyVAEEncode, mask, sample with the video's conditioning.",
            inputs=[
                io.Latent.Input("latent", tooltip="The latent to inpaint: the clip's audio through Foley VAE "
                                                  "Encode."),
                io.Float.Input("start", default=1.0, min=0.0, max=100000.0, step=0.01, tooltip="Seconds."),
                io.Float.Input("end", default=3.0, min=0.02, max=100000.0, step=0.01, tooltip="Seconds."),
                io.Float.Input("fade", default=0.1, min=0.0, max=5.0, step=0.02,
                               tooltip="Seconds inside the range over which the mask rises from 0 and falls back."),
            ],
            outputs=[io.Latent.Output()],
        )

    @classmethod
    def execute(cls, latent, start, end, fade):
        mask = editing.inpaint_mask(latent["samples"].shape[-1], start, end, fade)
        return io.NodeOutput(dict(latent, noise_mask=mask[None, None]))


class FoleyExtend(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyExtend", display_name="Foley Extend Audio", category=CATEGORY,
            description="Continues given audio (a previous result or a recording, placed at the start) over the "
                        "whole latent, e.g. of a longer video: the given part is kept, the rest is generated in "
                        "its context and in sync with the video. Sample the result with denoise 1.0.",
            inputs=[
                FoleyVAE.Input("vae", tooltip="The DAC VAE that encodes the given audio, from Load Foley VAE."),
                io.Audio.Input("audio", tooltip="The audio to continue; mixed to mono, resampled to 48 kHz."),
                io.Latent.Input("latent", tooltip="The empty latent of the full length, from FoleyConditioning."),
            ],
            outputs=[io.Latent.Output()],
        )

    @classmethod
    def execute(cls, vae, audio, latent):
        from .audio import encode_audio

        given = encode_audio(loaded(vae), audio)
        target = latent["samples"]
        if given.shape[0] not in (1, target.shape[0]):
            raise ValueError(f"the audio batch has {given.shape[0]} items but the latent {target.shape[0]}")
        samples, mask = editing.extension(given.expand(target.shape[0], -1, -1), target.shape[-1])
        return io.NodeOutput(dict(latent, samples=samples, noise_mask=mask[None, None]))


NODES = [FoleyConditioningTimeRange, FoleyTimeMask, FoleyExtend]
