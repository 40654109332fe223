"""CLAP text features against the text_clap_tiny fixture; SigLIP2 vision tower from a full-model folder."""
import shutil

import numpy as np
import pytest
import torch

from fixture_utils import FIXTURES, assert_close, fixture_json, tensors
from foley_models import load_clap, load_siglip2
from foley_models.clap import ClapTextEncoder
from foley_models.siglip2 import resize_frame

CLAP_DIR = FIXTURES / "text_clap_tiny" / "clap_text_tiny"
IO = tensors("text_clap_tiny", "io.safetensors")
TOL = fixture_json("text_clap_tiny")["tolerances"]


@pytest.fixture(scope="module")
def clap():
    from transformers import ClapTextModelWithProjection

    return ClapTextEncoder(ClapTextModelWithProjection.from_pretrained(str(CLAP_DIR), local_files_only=True).eval())


@pytest.mark.parametrize("case", ["short", "long"])
def test_clap_features_match_official(clap, case):
    cond, uncond = clap.encode_ids(IO[f"{case}.input_ids"], IO[f"{case}.attention_mask"])
    assert_close(cond, IO[f"{case}.text_feat"], TOL[f"{case}.text_feat"])
    assert_close(uncond, IO[f"{case}.uncond_text_feat"], TOL[f"{case}.text_feat"])
    assert cond.shape[1] == min(77, IO[f"{case}.input_ids"].shape[1])


def test_clap_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="laion/larger_clap_general"):
        load_clap(tmp_path / "missing")
    no_tokenizer = tmp_path / "clap"
    shutil.copytree(CLAP_DIR, no_tokenizer)
    with pytest.raises(FileNotFoundError, match="tokenizer"):
        load_clap(no_tokenizer)
    (no_tokenizer / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no weights"):
        load_clap(no_tokenizer)


@pytest.fixture(scope="module")
def clap_with_tokenizer(tmp_path_factory):
    from tiny_models import _byte_level_tokenizer

    folder = tmp_path_factory.mktemp("clap") / "larger_clap_general"
    shutil.copytree(CLAP_DIR, folder)
    _byte_level_tokenizer(folder)
    return folder


def test_a_clap_folder_with_only_a_tokenizer_config_is_refused(clap_with_tokenizer, tmp_path):
    folder = tmp_path / "larger_clap_general"
    shutil.copytree(clap_with_tokenizer, folder)
    for name in ("vocab.json", "merges.txt", "tokenizer.json"):
        (folder / name).unlink()
    assert (folder / "tokenizer_config.json").is_file()  # what transformers builds an empty tokenizer from
    with pytest.raises(FileNotFoundError, match="no tokenizer files") as e:
        load_clap(folder)
    assert str(folder) in str(e.value)


def test_a_prompt_longer_than_clap_reads_is_cut_with_a_warning(clap_with_tokenizer, caplog):
    encoder = load_clap(clap_with_tokenizer)
    limit = encoder.max_positions()
    assert limit == 128  # the tiny config's 130 positions, less RoBERTa's padding offset
    long_prompt = "footsteps on gravel, " * 500  # 10,500 characters: one token per byte here
    with caplog.at_level("WARNING"):
        cond, uncond = encoder.encode(long_prompt)
    assert cond.shape[:2] == (1, 77) and torch.isfinite(cond).all()
    assert f"CLAP reads at most {limit}" in caplog.text
    # what CLAP's tokenizer does with truncation: the first tokens, the end token last
    ids = encoder.tokenizer([long_prompt], truncation=True, max_length=limit, return_tensors="pt")
    expected, _ = encoder.encode_ids(torch.cat([ids["input_ids"]] * 2), torch.cat([ids["attention_mask"]] * 2))
    torch.testing.assert_close(cond, expected, rtol=0, atol=0)


def test_a_short_prompt_is_encoded_exactly_as_without_the_limit(clap_with_tokenizer, caplog):
    encoder = load_clap(clap_with_tokenizer)
    tokens = encoder.tokenizer(["noisy, harsh", "a door slams"], padding=True, return_tensors="pt")
    expected = encoder.encode_ids(tokens["input_ids"], tokens["attention_mask"])
    with caplog.at_level("WARNING"):
        got = encoder.encode("a door slams", "noisy, harsh")
    assert caplog.text == ""
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.fixture(scope="module")
def siglip_folder(tmp_path_factory):
    from transformers import SiglipConfig, SiglipModel

    torch.manual_seed(11)
    config = SiglipConfig(
        text_config=dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         vocab_size=99, bos_token_id=None, eos_token_id=None),
        vision_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                           image_size=64, patch_size=16))
    folder = tmp_path_factory.mktemp("siglip2")
    model = SiglipModel(config).eval()
    model.save_pretrained(folder)
    return folder, model


def test_siglip2_uses_the_vision_tower_of_a_full_model_folder(siglip_folder):
    folder, full = siglip_folder
    encoder = load_siglip2(folder)
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (5, 48, 80, 3), dtype=np.uint8)
    feats = encoder.encode_frames(frames, batch_size=2)
    assert feats.shape == (1, 5, 32)
    expected = full.get_image_features(pixel_values=encoder.preprocess(frames))
    expected = expected if torch.is_tensor(expected) else expected.pooler_output
    torch.testing.assert_close(feats[0], expected, atol=1e-5, rtol=1e-5)


def test_siglip2_preprocess_stretches_and_normalises(siglip_folder):
    encoder = load_siglip2(siglip_folder[0])
    frames = np.zeros((2, 30, 90, 3), dtype=np.uint8)
    frames[1] = 255
    pixels = encoder.preprocess(frames)
    assert pixels.shape == (2, 3, 64, 64)
    assert torch.all(pixels[0] == -1) and torch.all(pixels[1] == 1)


def test_siglip2_preprocess_equals_the_official_torchvision_transform(siglip_folder):
    from PIL import Image
    from torchvision import transforms

    encoder = load_siglip2(siglip_folder[0])
    official = transforms.Compose([transforms.Resize((64, 64)), transforms.ToTensor(),
                                   transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])])
    frames = np.random.default_rng(5).integers(0, 256, (3, 90, 160, 3), dtype=np.uint8)
    expected = torch.stack([official(Image.fromarray(f)) for f in frames])
    assert torch.equal(encoder.preprocess(frames), expected)


@pytest.mark.parametrize("height, width", [(48, 80), (61, 97), (160, 90), (64, 64), (30, 20)])
def test_siglip2_frames_resized_while_decoding_give_the_same_features(siglip_folder, height, width):
    encoder = load_siglip2(siglip_folder[0])
    full = np.random.default_rng(height).integers(0, 256, (3, height, width, 3), dtype=np.uint8)
    small = np.stack([resize_frame(f, encoder.image_size) for f in full])
    assert small.dtype == np.uint8 and small.shape == (3, 64, 64, 3)
    assert torch.equal(encoder.preprocess(small), encoder.preprocess(full))  # PIL resizing to its own size copies
    assert torch.equal(encoder.encode_frames(small), encoder.encode_frames(full))
