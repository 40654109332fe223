"""DAC VAE decode/encode between LATENT and core AUDIO, and muxing audio into a VIDEO by stream copy."""
import os
import uuid

import torch

import folder_paths
from comfy_api.latest import InputImpl, io

from ..foley_models import media
from .comfy_model import loaded
from .loaders import CATEGORY, FoleyVAE


class FoleyVAEDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyVAEDecode", display_name="Foley VAE Decode", category=CATEGORY,
            description="Latent -> 48 kHz mono AUDIO (960 samples per latent frame, not trimmed, as official).",
            inputs=[FoleyVAE.Input("vae"), io.Latent.Input("latent")],
            outputs=[io.Audio.Output()],
        )

    @classmethod
    def execute(cls, vae, latent):
        model = loaded(vae)
        device = next(model.parameters()).device
        with torch.inference_mode():
            waveform = model.decode(latent["samples"].to(device, torch.float32)).float().cpu()
        return io.NodeOutput({"waveform": waveform, "sample_rate": model.sample_rate})


class FoleyVAEEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyVAEEncode", display_name="Foley VAE Encode", category=CATEGORY,
            description="AUDIO -> latent (posterior mean); the audio is mixed down to mono and resampled to 48 kHz.",
            inputs=[FoleyVAE.Input("vae"), io.Audio.Input("audio")],
            outputs=[io.Latent.Output()],
        )

    @classmethod
    def execute(cls, vae, audio):
        waveform, rate = audio["waveform"], audio["sample_rate"]
        if waveform.shape[-1] == 0:
            raise ValueError("the audio has 0 samples")
        model = loaded(vae)
        mono = waveform.float().mean(dim=1)
        if rate != model.sample_rate:
            mono = torch.stack([media.resample_audio(m[None], rate, model.sample_rate)[0] for m in mono])
        device = next(model.parameters()).device
        with torch.inference_mode():
            mean, _ = model.encode(mono[:, None].to(device))
        return io.NodeOutput({"samples": mean.float().cpu(), "type": "audio"})


class FoleyMuxVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyMuxVideo", display_name="Foley Mux Video", category=CATEGORY,
            description="Puts one item of an AUDIO batch into the VIDEO as its only audio track. The video stream "
                        "is copied, not re-encoded; the result is an MP4 that core SaveVideo writes unchanged.",
            inputs=[
                io.Video.Input("video"),
                io.Audio.Input("audio"),
                io.Int.Input("batch_index", default=0, min=0, max=63, tooltip="Which audio of the batch."),
                io.Combo.Input("audio_codec", options=["aac", "flac", "pcm"], default="aac",
                               tooltip="aac 192 kbit/s stereo (as official), or lossless flac / 16-bit pcm."),
            ],
            outputs=[io.Video.Output()],
        )

    @classmethod
    def execute(cls, video, audio, batch_index, audio_codec):
        waveform = audio["waveform"]
        if batch_index >= waveform.shape[0]:
            raise ValueError(f"batch_index {batch_index} but the audio batch has {waveform.shape[0]} item(s)")
        out_path = os.path.join(folder_paths.get_temp_directory(), f"foley_mux_{uuid.uuid4().hex}.mp4")
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        media.mux_audio_into_video(video.get_stream_source(), waveform[batch_index], audio["sample_rate"], out_path, codec=audio_codec)
        return io.NodeOutput(InputImpl.VideoFromFile(out_path))


NODES = [FoleyVAEDecode, FoleyVAEEncode, FoleyMuxVideo]
