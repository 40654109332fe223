"""Measured results: the A/V sync score (DeSync) and the CLAP score of each candidate, and picking the best one."""
import os
import uuid

import numpy as np
from PIL import Image

import folder_paths
from comfy_api.latest import io

from ..foley_models import load_clap_scorer, load_sync_scorer, media, muxing
from ..foley_models.clap import CLAP_HUB_ID
from ..foley_models.ranking import (best_first, candidates_table, require_score_length, score_candidates,
                                    spectrogram_image)
from ..foley_models.synchformer import resize_crop_frame
from . import model_files as files
from .comfy_model import encoder_patcher, loaded
from .encode import encode_clip
from .loaders import file_problem, folder_problem
from .video_input import file_window
from .vocabulary import CATEGORY, START_TIME, FoleyScorer, FoleyScores, with_start_time

class FoleyLoadSyncScorer(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyLoadSyncScorer", display_name="Load Foley Scorers (Synchformer + CLAP)", category=CATEGORY,
            description="The whole Synchformer (video and audio branches and its offset classifier) from the same "
                        "file the pack already uses, for the DeSync score, and CLAP's audio and text towers from the "
                        "CLAP folder, for the CLAP score. A separate node from the Synchformer loader, which loads "
                        "only the video branch that generation needs.",
            inputs=[
                io.Combo.Input("synchformer", options=files.file_options(files.SYNCHFORMER_FILES),
                               default=files.default_name(files.SYNCHFORMER_FILES),
                               tooltip="The Synchformer checkpoint in models/foley (the same file as for "
                                       "generation); all of it is loaded, for the DeSync score."),
                io.Combo.Input("clap", options=files.folder_options(files.CLAP_FOLDERS, "clap"),
                               default=files.default_name(files.CLAP_FOLDERS),
                               tooltip="The CLAP folder in models/foley; its audio and text towers give the "
                                       "CLAP score."),
            ],
            outputs=[FoleyScorer.Output(display_name="scorer")],
        )

    @classmethod
    def validate_inputs(cls, synchformer, clap):
        problem = file_problem(synchformer, files.SYNCHFORMER_FILES, "synchformer")
        return problem if problem is not True else folder_problem(clap, files.CLAP_FOLDERS, "CLAP", CLAP_HUB_ID, clap_scoring=True)

    @classmethod
    def execute(cls, synchformer, clap):
        sync = load_sync_scorer(files.resolve_file(synchformer, files.SYNCHFORMER_FILES))
        text_audio = load_clap_scorer(files.resolve_folder(clap, files.CLAP_FOLDERS))
        return io.NodeOutput({"sync": encoder_patcher(sync), "clap": encoder_patcher(text_audio)})


class FoleyScore(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyScore", display_name="Foley Score (DeSync + CLAP)", category=CATEGORY,
            description="Scores every audio of a batch against the video: DeSync (seconds the sync classifier "
                        "thinks audio and video are apart, lower is better, 0-2 s in 0.1 s steps), the signed "
                        "offset behind it, and the CLAP score (how well the audio fits the prompt, -1..1, higher "
                        "is better). The audio's window (start_time) is taken from the audio; at least 4.8 s.",
            inputs=[
                FoleyScorer.Input("scorer", tooltip="The scoring models, from Load Foley Scorers."),
                io.Audio.Input("audio", tooltip="A batch of candidates, e.g. from FoleyVAEDecode."),
                io.String.Input("prompt", multiline=True, default="",
                                tooltip="For the CLAP score; empty: no CLAP score."),
                io.Video.Input("video", optional=True,
                               tooltip="The video the audio was made for (the whole video: the audio's window "
                                       "is found in it by its start time)."),
                io.Image.Input("images", optional=True, tooltip="Frames instead of a video; set their fps."),
                io.Float.Input("fps", default=24.0, min=0.001, max=240.0, step=0.001,
                               tooltip="Frame rate of `images` (ignored for `video`, which carries its own)."),
            ],
            outputs=[FoleyScores.Output(display_name="scores"), io.String.Output(display_name="table")],
        )

    @classmethod
    def execute(cls, scorer, audio, prompt, video=None, images=None, fps=24.0):
        waveform, rate = audio["waveform"], audio["sample_rate"]
        start, seconds = float(audio.get(START_TIME, 0.0)), waveform.shape[-1] / rate
        require_score_length(seconds)  # before the video is decoded
        frames, _ = encode_clip(lambda chunks: np.concatenate(list(chunks)), media.SYNCHFORMER_FPS,
                                resize_crop_frame, video, images, fps, start, seconds)
        text_audio = loaded(scorer["clap"]) if prompt.strip() else None
        candidates = score_candidates(loaded(scorer["sync"]), frames, waveform, rate, prompt, text_audio)
        table = candidates_table(candidates)
        scores = {"candidates": candidates, START_TIME: start, "seconds": seconds, "prompt": prompt}
        # the candidates' numbers also go to the history entry, where foley_batch.py reports them
        return io.NodeOutput(scores, table, ui={"text": [table], "foley_scores": candidates})


def _temp_file(suffix):
    name = f"foley_candidates_{uuid.uuid4().hex}{suffix}"
    os.makedirs(folder_paths.get_temp_directory(), exist_ok=True)
    return name, os.path.join(folder_paths.get_temp_directory(), name)


def _preview(entry_name):
    return {"filename": entry_name, "subfolder": "", "type": "temp"}


def _playable_copy(video):
    """An MP4 of the video (without its sound) that a browser plays: copied, or encoded once (see muxing)."""
    name, path = _temp_file(".mp4")
    silence = np.zeros((1, 1), np.float32)
    window = file_window(video)
    if window is not None:  # a trimmed video is cut to its trim: the view's start_time counts from there
        muxing.mux_audio_into_video(window.source, silence, media.SAMPLE_RATE, path,
                                    window=(window.start, window.end) if window.trimmed else None)
    else:
        components = video.get_components()
        muxing.encode_video_with_audio(components.images, components.frame_rate, silence, media.SAMPLE_RATE, path)
    return name


SEED_INPUTS = ("seed", "noise_seed")  # FoleySampler / KSampler, RandomNoise


def upstream_seeds(prompt, node_id, inputs=("audio", "scores")):
    """The seeds the candidates were sampled with: [{node, class_type, input, value}] of every node upstream of
    `inputs` of `node_id` in the API prompt with a literal `seed` / `noise_seed`. With these values and the
    seed control on `fixed`, the next run finds the sampling in ComfyUI's cache (or samples the same again)."""
    links = [prompt[str(node_id)]["inputs"].get(name) for name in inputs] if str(node_id) in prompt else []
    todo = [link[0] for link in links if isinstance(link, list) and len(link) == 2]
    seen, seeds = set(), []
    while todo:
        current = str(todo.pop())
        if current in seen or current not in prompt:
            continue
        seen.add(current)
        for name, value in prompt[current].get("inputs", {}).items():
            if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int):
                todo.append(value[0])
            elif name in SEED_INPUTS and isinstance(value, int) and not isinstance(value, bool):
                seeds.append({"node": current, "class_type": prompt[current].get("class_type"), "input": name,
                              "value": value})
    return sorted(seeds, key=lambda s: (s["node"], s["input"]))


class FoleySelectBest(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleySelectBest", display_name="Foley Select Best", category=CATEGORY,
            description="Picks one audio of a batch: the best by the scores (lowest DeSync, then highest CLAP), or "
                        "the one chosen in the candidates view (a click on a strip; `choice` -1 = the best). The "
                        "view plays the video with the selected candidate's audio over a spectrogram per candidate. "
                        "A click also sets the seed of the sampler upstream back to the value these candidates "
                        "came from and its control to `fixed`, so that the next Run passes the clicked candidate on "
                        "without sampling again (the view says so; its button undoes it).",
            inputs=[
                io.Audio.Input("audio", tooltip="The scored batch of candidates."),
                FoleyScores.Input("scores", tooltip="The scores of that batch, from Foley Score."),
                io.Int.Input("choice", default=-1, min=-1, max=63, tooltip="-1: the best by the scores; else this "
                                                                          "candidate (set by clicking in the view)."),
                io.Video.Input("video", optional=True, tooltip="Shown in the candidates view."),
            ],
            outputs=[io.Audio.Output(display_name="audio"), io.Int.Output(display_name="index")],
            hidden=[io.Hidden.prompt, io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, audio, scores, choice=-1, video=None):
        waveform, rate = audio["waveform"], audio["sample_rate"]
        candidates = scores["candidates"]
        if len(candidates) != waveform.shape[0]:
            raise ValueError(f"{len(candidates)} scores for {waveform.shape[0]} audios: score this audio batch")
        if choice >= waveform.shape[0]:
            raise ValueError(f"choice {choice} but there are {waveform.shape[0]} candidates (0-{waveform.shape[0] - 1})")
        best = best_first(candidates)[0]["index"]
        index = best if choice < 0 else choice
        hidden = getattr(cls, "hidden", None)
        view = {"start_time": scores[START_TIME], "seconds": waveform.shape[-1] / rate, "best": best,
                "selected": index, "candidates": [],
                "seeds": upstream_seeds(hidden.prompt or {}, hidden.unique_id) if hidden is not None else []}
        for candidate, item in zip(candidates, waveform.float()):
            audio_name, audio_path = _temp_file(".flac")
            media.write_audio(audio_path, item, rate)
            image_name, image_path = _temp_file(".png")
            Image.fromarray(spectrogram_image(item, rate)).save(image_path)
            view["candidates"].append({**candidate, "audio": _preview(audio_name), "spectrogram": _preview(image_name)})
        if video is not None:
            view["video"] = _preview(_playable_copy(video))
        chosen = with_start_time({"waveform": waveform[index:index + 1], "sample_rate": rate}, audio)
        return io.NodeOutput(chosen, index, ui={"foley_candidates": [view]})


NODES = [FoleyLoadSyncScorer, FoleyScore, FoleySelectBest]
