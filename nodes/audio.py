"""DAC VAE decode/encode between LATENT and core AUDIO, and muxing audio into a VIDEO by stream copy."""
import contextlib
import os
import uuid
import weakref

import torch

import folder_paths
from comfy_api.latest import InputImpl, io

from ..foley_models import muxing
from .comfy_model import loaded
from .video_input import file_window
from .vocabulary import CATEGORY, START_TIME, FoleyVAE, with_start_time


class FoleyVAEDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyVAEDecode", display_name="Foley VAE Decode", category=CATEGORY,
            description="Latent -> 48 kHz mono AUDIO (960 samples per latent frame, not trimmed, as official).",
            inputs=[FoleyVAE.Input("vae", tooltip="The DAC VAE, from Load Foley VAE."),
                    io.Latent.Input("latent", tooltip="Sampled latent, e.g. from Foley Sampler or KSampler.")],
            outputs=[io.Audio.Output()],
        )

    @classmethod
    def execute(cls, vae, latent):
        model = loaded(vae)
        device = next(model.parameters()).device
        with torch.inference_mode():
            waveform = model.decode_chunked(latent["samples"].to(device, torch.float32)).float().cpu()
        return io.NodeOutput(with_start_time({"waveform": waveform, "sample_rate": model.sample_rate}, latent))


class FoleyVAEEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyVAEEncode", display_name="Foley VAE Encode", category=CATEGORY,
            description="AUDIO -> latent (posterior mean); the audio is mixed down to mono and resampled to 48 kHz.",
            inputs=[FoleyVAE.Input("vae", tooltip="The DAC VAE, from Load Foley VAE."),
                    io.Audio.Input("audio", tooltip="Any AUDIO, any sample rate and channels; mixed to mono and "
                                                    "resampled to 48 kHz.")],
            outputs=[io.Latent.Output()],
        )

    @classmethod
    def execute(cls, vae, audio):
        return io.NodeOutput(with_start_time({"samples": encode_audio(loaded(vae), audio), "type": "audio"}, audio))


def encode_audio(model, audio):
    """AUDIO (any rate and channels) -> latent [B, 128, L] (posterior mean) of its mono mix at 48 kHz."""
    return model.encode_audio(audio["waveform"], audio["sample_rate"], "FoleyVAEEncode").float().cpu()


VIDEO_RANGES = ["whole video", "audio window only"]


class FoleyMuxVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyMuxVideo", display_name="Foley Mux Video", category=CATEGORY,
            description="Puts one item of an AUDIO batch into the VIDEO as its only audio track, at the time of "
                        "the window it was made for. A video read from a file is copied, not re-encoded; one cut by "
                        "core Trim Video is cut exactly there (re-encoded to H.264 once); a video made from "
                        "frames (CreateVideo) is encoded once to H.264. The result is an MP4 that core "
                        "SaveVideo writes unchanged.",
            inputs=[
                io.Video.Input("video", tooltip="The video the audio was made for; its own audio is replaced."),
                io.Audio.Input("audio", tooltip="Foley audio, e.g. from Foley VAE Decode; it carries the start "
                                                "time of its window."),
                io.Int.Input("batch_index", default=0, min=0, max=63, tooltip="Which audio of the batch."),
                io.Combo.Input("audio_codec", options=list(muxing.AUDIO_CODECS), default="aac",
                               tooltip="aac 192 kbit/s stereo (as official), or lossless flac / 16-bit pcm."),
                io.Combo.Input("video_range", options=VIDEO_RANGES, default=VIDEO_RANGES[0],
                               tooltip="whole video (all of a trimmed one): the audio starts at the start_time of "
                                       "the window it was made for (silence before it). audio window only: the video is cut to the "
                                       "audio's window (re-encoded, so the cut is exact)."),
            ],
            outputs=[io.Video.Output()],
        )

    @classmethod
    def execute(cls, video, audio, batch_index, audio_codec, video_range=VIDEO_RANGES[0]):
        waveform, rate = audio["waveform"], audio["sample_rate"]
        if batch_index >= waveform.shape[0]:
            raise ValueError(f"batch_index {batch_index} but the audio batch has {waveform.shape[0]} item(s)")
        # start_time counts from the start of the VIDEO as given (a trimmed one: from its trim start)
        start, seconds = float(audio.get(START_TIME, 0.0)), waveform.shape[-1] / rate
        whole = video_range == VIDEO_RANGES[0]
        out_path = os.path.join(folder_paths.get_temp_directory(), f"foley_mux_{uuid.uuid4().hex}.mp4")
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        try:
            window = file_window(video) if whole else file_window(video, start, seconds)
            if window is not None:
                if whole and not window.trimmed:
                    placement = dict(audio_start=start)  # the file as it is: its packets are copied
                else:  # packets cannot start at an arbitrary time: the cut is re-encoded, exact to the frame
                    placement = dict(window=(window.start, window.end), audio_start=start if whole else 0.0)
                muxing.mux_audio_into_video(window.source, waveform[batch_index], rate, out_path,
                                            codec=audio_codec, **placement)
            else:  # frames in memory (CreateVideo): no file to copy from, so they are encoded once
                placement = dict(audio_start=start) if whole else dict(window=(start, start + seconds))
                components = video.get_components()
                muxing.encode_video_with_audio(components.images, components.frame_rate, waveform[batch_index],
                                               rate, out_path, codec=audio_codec, **placement)
        except BaseException:
            _remove_file(out_path)
            raise
        return io.NodeOutput(_video_owning_file(out_path))


def _remove_file(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _video_owning_file(path):
    """A VIDEO of a file written for it alone, which is deleted when the VIDEO is: ComfyUI empties its temp
    folder only at start and exit, and each run would otherwise leave a copy of the video there. The
    VIDEO lives as long as anything uses it, ComfyUI's cache of this node's outputs included."""
    video = InputImpl.VideoFromFile(path)
    weakref.finalize(video, _remove_file, path)
    return video


NODES = [FoleyVAEDecode, FoleyVAEEncode, FoleyMuxVideo]
