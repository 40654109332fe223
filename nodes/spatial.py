"""Spatial and layered Foley: a source's position from its masks, stereo that follows it, a mix of layers."""
import numpy as np
import torch

from comfy_api.latest import io

from ..foley_models import mixing, spatial
from .vocabulary import CATEGORY, START_TIME, FoleyLayers, FoleyPosition

PREVIEW_HEIGHT, PREVIEW_WIDTH = 128, 256


def _preview(track):
    """IMAGE [1, H, W, 3]: x over time (white, left of the picture at the top), area (grey bars), centre line."""
    image = np.full((PREVIEW_HEIGHT, PREVIEW_WIDTH, 3), 0.08, np.float32)
    image[PREVIEW_HEIGHT // 2, :] = 0.3
    times = np.linspace(track.times[0], track.times[-1], PREVIEW_WIDTH)
    x, area = spatial.track_at(track, times)
    bars = np.round(np.clip(area, 0, 1) * (PREVIEW_HEIGHT - 1)).astype(int)
    rows = np.round((x + 1) / 2 * (PREVIEW_HEIGHT - 1)).astype(int)
    for column in range(PREVIEW_WIDTH):
        image[PREVIEW_HEIGHT - bars[column]:, column] = 0.35
        image[rows[column], column] = 1.0
    return torch.from_numpy(image)[None]


class FoleyPositionFromMask(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyPositionFromMask", display_name="Foley Position From Mask", category=CATEGORY,
            description="Where a sound's source is on screen over time, from one mask per video frame: the "
                        "mask's centroid across the picture (-1 left edge, +1 right edge) and its area (a proxy "
                        "for closeness), smoothed. A frame with an empty mask keeps the last known position and area.",
            inputs=[
                io.Mask.Input("mask", tooltip="One mask per frame of the video, e.g. GetVideoComponents -> "
                                              "ImageToMask -> ThresholdMask. An empty mask (the object missed) "
                                              "keeps the last known position and area."),
                io.Float.Input("fps", default=24.0, min=0.001, max=240.0, step=0.001,
                               tooltip="Frame rate of the masks' video (GetVideoComponents' fps): mask i is at "
                                       "i / fps seconds of the video."),
                io.Float.Input("smoothing", default=0.1, min=0.0, max=5.0, step=0.01,
                               tooltip="Time constant in seconds of the smoothing (forwards and backwards, no "
                                       "delay, both ends of the clip treated alike); 0 = none. It also bounds "
                                       "how fast the pan can move. On a clip shorter than 3 time constants, a "
                                       "third of the clip's length is used, so the ends follow the source "
                                       "instead of lagging."),
            ],
            outputs=[FoleyPosition.Output(display_name="position"),
                     io.Image.Output(display_name="preview",
                                     tooltip="x over time (white; left of the picture at the top) and area (grey).")],
        )

    @classmethod
    def execute(cls, mask, fps, smoothing):
        frames = mask.shape[0] if mask.ndim == 3 else 1  # [H, W]: one mask, one position
        track = spatial.position_track(mask, np.arange(frames) / fps, smoothing)
        return io.NodeOutput(track, _preview(track))


class FoleyPan(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyPan", display_name="Foley Pan", category=CATEGORY,
            description="Mono AUDIO -> stereo that follows a position track (constant-power amplitude panning, "
                        "optionally a small delay on the far ear). The audio's start_time places it on the "
                        "track's timeline. Placement between the speakers, not binaural rendering.",
            inputs=[
                io.Audio.Input("audio", tooltip="Mono audio, e.g. from Foley VAE Decode (stereo is mixed to mono)."),
                FoleyPosition.Input("position", tooltip="From Foley Position From Mask."),
                io.Float.Input("width", default=0.8, min=0.0, max=1.0, step=0.01,
                               tooltip="1: the picture's edges pan hard left/right; 0: always centred."),
                io.Float.Input("interaural_delay_ms", default=0.0, min=0.0, max=spatial.MAX_INTERAURAL_DELAY_MS,
                               step=0.01, tooltip="Delay of the far ear at the edges (about 0.6 ms for a head; "
                                                  "0 = level only). Sounds wider on headphones; on speakers it "
                                                  "can colour a mono downmix (comb filtering)."),
                io.Float.Input("closeness_db", default=0.0, min=0.0, max=24.0, step=0.5,
                               tooltip="Level drop where the source looks small (its area): 0 dB where it "
                                       "looks largest, down by this much as its size goes to zero. 0 = off."),
            ],
            outputs=[io.Audio.Output()],
        )

    @classmethod
    def execute(cls, audio, position, width, interaural_delay_ms=0.0, closeness_db=0.0):
        start = float(audio.get(START_TIME, 0.0))
        stereo = spatial.pan(audio["waveform"], audio["sample_rate"], position, start, width, interaural_delay_ms,
                             closeness_db)
        return io.NodeOutput({"waveform": stereo, "sample_rate": audio["sample_rate"], START_TIME: start})


class FoleyAddLayer(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyAddLayer", display_name="Foley Add Layer", category=CATEGORY,
            description="Adds an AUDIO to a list of layers for Foley Mix Layers, at its own start_time, with a "
                        "gain and a pan. Chain one per sound.",
            inputs=[
                FoleyLayers.Input("layers", optional=True, tooltip="Layers so far (from another Foley Add Layer)."),
                io.Audio.Input("audio", tooltip="Mono or stereo; it keeps its start_time (seconds of the video)."),
                io.Int.Input("batch_index", default=0, min=0, max=63, tooltip="Which audio of the batch."),
                io.Float.Input("gain_db", default=0.0, min=-60.0, max=24.0, step=0.1, tooltip="Level of this layer."),
                io.Float.Input("pan", default=0.0, min=-1.0, max=1.0, step=0.01,
                               tooltip="-1 left .. +1 right (constant power). On stereo audio (e.g. from Foley "
                                       "Pan) a balance that only turns the far side down; 0 leaves it as it is."),
            ],
            outputs=[FoleyLayers.Output(display_name="layers")],
        )

    @classmethod
    def execute(cls, audio, batch_index, gain_db, pan, layers=None):
        waveform = audio["waveform"]
        if batch_index >= waveform.shape[0]:
            raise ValueError(f"batch_index {batch_index} but the audio batch has {waveform.shape[0]} item(s)")
        layer = mixing.Layer(waveform[batch_index], int(audio["sample_rate"]), float(audio.get(START_TIME, 0.0)),
                             gain_db, pan)
        return io.NodeOutput((*(layers or ()), layer))  # a new tuple: the input stays as ComfyUI cached it


class FoleyMixLayers(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyMixLayers", display_name="Foley Mix Layers", category=CATEGORY,
            description="Mixes the layers into one stereo AUDIO on the video's timeline (starting at the earliest "
                        "layer) at a target integrated loudness (ITU-R BS.1770) under a true-peak ceiling: a mix "
                        "whose peaks would pass the ceiling is turned down as a whole, never clipped; the report "
                        "says so.",
            inputs=[
                FoleyLayers.Input("layers", tooltip="From Foley Add Layer."),
                io.Float.Input("target_lufs", default=-23.0, min=-60.0, max=0.0, step=0.5,
                               tooltip="Integrated loudness of the mix. -23: EBU R128 (broadcast), with room for "
                                       "the peaks of impacts under a -1 dBTP ceiling; -16 or -14 for web video "
                                       "(transient Foley may then be held lower by the ceiling)."),
                io.Float.Input("true_peak_db", default=-1.0, min=-20.0, max=0.0, step=0.1,
                               tooltip="True-peak ceiling in dBTP (4x oversampled), -1 as EBU R128 and most "
                                       "platforms ask; lossy codecs overshoot near 0."),
            ],
            outputs=[io.Audio.Output(), io.String.Output(display_name="report")],
        )

    @classmethod
    def execute(cls, layers, target_lufs, true_peak_db):
        stereo, rate, start, report = mixing.mix_layers(list(layers), target_lufs, true_peak_db)
        return io.NodeOutput({"waveform": stereo[None], "sample_rate": rate, START_TIME: start},
                             mixing.describe(report))


NODES = [FoleyPositionFromMask, FoleyPan, FoleyAddLayer, FoleyMixLayers]
