"""Scores in ComfyUI: the fixture clip through FoleyScore, ranking, a clip too short, silence, batches."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from fixture_utils import FIXTURES
from graph import node, pack_module
from foley_models.loading import load_sync_scorer
from foley_models.ranking import best_first

SCORE_SET = FIXTURES / "syncscore_tiny"


@pytest.fixture(scope="module")
def fixture_clip():
    data = load_file(SCORE_SET / "input.safetensors")
    frames = data["frames_lowres_u8"].repeat_interleave(8, dim=1).repeat_interleave(8, dim=2)  # [200, 224, 224, 3]
    audio = data["waveform_i16"].float() / 32768
    return frames.float() / 255, audio


@pytest.fixture(scope="module")
def fixture_scorer(comfyui):
    encoder_patcher = pack_module(comfyui, "nodes.comfy_model").encoder_patcher
    spec = json.loads((SCORE_SET / "fixture.json").read_text())["tiny_spec"]
    sync = load_sync_scorer(SCORE_SET / "synchformer_state_dict.pth", visual_heads=spec["vit"]["NUM_HEADS"],
                            audio_heads=spec["ast"]["num_attention_heads"],
                            sync_heads=spec["global_transformer"]["n_head"])
    (loaded,) = node(comfyui, "FoleyLoadSyncScorer", synchformer="synchformer_state_dict.pth",
                     clap="larger_clap_general")
    return {"sync": encoder_patcher(sync), "clap": loaded["clap"]}


def test_the_fixture_clip_scored_through_foley_score_gives_the_fixtures_desync(comfyui, fixture_scorer, fixture_clip):
    images, audio = fixture_clip
    expected = load_file(SCORE_SET / "output.safetensors")
    batch = {"waveform": audio[None, None], "sample_rate": 48000}
    scores, table = node(comfyui, "FoleyScore", scorer=fixture_scorer, audio=batch, prompt="", images=images, fps=25.0)
    (candidate,) = scores["candidates"]
    assert candidate["desync"] == pytest.approx(float(expected["desync"]), abs=1e-7)
    assert candidate["offsets"] == pytest.approx(expected["pred_offset_s"].tolist(), abs=1e-7)
    assert candidate["clap"] is None and "0.30" in table


def test_a_batch_is_scored_per_candidate_and_the_best_is_picked(comfyui, fixture_scorer, fixture_clip):
    images, audio = fixture_clip
    expected = load_file(SCORE_SET / "output.safetensors")
    # the clip itself, whose scores the fixture holds, and the clip at a tenth of its level, which the tiny
    # random classifier hears differently: each item must get the score it gets alone
    batch = {"waveform": torch.stack([audio * 0.1, audio])[:, None], "sample_rate": 48000, "start_time": 0.0}
    scores, _ = node(comfyui, "FoleyScore", scorer=fixture_scorer, audio=batch, prompt="a chirp", images=images,
                     fps=25.0)
    quiet, clip = scores["candidates"]
    assert clip["desync"] == pytest.approx(float(expected["desync"]), abs=1e-7)
    assert clip["offsets"] == pytest.approx(expected["pred_offset_s"].tolist(), abs=1e-7)
    quiet_alone, _ = node(comfyui, "FoleyScore", scorer=fixture_scorer, prompt="a chirp", images=images, fps=25.0,
                          audio={**batch, "waveform": batch["waveform"][:1]})
    (alone,) = quiet_alone["candidates"]
    assert quiet["desync"] == pytest.approx(alone["desync"], abs=1e-7) and quiet["offsets"] == alone["offsets"]
    assert quiet["clap"] == pytest.approx(alone["clap"], abs=1e-6)
    assert quiet["desync"] > clip["desync"]  # the two differ, so a batch scored as one item would fail here
    assert all(-1 <= c["clap"] <= 1 for c in (quiet, clip))
    audio_out, index = node(comfyui, "FoleySelectBest", audio=batch, scores=scores, choice=-1)
    assert index == 1 and torch.equal(audio_out["waveform"][0], batch["waveform"][1])  # the lower DeSync
    audio_out, index = node(comfyui, "FoleySelectBest", audio=batch, scores=scores, choice=0)
    assert index == 0 and torch.equal(audio_out["waveform"][0], batch["waveform"][0])  # the one clicked


def test_ties_in_desync_are_broken_by_clap():
    candidates = [{"index": 0, "desync": 0.2, "clap": 0.1}, {"index": 1, "desync": 0.2, "clap": 0.4},
                  {"index": 2, "desync": 0.6, "clap": 0.9}, {"index": 3, "desync": 0.0, "clap": None}]
    assert [c["index"] for c in best_first(candidates)] == [3, 1, 0, 2]


def test_a_clip_shorter_than_4_8_s_cannot_be_scored(comfyui, fixture_scorer, fixture_clip):
    images, audio = fixture_clip
    with pytest.raises(ValueError, match="at least 4.8 s"):
        node(comfyui, "FoleyScore", scorer=fixture_scorer, audio={"waveform": audio[None, None, :4 * 48000],
                                                                  "sample_rate": 48000}, prompt="", images=images,
             fps=25.0)


def test_a_silent_candidate_gets_a_finite_score(comfyui, fixture_scorer, fixture_clip):
    images, audio = fixture_clip
    batch = {"waveform": torch.zeros(1, 1, audio.shape[0]), "sample_rate": 48000}
    scores, _ = node(comfyui, "FoleyScore", scorer=fixture_scorer, audio=batch, prompt="rain", images=images, fps=25.0)
    (candidate,) = scores["candidates"]
    assert np.isfinite(candidate["desync"]) and np.isfinite(candidate["clap"])


def test_select_best_shows_every_candidate_in_the_view(comfyui, fixture_scorer, fixture_clip, comfy_input_dir):
    from comfy_api.latest import InputImpl
    from make_media import make_video

    images, audio = fixture_clip
    batch = {"waveform": torch.stack([audio, audio * 0.5, torch.roll(audio, 9000)])[:, None], "sample_rate": 48000}
    scores, _ = node(comfyui, "FoleyScore", scorer=fixture_scorer, audio=batch, prompt="", images=images, fps=25.0)
    video = InputImpl.VideoFromFile(str(make_video(comfy_input_dir / "view_8s.mp4", n_frames=200, fps=25,
                                                   width=64, height=48, with_audio=False)))
    result = comfyui.nodes.NODE_CLASS_MAPPINGS["FoleySelectBest"].execute(audio=batch, scores=scores, choice=-1,
                                                                          video=video)
    (view,) = result.ui["foley_candidates"]
    assert len(view["candidates"]) == 3 and view["selected"] == view["best"] == result.result[1]
    temp = comfyui.folder_paths.get_temp_directory()
    heads = {"audio": b"fLaC", "spectrogram": b"\x89PNG"}
    for candidate in view["candidates"]:
        for key, magic in heads.items():
            with open(f"{temp}/{candidate[key]['filename']}", "rb") as f:
                assert f.read(4) == magic
    assert view["video"]["type"] == "temp"
