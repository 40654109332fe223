"""Tests of the ComfyUI test harness itself, with core nodes only (the pack's workflow tests live elsewhere)."""
from fractions import Fraction

import pytest
from make_media import make_video, probe_media, read_audio

N_FRAMES, FPS, SECONDS = 12, 6.0, 2.0


def _video_prompt(prefix):
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 48, "batch_size": N_FRAMES, "color": 0x336699}},
        "2": {"class_type": "EmptyAudio", "inputs": {"duration": SECONDS, "sample_rate": 44100, "channels": 1}},
        "3": {"class_type": "CreateVideo", "inputs": {"images": ["1", 0], "fps": FPS, "audio": ["2", 0]}},
        "4": {"class_type": "SaveVideo", "inputs": {"video": ["3", 0], "filename_prefix": prefix, "format": "mp4",
                                                     "codec": "h264"}},
    }


class ProgressProbe:
    """Test-only V1 node: reports `steps` progress updates through comfy.utils.ProgressBar, like a sampler."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "steps": ("INT", {"default": 5, "min": 1, "max": 100})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, image, steps):
        import comfy.utils

        pbar = comfy.utils.ProgressBar(steps)
        for _ in range(steps):
            image = image + 0.0
            pbar.update(1)
        return (image,)


# --- in-process ----------------------------------------------------------------------------------------------

def test_inproc_video_workflow_writes_playable_mp4(comfy_inproc):
    result = comfy_inproc.run(_video_prompt("harness/inproc"))
    assert result["valid"] and result["success"], result["messages"]
    (path,) = comfy_inproc.output_files(result)
    info = probe_media(path)
    assert info["video"]["codec"] == "h264" and info["video"]["frames"] == N_FRAMES
    assert (info["video"]["width"], info["video"]["height"]) == (64, 48)
    assert info["video"]["fps"] == Fraction(FPS).limit_denominator(1000)
    assert info["audio"] is not None and info["audio"]["duration_s"] == pytest.approx(SECONDS, abs=0.05)


def test_inproc_loads_video_from_input_dir(comfy_inproc, comfy_input_dir):
    make_video(comfy_input_dir / "harness_clip.mp4", n_frames=12, fps=12)
    prompt = {
        "1": {"class_type": "LoadVideo", "inputs": {"file": "harness_clip.mp4"}},
        "2": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
        "3": {"class_type": "SaveAudio", "inputs": {"audio": ["2", 1], "filename_prefix": "harness/clip_audio"}},
    }
    result = comfy_inproc.run(prompt)
    assert result["success"], result["messages"]
    (path,) = comfy_inproc.output_files(result, kind="audio")
    audio, sr = read_audio(path)
    assert audio.shape[1] / sr == pytest.approx(1.0, abs=0.05)
    assert abs(audio).max() > 0.1  # the 440 Hz sine, not silence


def test_inproc_invalid_input_is_rejected(comfy_inproc):
    prompt = _video_prompt("harness/invalid")
    prompt["1"]["inputs"]["width"] = 0
    result = comfy_inproc.run(prompt)
    assert not result["valid"] and not result["success"]
    assert "1" in result["node_errors"]


def test_inproc_progress_and_interrupt(comfy_inproc, monkeypatch):
    monkeypatch.setitem(comfy_inproc.nodes.NODE_CLASS_MAPPINGS, "HarnessProgressProbe", ProgressProbe)
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
        "2": {"class_type": "HarnessProgressProbe", "inputs": {"image": ["1", 0], "steps": 5}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    done = comfy_inproc.run(prompt)
    assert done["success"], done["messages"]
    assert [(p["value"], p["max"], p["node"]) for p in done["progress"]] == [(i, 5, "2") for i in range(1, 6)]

    stopped = comfy_inproc.run_with_interrupt_after(prompt, 2)
    events = [ev for ev, _ in stopped["messages"]]
    assert not stopped["success"] and "execution_interrupted" in events and "execution_success" not in events
    assert [p["value"] for p in stopped["progress"]] == [1]

    assert comfy_inproc.run(prompt)["success"]  # the interrupt flag does not leak into the next run


def test_inproc_foley_model_folder_registered(comfy_inproc, foley_models_dir):
    (foley_models_dir / "foley" / "harness_dummy.safetensors").write_bytes(b"\0")
    assert str(foley_models_dir / "foley") in comfy_inproc.folder_paths.get_folder_paths("foley")
    assert "harness_dummy.safetensors" in comfy_inproc.folder_paths.get_filename_list("foley")


# --- server --------------------------------------------------------------------------------------------------

def test_server_api_answers(comfy_server, foley_models_dir):
    stats = comfy_server.get("/system_stats")
    assert stats["system"]["comfyui_version"] == "0.3.75"
    info = comfy_server.object_info()
    assert {"SaveVideo", "CreateVideo", "LoadVideo", "SaveAudio"} <= info.keys()
    assert "foley" in comfy_server.get("/models")
    (foley_models_dir / "foley" / "harness_server.safetensors").write_bytes(b"\0")
    assert "harness_server.safetensors" in comfy_server.get("/models/foley")


def test_server_rejects_invalid_prompt(comfy_server):
    prompt = _video_prompt("harness/server_invalid")
    prompt["2"]["inputs"]["channels"] = 7  # max is 2
    code, resp = comfy_server.queue(prompt)
    assert code == 400 and "2" in resp["node_errors"]


def test_server_runs_prompt(comfy_server):
    prompt = {
        "1": {"class_type": "EmptyAudio", "inputs": {"duration": 0.5, "sample_rate": 16000, "channels": 1}},
        "2": {"class_type": "SaveAudio", "inputs": {"audio": ["1", 0], "filename_prefix": "harness/server"}},
    }
    result = comfy_server.run(prompt, timeout=60)
    assert result["success"], result
    (path,) = comfy_server.output_files(result, kind="audio")
    audio, sr = read_audio(path)
    assert sr == 16000 and audio.shape == (1, 8000)
