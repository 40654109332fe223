"""Text, SigLIP2 and Synchformer features, and the CONDITIONING + LATENT that FoleySampler / KSampler take."""
import functools
import math

import torch

from comfy_api.latest import io

from ..foley_models import frames, media
from ..foley_models.clap import DEFAULT_NEGATIVE_PROMPT
from ..foley_models.siglip2 import resize_frame
from ..foley_models.synchformer import TEMPORAL_TOKENS, resize_crop_frame, segment_count
from .comfy_model import FoleyLatentFormat, loaded
from .vocabulary import (CATEGORY, LATENT_LENGTH, LONGEST_INPUT_SECONDS, START_TIME, FoleyCLAP, FoleySigLIP2,
                         FoleySync, FoleySynchformer, FoleyText, FoleyVisual)
from .video_input import file_window


def _video_inputs():
    return [
        io.Video.Input("video", optional=True, tooltip="A core VIDEO; frames are read from its file at its true "
                                                       "timestamps as they are needed, any length."),
        io.Image.Input("images", optional=True, tooltip="Frames instead of a video; set their fps."),
        io.Float.Input("fps", default=24.0, min=0.001, max=240.0, step=0.001,
                       tooltip="Frame rate of `images` (ignored for `video`, which carries its own)."),
        io.Float.Input("start_time", default=0.0, min=0.0, max=LONGEST_INPUT_SECONDS, step=0.01,
                       tooltip="Seconds skipped."),
        io.Float.Input("duration", default=0.0, min=0.0, max=LONGEST_INPUT_SECONDS, step=0.01,
                       tooltip="Seconds used after start_time; 0 = the rest of the video."),
        io.Mask.Input("mask", optional=True,
                      tooltip="Object focus: one mask per frame of the video or images (e.g. GetVideoComponents -> "
                              "ImageToMask -> ThresholdMask), or one for all frames. Outside the mask the frames "
                              "are filled with the surroundings' mean colour (feathered edge) before encoding. "
                              "The model was not trained with masks: it is a hint, not a guarantee."),
    ]


def encode_clip(encode_chunks, rate, transform, video=None, images=None, fps=None, start_time=0.0, duration=0.0,
                mask=None):
    """(features, frames_25) of the frames the official rule picks at `rate` from a VIDEO or an IMAGE batch +
    fps, masked by `mask` (one per frame of the VIDEO or batch, or one for all) if given; frames_25 is how
    many frames the rule picks at 25 fps in the same window, which fixes the audio length."""
    window = file_window(video, start_time, duration)
    if window is not None:
        mask_fps = None
        if mask is not None:
            info = media.video_info(window.source)
            mask_fps = info["fps"]
            count = mask.shape[0] if mask.ndim == 3 else 1  # [H, W]: one mask for all frames
            if not window.trimmed and count > 1 and info["n_frames"] and count != info["n_frames"]:
                raise ValueError(f"the mask batch has {count} masks but the video has {info['n_frames']} "
                                 f"frames: give one mask per frame (e.g. made from its GetVideoComponents images) "
                                 f"or a single mask for all frames")
        chunks = frames.video_file_frames(window.source, rate, window.start, window.duration, transform, mask,
                                          shown_from=window.shown_from, mask_fps=mask_fps)
        return encode_chunks(chunks), chunks.frames_25
    if video is not None:  # frames in memory (CreateVideo, GetVideoComponents round trips): no file to read
        components = video.get_components()
        images, fps = components.images, float(components.frame_rate)
    if images is None:
        raise ValueError("connect a video or an image batch")
    chunks = frames.image_batch_frames(images, fps, rate, start_time, duration or None, transform, mask)
    return encode_chunks(chunks), chunks.frames_25


class FoleyTextEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyTextEncode", display_name="Foley Text Encode", category=CATEGORY,
            description="CLAP features of the prompt and the negative prompt, encoded together as the official "
                        "pipeline does (they share padding).",
            inputs=[
                FoleyCLAP.Input("clap", tooltip="The CLAP text encoder, from Load Foley CLAP."),
                io.String.Input("prompt", multiline=True, default="", tooltip="What the audio should sound like."),
                io.String.Input("negative_prompt", multiline=True, default=DEFAULT_NEGATIVE_PROMPT,
                                tooltip="What the audio should not sound like; the default is the official one."),
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
            inputs=[FoleySigLIP2.Input("siglip2", tooltip="The SigLIP2 encoder, from Load Foley SigLIP2."),
                    *_video_inputs()],
            outputs=[FoleyVisual.Output(display_name="visual")],
        )

    @classmethod
    def execute(cls, siglip2, video=None, images=None, fps=24.0, start_time=0.0, duration=0.0, mask=None):
        encoder = loaded(siglip2)
        features, frames_25 = encode_clip(encoder.encode_frame_chunks, media.SIGLIP2_FPS,
                                          functools.partial(resize_frame, size=encoder.image_size),
                                          video, images, fps, start_time, duration, mask)
        return io.NodeOutput({"features": features.cpu(), "frames_25": frames_25, START_TIME: start_time})


class FoleySyncEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleySyncEncode", display_name="Foley Sync Encode (Synchformer)", category=CATEGORY,
            description="Synchformer features of the frames at 25 fps (when things happen); also fixes the audio "
                        "length (official rule).",
            inputs=[FoleySynchformer.Input("synchformer", tooltip="The Synchformer, from Load Foley Synchformer."),
                    *_video_inputs()],
            outputs=[FoleySync.Output(display_name="sync")],
        )

    @classmethod
    def execute(cls, synchformer, video=None, images=None, fps=24.0, start_time=0.0, duration=0.0, mask=None):
        features, frames_25 = encode_clip(loaded(synchformer).encode_frame_chunks, media.SYNCHFORMER_FPS,
                                          resize_crop_frame, video, images, fps, start_time, duration, mask)
        return io.NodeOutput({"features": features.cpu(), "frames_25": frames_25, START_TIME: start_time})


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
                FoleyText.Input("text", tooltip="Prompt and negative prompt, from Foley Text Encode."),
                FoleyVisual.Input("visual", optional=True,
                                  tooltip="SigLIP2 features (what is on screen), from Foley Visual Encode; "
                                          "unconnected: the learned 'no video' features."),
                FoleySync.Input("sync", optional=True,
                                tooltip="Synchformer features (when things happen), from Foley Sync Encode; they "
                                        "set the audio length. Unconnected: the learned 'no video' features."),
                io.Float.Input("duration", default=5.0, min=0.64, max=LONGEST_INPUT_SECONDS, step=0.04,
                               tooltip="Audio length in seconds when no sync features are connected."),
                io.Int.Input("batch_size", default=1, min=1, max=64,
                             tooltip="Audios sampled at once from different noise, e.g. candidates for Foley "
                                     "Score and Foley Select Best."),
            ],
            outputs=[io.Conditioning.Output(display_name="positive"), io.Conditioning.Output(display_name="negative"),
                     io.Latent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, text, visual=None, sync=None, duration=5.0, batch_size=1):
        video = [f for f in (sync, visual) if f is not None]  # sync first: its frame count is the official one
        n25 = video[0]["frames_25"] if video else max(16, round(duration * media.SYNCHFORMER_FPS))
        if visual is not None and sync is not None and (
                abs(visual["frames_25"] - sync["frames_25"]) > 0.25 * media.SYNCHFORMER_FPS
                or visual[START_TIME] != sync[START_TIME]):
            raise ValueError(f"the visual features cover {visual['frames_25'] / 25:.2f} s from "
                             f"{visual[START_TIME]:g} s but the sync features {sync['frames_25'] / 25:.2f} s from "
                             f"{sync[START_TIME]:g} s: encode the same clip (same video, start_time and duration)")
        seconds = n25 / media.SYNCHFORMER_FPS
        # an absent feature is a placeholder of its length and width 1: the model puts its learned "no video"
        # features there (the *_empty flags), whatever their width
        clip = visual["features"] if visual is not None else torch.zeros(1, math.ceil(seconds * media.SIGLIP2_FPS), 1)
        sync_feat = sync["features"] if sync is not None else torch.zeros(1, TEMPORAL_TOKENS * segment_count(n25), 1)
        positive = [[text["cond"], {"clip_feat": clip, "sync_feat": sync_feat,
                                    "clip_empty": _flag(visual is None), "sync_empty": _flag(sync is None)}]]
        negative = [[text["uncond"], {"clip_feat": torch.zeros_like(clip), "sync_feat": torch.zeros_like(sync_feat),
                                      "clip_empty": _flag(True), "sync_empty": _flag(True)}]]
        length = media.latent_length(n25)
        for _, options in (*positive, *negative):
            options[LATENT_LENGTH] = length
        latent = {"samples": torch.zeros(batch_size, FoleyLatentFormat.latent_channels, length), "type": "audio"}
        if video:
            latent[START_TIME] = video[0][START_TIME]
        return io.NodeOutput(positive, negative, latent)


NODES = [FoleyTextEncode, FoleyVisualEncode, FoleySyncEncode, FoleyConditioning]
