"""Core Trim Video (node id "Video Slice", ComfyUI 0.14 and later) is honoured by every node that reads a VIDEO:
the encoders, the mux, the scores and the candidates view read the trim, with their own start_time/duration
inside it. ComfyUIs without it (0.3.x) get a VIDEO that carries a trim window as 0.33's does, so the same
tests run there; a VIDEO without the window (the older API) still reads its whole file."""
import gc
import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from graph import node
from make_media import frame_number, probe_media, read_audio, write_video
from foley_models import media

CLIP = "numbered_25fps_8s.mp4"  # 200 frames at 25 fps, each showing its index (index_frame)
CORE_TRIM = "Video Slice"
EMULATED_TRIM = "TestTrimVideo"  # registered in-process where the ComfyUI under test has no core Trim Video
FPS = 25


@pytest.fixture(scope="module")
def clip(comfyui, comfy_input_dir):
    return write_video(comfy_input_dir / CLIP, n_frames=200, fps=FPS, gop=25)


def _trimmed_video_class():
    from comfy_api.latest import InputImpl

    class TrimmedVideoFromFile(InputImpl.VideoFromFile):
        """A file VIDEO with ComfyUI 0.33's trim window: the whole file, and (start, duration) to show."""

        def __init__(self, file, start_time=0.0, duration=0.0):
            super().__init__(file)
            self.trim = (start_time, duration)

        def get_active_trim_window(self):
            start, duration = self.trim
            if start < 0:  # from the end, as 0.33 counts it
                start = max(super().get_duration() + start, 0.0)
            return float(start), float(duration)

        def get_duration(self):  # the trimmed length, as 0.33 reports it
            raw, (start, duration) = super().get_duration(), self.trim
            left = min(raw, -start) if start < 0 else raw - start
            return min(duration, left) if duration else left

    return TrimmedVideoFromFile


@pytest.fixture(scope="module")
def trim_node(comfyui):
    """The node id that trims a VIDEO: core Trim Video, or where there is none a stand-in giving 0.33's VIDEO."""
    mappings = comfyui.nodes.NODE_CLASS_MAPPINGS
    if CORE_TRIM in mappings:
        yield CORE_TRIM
        return
    from comfy_api.latest import io

    trimmed_video = _trimmed_video_class()

    class TestTrimVideo(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id=EMULATED_TRIM, category="video",
                             inputs=[io.Video.Input("video"), io.Float.Input("start_time", min=-1e5, max=1e5),
                                     io.Float.Input("duration", min=0.0), io.Boolean.Input("strict_duration")],
                             outputs=[io.Video.Output()])

        @classmethod
        def execute(cls, video, start_time, duration, strict_duration):
            return io.NodeOutput(trimmed_video(video.get_stream_source(), start_time=start_time, duration=duration))

    mappings[EMULATED_TRIM] = TestTrimVideo
    yield EMULATED_TRIM
    del mappings[EMULATED_TRIM]


def trimmed(comfyui, trim_node, path, start, duration):
    from comfy_api.latest import InputImpl

    (video,) = node(comfyui, trim_node, video=InputImpl.VideoFromFile(str(path)), start_time=start,
                    duration=duration, strict_duration=False)
    return video


def decoded_frames(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def rms(x):
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def trim_graph(trim_node, start=2.0, duration=3.0, encode_start=0.0, encode_duration=0.0, video_range="whole video"):
    """LoadVideo -> Trim Video -> both encoders -> conditioning -> sampler -> decode -> mux -> SaveVideo."""
    graph = json.loads((Path(__file__).resolve().parent / "workflows" / "video_to_foley_api.json").read_text())
    graph["1"]["inputs"]["file"] = CLIP
    graph["20"] = {"class_type": trim_node, "inputs": {"video": ["1", 0], "start_time": start, "duration": duration,
                                                       "strict_duration": False}}
    for node_id in ("8", "9", "13"):
        graph[node_id]["inputs"]["video"] = ["20", 0]
    for node_id in ("8", "9"):
        graph[node_id]["inputs"].update(start_time=encode_start, duration=encode_duration)
    graph["7"]["inputs"]["prompt"] = "a door slams"
    graph["11"]["inputs"].update(steps=2, seed=3)
    graph["13"]["inputs"]["video_range"] = video_range
    return graph


def _saved(comfyui, graph):
    result = comfyui.run(graph)
    assert result["success"], result["messages"]
    (saved,) = comfyui.output_files(result)
    return saved


def _audio_seconds(start, end):
    """Seconds of audio the official rule makes for the video seconds [start, end] of the 25 fps clip."""
    times = [i / FPS - start for i in range(200) if start - 1e-9 <= i / FPS <= end + 1e-9]
    return media.latent_length(len(media.frame_indices(times, 25))) * 960 / 48000


def test_a_trimmed_video_comes_out_as_its_trim_with_its_sound(comfyui, clip, trim_node):
    """8 s clip, trimmed to 2 s + 3 s: the saved video is those 3 s from source frame 50, with 3 s of sound."""
    saved = _saved(comfyui, trim_graph(trim_node))
    frames = decoded_frames(saved)
    assert abs(len(frames) - 3 * FPS) <= 1, len(frames)
    assert frame_number(frames[0]) == 50 and frame_number(frames[-1]) in (123, 124, 125)
    info = probe_media(saved)
    assert info["audio"]["duration_s"] == pytest.approx(_audio_seconds(2.0, 5.0), abs=0.03)
    assert info["audio"]["duration_s"] == pytest.approx(3.0, abs=1 / FPS + 0.03)
    wave, rate = read_audio(saved)
    assert rms(wave[:, : int(0.5 * rate)]) > 1e-3  # the sound starts with the trim, not 2 s later


def test_the_sound_of_a_window_inside_a_trim_plays_at_its_time(comfyui, clip, trim_node):
    """Encoders at 1 s + 1 s inside a trim from 2 s: whole (trimmed) video from frame 50, sound from 1 s of it."""
    saved = _saved(comfyui, trim_graph(trim_node, encode_start=1.0, encode_duration=1.0))
    frames = decoded_frames(saved)
    assert abs(len(frames) - 3 * FPS) <= 1 and frame_number(frames[0]) == 50
    wave, rate = read_audio(saved)
    mono = wave.mean(axis=0)
    assert rms(mono[: int(0.95 * rate)]) < 1e-4  # silence until the window, counted from the trim start
    assert rms(mono[int(1.05 * rate): int(1.9 * rate)]) > 1e-3


def test_audio_window_only_cuts_inside_the_trim(comfyui, clip, trim_node):
    """Encoders at 1 s + 1 s inside a trim from 2 s, video cut to the audio: source frames 75.. for 1 s."""
    saved = _saved(comfyui, trim_graph(trim_node, encode_start=1.0, encode_duration=1.0,
                                       video_range="audio window only"))
    frames = decoded_frames(saved)
    assert frame_number(frames[0]) == 75
    seconds = _audio_seconds(3.0, 4.0)
    assert abs(len(frames) - round(seconds * FPS)) <= 1
    assert frame_number(frames[-1]) == 75 + len(frames) - 1  # every frame, in order
    wave, rate = read_audio(saved)
    assert rms(wave[:, : int(0.5 * rate)]) > 1e-3


@pytest.mark.parametrize("encode_start, encode_duration, file_start, file_duration", [
    (0.0, 0.0, 2.0, 3.0),  # the whole trim
    (1.0, 0.0, 3.0, 2.0),  # from 1 s of the trim to its end
    (1.0, 10.0, 3.0, 2.0),  # a duration past the trim's end is cut to it
    (0.5, 1.0, 2.5, 1.0),  # a window inside the trim
])
def test_encoders_read_the_trim_with_their_own_window_inside_it(comfyui, clip, trim_node, encode_start,
                                                                encode_duration, file_start, file_duration):
    from comfy_api.latest import InputImpl

    video = trimmed(comfyui, trim_node, clip, 2.0, 3.0)
    whole = InputImpl.VideoFromFile(str(clip))
    (synchformer,) = node(comfyui, "FoleySynchformerLoader", file="synchformer_state_dict.pth")
    (siglip2,) = node(comfyui, "FoleySigLIP2Loader", folder="siglip2-base-patch16-512")
    for loader, node_id, key in ((synchformer, "FoleySyncEncode", "synchformer"),
                                 (siglip2, "FoleyVisualEncode", "siglip2")):
        (got,) = node(comfyui, node_id, **{key: loader}, video=video, start_time=encode_start,
                      duration=encode_duration)
        (want,) = node(comfyui, node_id, **{key: loader}, video=whole, start_time=file_start,
                       duration=file_duration)
        (from_zero,) = node(comfyui, node_id, **{key: loader}, video=whole, start_time=encode_start,
                            duration=file_duration)
        assert got["frames_25"] == want["frames_25"], node_id
        torch.testing.assert_close(got["features"], want["features"], rtol=0, atol=0)
        assert not torch.equal(from_zero["features"], want["features"])  # the windows are told apart
        assert got["start_time"] == encode_start  # counted in the trimmed video, where the mux places it


def test_a_start_past_the_trims_end_names_both(comfyui, clip, trim_node):
    (synchformer,) = node(comfyui, "FoleySynchformerLoader", file="synchformer_state_dict.pth")
    video = trimmed(comfyui, trim_node, clip, 2.0, 3.0)
    with pytest.raises(ValueError, match=r"start_time 4 s .*trimmed video, which is 3 s long"):
        node(comfyui, "FoleySyncEncode", synchformer=synchformer, video=video, start_time=4.0)


class _RecordingSync(torch.nn.Module):
    """Stands in for the sync scorer: keeps the frames FoleyScore gives it."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.frames = []

    def desync(self, frames_u8, waveform, sample_rate, visual_cache=None):
        self.frames.append(frames_u8.clone())
        return {"desync": torch.tensor(0.0), "offsets": torch.zeros(3)}


def test_scoring_reads_the_trim(comfyui, clip, trim_node):
    from comfy_api.latest import InputImpl

    from graph import pack_module

    recording = _RecordingSync()
    scorer = {"sync": pack_module(comfyui, "nodes.comfy_model").encoder_patcher(recording), "clap": None}

    def frames_scored(video, audio_start):
        audio = {"waveform": torch.zeros(1, 1, 5 * 48000), "sample_rate": 48000, "start_time": audio_start}
        node(comfyui, "FoleyScore", scorer=scorer, audio=audio, prompt="", video=video)
        return recording.frames.pop()

    whole = InputImpl.VideoFromFile(str(clip))
    got = frames_scored(trimmed(comfyui, trim_node, clip, 2.0, 5.0), 0.0)
    want = frames_scored(whole, 2.0)
    assert got.shape[0] == 5 * FPS
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert not torch.equal(frames_scored(whole, 0.0), want)


def test_the_candidates_view_plays_the_trim(comfyui, clip, trim_node):
    audio = {"waveform": torch.zeros(1, 1, 48000), "sample_rate": 48000, "start_time": 0.0}
    scores = {"candidates": [{"index": 0, "desync": 0.1, "offset": 0.0, "offsets": [0.0], "clap": None}],
              "start_time": 0.0}
    result = comfyui.nodes.NODE_CLASS_MAPPINGS["FoleySelectBest"].execute(
        audio=audio, scores=scores, choice=-1, video=trimmed(comfyui, trim_node, clip, 2.0, 3.0))
    preview = result.ui["foley_candidates"][0]["video"]
    frames = decoded_frames(Path(comfyui.folder_paths.get_temp_directory()) / preview["filename"])
    assert abs(len(frames) - 3 * FPS) <= 1 and frame_number(frames[0]) == 50


def _without_trim_window():
    from comfy_api.latest import InputImpl

    class VideoWithoutTrimWindow(InputImpl.VideoFromFile):
        """A file VIDEO of a ComfyUI from before the trim window (0.3.x): no get_active_trim_window."""

        def __getattribute__(self, name):
            if name == "get_active_trim_window":
                raise AttributeError(name)
            return super().__getattribute__(name)

    return VideoWithoutTrimWindow


def test_a_video_without_a_trim_window_is_read_whole(comfyui, clip):
    from comfy_api.latest import InputImpl

    old_style = _without_trim_window()(str(clip))
    assert not hasattr(old_style, "get_active_trim_window")
    (synchformer,) = node(comfyui, "FoleySynchformerLoader", file="synchformer_state_dict.pth")
    (got,) = node(comfyui, "FoleySyncEncode", synchformer=synchformer, video=old_style, start_time=2.0, duration=3.0)
    (want,) = node(comfyui, "FoleySyncEncode", synchformer=synchformer, video=InputImpl.VideoFromFile(str(clip)),
                   start_time=2.0, duration=3.0)
    torch.testing.assert_close(got["features"], want["features"], rtol=0, atol=0)
    audio = {"waveform": torch.full((1, 1, 48000), 0.1), "sample_rate": 48000, "start_time": 2.0}
    (muxed,) = node(comfyui, "FoleyMuxVideo", video=old_style, audio=audio, batch_index=0, audio_codec="flac",
                    video_range="whole video")
    frames, source = decoded_frames(muxed.get_stream_source()), decoded_frames(clip)
    assert len(frames) == 200 and all(np.array_equal(a, b) for a, b in zip(frames, source))  # copied as it is
    wave, rate = read_audio(muxed.get_stream_source())
    assert rms(wave[:, : int(1.95 * rate)]) < 1e-4 and rms(wave[:, int(2.05 * rate): int(2.95 * rate)]) > 0.05


def _mux_files(comfyui):
    return sorted(Path(comfyui.folder_paths.get_temp_directory()).glob("foley_mux_*"))


def test_a_muxed_video_lives_as_long_as_its_video(comfyui, clip):
    """The mux writes a file per run: it goes when nothing holds its VIDEO any more, not at the next restart."""
    from comfy_api.latest import InputImpl

    before = set(_mux_files(comfyui))
    audio = {"waveform": torch.full((1, 1, 48000), 0.1), "sample_rate": 48000}
    (muxed,) = node(comfyui, "FoleyMuxVideo", video=InputImpl.VideoFromFile(str(clip)), audio=audio, batch_index=0,
                    audio_codec="aac", video_range="whole video")
    path = muxed.get_stream_source()
    assert os.path.isfile(path) and probe_media(path)["audio"]["channels"] == 2
    del muxed
    gc.collect()
    assert not os.path.exists(path)
    assert set(_mux_files(comfyui)) <= before, (before, _mux_files(comfyui), path)


def test_reruns_do_not_fill_the_temp_folder(comfyui, clip, trim_node):
    graph = trim_graph(trim_node)
    counts = []
    for seed in (1, 2, 3):
        graph["11"]["inputs"]["seed"] = seed
        _saved(comfyui, graph)
        gc.collect()
        counts.append(len(_mux_files(comfyui)))
    assert counts[-1] <= counts[0] <= 1, counts  # at most the one the cache still holds
