"""Checkpoint reading: both official formats, storage dtypes, and every kind of bad file."""
import json
import logging

import pytest
import torch
from safetensors.torch import load_file, save_file

from fixture_utils import FIXTURES, assert_close, fixture_json, rel_l2_cosine, tensors
from foley_models import (CheckpointError, build_dac_vae, build_mmdit, build_synchformer, identify_checkpoint,
                          load_dac_vae, load_mmdit, load_synchformer, read_checkpoint)

MMDIT = FIXTURES / "mmdit_tiny"
DAC = FIXTURES / "dac_vae_tiny"
SYNC = FIXTURES / "synchformer_tiny"
FWD_IN = tensors("mmdit_tiny", "forward_inputs.safetensors")
FWD_OUT = tensors("mmdit_tiny", "forward_outputs.safetensors")


def _velocity(model, case="b1_odd"):
    i = {k.split(".", 1)[1]: v for k, v in FWD_IN.items() if k.startswith(case)}
    return model(i["x"], i["t"], i["cond"], i["clip_feat"], i["sync_feat"]).float()


def _manifest(name):
    return {k: tuple(shape) for k, shape, _ in json.loads((FIXTURES / "manifests" / f"{name}.json").read_text())}


@pytest.mark.parametrize("ext", ["pth", "safetensors"])
def test_mmdit_loads_from_both_official_formats(ext):
    model = load_mmdit(MMDIT / f"hunyuanvideo_foley.{ext}")
    assert next(model.parameters()).dtype == torch.float32
    tol = fixture_json("mmdit_tiny")["tolerances"]["b1_odd.velocity_cond"]
    assert_close(_velocity(model), FWD_OUT["b1_odd.velocity_cond"], tol)


@pytest.mark.parametrize("ext", ["pth", "safetensors"])
def test_dac_and_synchformer_load_from_both_official_formats(ext):
    vae = load_dac_vae(DAC / f"vae_128d_48k.{ext}")
    io = tensors("dac_vae_tiny", "io.safetensors")
    assert_close(vae.decode(io["decode_input_latent"]), io["decoded_audio"],
                 fixture_json("dac_vae_tiny")["tolerances"]["decoded_audio"])
    sync = load_synchformer(SYNC / f"synchformer_state_dict.{ext}", num_heads=2)
    frames = tensors("synchformer_tiny", "input_frames_u8.safetensors")["frames_u8"]
    assert_close(sync.encode_frames(frames), tensors("synchformer_tiny", "output.safetensors")["sync_feat"],
                 fixture_json("synchformer_tiny")["tolerances"]["sync_feat"])


@pytest.mark.parametrize("storage, expected_dtype, min_cosine", [
    (torch.bfloat16, torch.bfloat16, 0.999),
    (torch.float16, torch.bfloat16, 0.999),  # fp16 only when asked for (README, Precision), as in the nodes
    (torch.float8_e4m3fn, torch.bfloat16, 0.98),
    (torch.float8_e5m2, torch.bfloat16, 0.95),
])
def test_mmdit_storage_dtypes(tmp_path, storage, expected_dtype, min_cosine):
    sd = {k: v.to(storage) for k, v in load_file(str(MMDIT / "hunyuanvideo_foley.safetensors")).items()}
    path = tmp_path / "repack.safetensors"
    save_file(sd, str(path))
    model = load_mmdit(path)
    assert next(model.parameters()).dtype == expected_dtype
    _, cos = rel_l2_cosine(_velocity(model), FWD_OUT["b1_odd.velocity_cond"])
    assert cos >= min_cosine
    upcast = load_mmdit(path, dtype=torch.float32)
    assert next(upcast.parameters()).dtype == torch.float32
    if storage == torch.float16:
        assert next(load_mmdit(path, dtype=torch.float16).parameters()).dtype == torch.float16  # asked for


def test_truncated_files_are_reported_as_corrupt(tmp_path):
    for src in (MMDIT / "hunyuanvideo_foley.pth", MMDIT / "hunyuanvideo_foley.safetensors"):
        data = src.read_bytes()
        cut = tmp_path / src.name
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(CheckpointError, match="truncated or corrupt") as e:
            load_mmdit(cut)
        assert str(cut) in str(e.value)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here.pth"):
        load_mmdit(tmp_path / "nothing_here.pth")


class _Payload:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_is_refused_not_executed(tmp_path):
    marker = tmp_path / "executed"
    sd = dict(load_file(str(MMDIT / "hunyuanvideo_foley.safetensors")))
    sd["payload"] = _Payload(str(marker))
    path = tmp_path / "evil.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_mmdit(path)
    assert not marker.exists()


@pytest.mark.parametrize("writer", ["pickle.dump", "legacy torch.save"])
def test_pickled_code_outside_a_zip_archive_is_refused_naming_the_file(tmp_path, writer):
    import pickle

    marker = tmp_path / "executed"
    path = tmp_path / "old_format.pth"
    payload = {"weight": _Payload(str(marker))}
    if writer == "pickle.dump":
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError) as e:
        read_checkpoint(path)
    assert str(path) in str(e.value) and "Nothing was executed" in str(e.value)
    assert "weights_only" not in str(e.value)  # torch's own text suggests turning the protection off
    assert not marker.exists()


def test_a_legacy_torch_save_of_tensors_still_loads(tmp_path):
    path = tmp_path / "legacy.pth"
    torch.save({"w": torch.arange(3.0)}, path, _use_new_zipfile_serialization=False)
    state_dict, _ = read_checkpoint(path)
    assert torch.equal(state_dict["w"], torch.arange(3.0))


@pytest.mark.parametrize("content, reason", [(b"", "empty"), (b"not a checkpoint at all", "not a PyTorch checkpoint")])
def test_an_empty_or_garbage_pth_names_the_file_and_the_reason(tmp_path, content, reason):
    path = tmp_path / "hunyuanvideo_foley.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=reason) as e:
        read_checkpoint(path)
    assert str(path) in str(e.value)


def test_wrong_model_file_says_what_it_is():
    with pytest.raises(CheckpointError, match="DAC VAE"):
        load_mmdit(DAC / "vae_128d_48k.pth")
    with pytest.raises(CheckpointError, match="MMDiT"):
        load_dac_vae(MMDIT / "hunyuanvideo_foley.safetensors")
    with pytest.raises(CheckpointError, match="Synchformer"):
        load_mmdit(SYNC / "synchformer_state_dict.safetensors")


def test_missing_and_misshaped_tensors_are_named(tmp_path):
    sd = load_file(str(MMDIT / "hunyuanvideo_foley.safetensors"))
    del sd["single_blocks.1.linear2.w2.weight"]
    sd["cond_in.linear_1.bias"] = torch.zeros(3)
    path = tmp_path / "broken.safetensors"
    save_file(sd, str(path))
    with pytest.raises(CheckpointError) as e:
        load_mmdit(path)
    assert "missing single_blocks.1.linear2.w2.weight" in str(e.value)
    assert "cond_in.linear_1.bias" in str(e.value)


def test_unused_keys_are_dropped_with_one_log_line(tmp_path, caplog):
    sd = load_file(str(MMDIT / "hunyuanvideo_foley.safetensors"))
    sd["repa_projector.0.weight"] = torch.zeros(4, 4)
    sd = {"model.diffusion_model." + k: v for k, v in sd.items()}  # a repack with a key prefix
    path = tmp_path / "extra.safetensors"
    save_file(sd, str(path))
    with caplog.at_level(logging.INFO, logger="foley_models.loading"):
        model = load_mmdit(path)
    ignored = [r for r in caplog.records if "ignored" in r.getMessage()]
    assert len(ignored) == 1 and "repa_projector" in ignored[0].getMessage()
    assert "repa_projector.0.weight" not in model.state_dict()


def test_synchformer_audio_branch_is_skipped(caplog):
    with caplog.at_level(logging.INFO, logger="foley_models.loading"):
        model = load_synchformer(SYNC / "synchformer_state_dict.pth", num_heads=2)
    ignored = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    n_file = len(read_checkpoint(SYNC / "synchformer_state_dict.pth")[0])
    assert len(ignored) == 1 and f"ignored {n_file - len(model.state_dict())} tensors" in ignored[0]
    assert all(k.startswith("vfeat_extractor.") for k in model.state_dict())


def test_dac_config_comes_from_metadata_or_shapes(tmp_path):
    sd, meta = read_checkpoint(DAC / "vae_128d_48k.pth")
    assert meta["kwargs"]["decoder_dim"] == 64
    _, st_meta = read_checkpoint(DAC / "vae_128d_48k.safetensors")
    assert json.loads(st_meta["dac_kwargs"])["decoder_dim"] == 64
    bare = tmp_path / "no_metadata.safetensors"
    save_file(sd, str(bare))
    from_shapes = load_dac_vae(bare)
    assert from_shapes.config["decoder_dim"] == 64 and from_shapes.config["encoder_dim"] == 2
    assert list(from_shapes.config["decoder_rates"]) == [8, 5, 4, 3, 2]


def test_identify_checkpoint():
    assert identify_checkpoint(read_checkpoint(MMDIT / "hunyuanvideo_foley.pth")[0]) == "mmdit"
    assert identify_checkpoint(read_checkpoint(DAC / "vae_128d_48k.pth")[0]) == "dac_vae"
    assert identify_checkpoint(read_checkpoint(SYNC / "synchformer_state_dict.pth")[0]) == "synchformer"
    assert identify_checkpoint({"foo.weight": torch.zeros(1)}) == "unknown"


@pytest.mark.parametrize("name, build", [
    ("mmdit_xxl", lambda: build_mmdit("xxl")),
    ("mmdit_xl", lambda: build_mmdit("xl")),
    ("dac_vae", build_dac_vae),
])
def test_real_size_builds_match_official_manifests(name, build):
    model = build()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == _manifest(name)


def test_real_size_synchformer_matches_the_visual_part_of_the_manifest():
    manifest = {k: v for k, v in _manifest("synchformer").items() if k.startswith("vfeat_extractor.")}
    assert len(manifest) == 238
    assert {k: tuple(v.shape) for k, v in build_synchformer().state_dict().items()} == manifest


@pytest.mark.parametrize("stored", [torch.float16, torch.float8_e4m3fn])
def test_16_and_8_bit_files_compute_in_bf16_where_native_and_in_fp32_where_not(monkeypatch, stored):
    """The engine's rule (README, Precision): never fp16 by default; bf16 on devices that compute it natively, fp32
    on the others (CUDA before Ampere)."""
    from foley_models.loading import default_dtype

    state_dict = {"w": torch.zeros(2, dtype=stored)}
    assert default_dtype(state_dict, "mmdit", "cpu") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert default_dtype(state_dict, "mmdit", "cuda") == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert default_dtype(state_dict, "mmdit", "cuda") == torch.bfloat16
    assert default_dtype({"w": torch.zeros(2)}, "mmdit", "cuda") == torch.float32  # fp32 files as they are
