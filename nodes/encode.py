"""Text, SigLIP2 and Synchformer features, and the CONDITIONING + LATENT that FoleySampler / KSampler take."""
import math

import torch

from comfy_api.latest import io

from ..foley_models import media
from ..foley_models.clap import DEFAULT_NEGATIVE_PROMPT
from .comfy_model import FoleyLatentFormat, loaded
from .loaders import CATEGORY, FoleyCLAP, FoleySigLIP2, FoleySynchformer

FoleyText = io.Custom("FOLEY_TEXT")
FoleyVisual = io.Custom("FOLEY_VISUAL")
FoleySync = io.Custom("FOLEY_SYNC")
FEATURE_DIM = 768
# the official frame sampler reads frames up to t = 15.0 s inclusive, i.e. at most 15.04 s at 25 fps
MAX_WINDOW = media.MAX_SECONDS + 1.0 / media.SYNCHFORMER_FPS


def _video_inputs():
    return [
        io.Video.Input("video", optional=True, tooltip="A core VIDEO; frames are read from its file at its true "
                                                       "timestamps, decoding only what is needed."),
        io.Image.Input("images", optional=True, tooltip="Frames instead of a video; set their fps."),
        io.Float.Input("fps", default=24.0, min=0.001, max=240.0, step=0.001,
                       tooltip="Frame rate of `images` (ignored for `video`, which carries its own)."),
        io.Float.Input("start_time", default=0.0, min=0.0, max=100000.0, step=0.01, tooltip="Seconds skipped."),
        io.Float.Input("duration", default=0.0, min=0.0, max=media.MAX_SECONDS, step=0.01,
                       tooltip="Seconds used after start_time; 0 = the rest (at most 15 s)."),
    ]


def _check_window(length, start_time, duration, what):
    window = duration or length - start_time
    if length - start_time <= 0:
        raise ValueError(f"{what} is {length:.3f} s long; start_time {start_time} s leaves nothing")
    if window > MAX_WINDOW + 1e-6:
        raise ValueError(f"{what} is {length - start_time:.2f} s long after start_time; HunyuanVideo-Foley makes at "
                         f"most {media.MAX_SECONDS:g} s of audio per run. Set duration (and start_time) to pick "
                         f"at most {media.MAX_SECONDS:g} s, or trim the video.")


def sample_frames(rate, video=None, images=None, fps=None, start_time=0.0, duration=0.0):
    """uint8 [T, H, W, 3] frames at `rate` by the official rule, from a VIDEO or an IMAGE batch + fps."""
    if video is not None:
        source = video.get_stream_source()  # a path, or a buffer core encodes for videos built from tensors
        length = media.video_info(source)["duration"]
        if length is not None:
            _check_window(length, start_time, duration, "the video")
        return media.read_video_frames(source, rates=(rate,), start=start_time, duration=duration or None).frames[rate]
    if images is not None:
        if not fps or fps <= 0:
            raise ValueError(f"fps must be > 0 for an image sequence, got {fps}")
        _check_window(images.shape[0] / fps, start_time, duration, f"the image sequence ({images.shape[0]} frames "
                                                                  f"at {fps:g} fps)")
        picked = media.image_sequence_indices(images.shape[0], fps, rate, start_time, duration or None)
        # official frames are uint8 from the decoder: quantise before any resizing (synchformer.md Q-S4),
        # a few frames at a time so that no second float copy of a long batch is made
        chunks = [picked[i:i + 16] for i in range(0, len(picked), 16)]
        return torch.cat([(images[c, ..., :3] * 255).round().clamp(0, 255).to(torch.uint8).cpu()
                          for c in chunks]).numpy()
    raise ValueError("connect a video or an image batch")


class FoleyTextEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyTextEncode", display_name="Foley Text Encode", category=CATEGORY,
            description="CLAP features of the prompt and the negative prompt, encoded together as the official "
                        "pipeline does (they share padding).",
            inputs=[
                FoleyCLAP.Input("clap"),
                io.String.Input("prompt", multiline=True, default="", tooltip="What the audio should sound like."),
                io.String.Input("negative_prompt", multiline=True, default=DEFAULT_NEGATIVE_PROMPT),
            ],
            outputs=[FoleyText.Output(display_name="text")],
        )

    @classmethod
    def execute(cls, clap, prompt, negative_prompt):
        cond, uncond = loaded(clap).encode(prompt, negative_prompt)
        return io.NodeOutput({"cond": cond.cpu(), "uncond": uncond.cpu()})


class FoleyVisualEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyVisualEncode", display_name="Foley Visual Encode (SigLIP2)", category=CATEGORY,
            description="SigLIP2 features of the frames at 8 fps (what is on screen).",
            inputs=[FoleySigLIP2.Input("siglip2"), *_video_inputs()],
            outputs=[FoleyVisual.Output(display_name="visual")],
        )

    @classmethod
    def execute(cls, siglip2, video=None, images=None, fps=24.0, start_time=0.0, duration=0.0):
        frames = sample_frames(media.SIGLIP2_FPS, video, images, fps, start_time, duration)
        features = loaded(siglip2).encode_frames(frames).cpu()
        return io.NodeOutput({"features": features, "seconds": features.shape[1] / media.SIGLIP2_FPS})


class FoleySyncEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleySyncEncode", display_name="Foley Sync Encode (Synchformer)", category=CATEGORY,
            description="Synchformer features of the frames at 25 fps (when things happen); also fixes the audio "
                        "length (official rule).",
            inputs=[FoleySynchformer.Input("synchformer"), *_video_inputs()],
            outputs=[FoleySync.Output(display_name="sync")],
        )

    @classmethod
    def execute(cls, synchformer, video=None, images=None, fps=24.0, start_time=0.0, duration=0.0):
        frames = sample_frames(media.SYNCHFORMER_FPS, video, images, fps, start_time, duration)
        features = loaded(synchformer).encode_frames(frames).cpu()
        return io.NodeOutput({"features": features, "frames_25": len(frames)})


def _flag(value):
    return torch.full((1,), float(value))


class FoleyConditioning(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyConditioning", display_name="Foley Conditioning", category=CATEGORY,
            description="positive/negative CONDITIONING and an empty LATENT of the official length. The negative "
                        "side is the negative prompt with the learned 'no video' features. Without video "
                        "features the positive uses the learned 'no video' features too (text-only audio of "
                        "`duration` seconds; not an official mode).",
            inputs=[
                FoleyText.Input("text"),
                FoleyVisual.Input("visual", optional=True),
                FoleySync.Input("sync", optional=True),
                io.Float.Input("duration", default=5.0, min=0.64, max=media.MAX_SECONDS, step=0.04,
                               tooltip="Audio length in seconds when no sync features are connected."),
                io.Int.Input("batch_size", default=1, min=1, max=64),
            ],
            outputs=[io.Conditioning.Output(display_name="positive"), io.Conditioning.Output(display_name="negative"),
                     io.Latent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, text, visual=None, sync=None, duration=5.0, batch_size=1):
        n25 = sync["frames_25"] if sync is not None else max(16, round(duration * media.SYNCHFORMER_FPS))
        seconds = n25 / media.SYNCHFORMER_FPS
        if visual is not None and abs(visual["seconds"] - seconds) > 0.25:
            raise ValueError(f"the visual features cover {visual['seconds']:.2f} s but the sync features "
                             f"{seconds:.2f} s: encode the same clip (same video, start_time and duration)")
        clip = visual["features"] if visual is not None else torch.zeros(1, math.ceil(seconds * media.SIGLIP2_FPS),
                                                                         FEATURE_DIM)
        if sync is not None:
            sync_feat = sync["features"]
        else:
            sync_feat = torch.zeros(1, 8 * ((n25 - 16) // 8 + 1), FEATURE_DIM)
        positive = [[text["cond"], {"clip_feat": clip, "sync_feat": sync_feat,
                                    "clip_empty": _flag(visual is None), "sync_empty": _flag(sync is None)}]]
        negative = [[text["uncond"], {"clip_feat": torch.zeros_like(clip), "sync_feat": torch.zeros_like(sync_feat),
                                      "clip_empty": _flag(True), "sync_empty": _flag(True)}]]
        latent = torch.zeros(batch_size, FoleyLatentFormat.latent_channels, media.latent_length(n25))
        return io.NodeOutput(positive, negative, {"samples": latent, "type": "audio"})


NODES = [FoleyTextEncode, FoleyVisualEncode, FoleySyncEncode, FoleyConditioning]
