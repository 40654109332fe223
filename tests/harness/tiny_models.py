"""Tiny random checkpoints in the official formats and folder names, written at test time into models/foley."""
import json
import shutil
from pathlib import Path

import torch

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FEATURE_DIM = 768
SYNC_HEADS = 12  # the real head count (the loader's default), on a tiny width


def _byte_level_tokenizer(folder):
    """A RoBERTa BPE tokenizer with only the 256 byte symbols (ids < the tiny CLAP vocab of 1000)."""
    from transformers import RobertaTokenizerFast

    # byte-level BPE symbols: printable bytes stand for themselves, the rest are shifted past 255
    printable = [b for b in range(256) if chr(b).isprintable() and chr(b) != " " and b not in range(127, 161)
                 and b != 173]
    shifted = (chr(256 + i) for i in range(256))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for b in range(256):
        vocab.setdefault(chr(b) if b in printable else next(shifted), len(vocab))
    vocab["<mask>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    # transformers 5 takes vocab/merges, 4.x vocab_file/merges_file; each ignores the other pair
    RobertaTokenizerFast(vocab=vocab, merges=[], vocab_file=str(folder / "vocab.json"),
                         merges_file=str(folder / "merges.txt")).save_pretrained(folder)


def write_tiny_models(foley_dir):
    """The five model inputs under their official names; returns their paths."""
    foley_dir = Path(foley_dir)
    shutil.copy(FIXTURES / "mmdit_tiny" / "hunyuanvideo_foley.pth", foley_dir / "hunyuanvideo_foley.pth")
    shutil.copy(FIXTURES / "dac_vae_tiny" / "vae_128d_48k.pth", foley_dir / "vae_128d_48k.pth")

    # encoders keep the real 768-d outputs (the MMDiT's input width) but have one layer each
    _write_video_encoders(foley_dir, FEATURE_DIM)

    # the whole CLAP (text tower at the real 768-d, a tiny audio tower, the 48 kHz feature extractor), as the
    # real folder holds: FoleyCLAPLoader takes the text tower, the CLAP score both
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    clap = foley_dir / "larger_clap_general"
    torch.manual_seed(2)
    ClapModel(ClapConfig(
        text_config=dict(vocab_size=300, hidden_size=FEATURE_DIM, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
                         eos_token_id=2),
        audio_config=dict(depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=16, hidden_size=32,
                          window_size=8, enable_fusion=False),
        projection_dim=16)).eval().save_pretrained(clap)
    _byte_level_tokenizer(clap)
    ClapFeatureExtractor(truncation="rand_trunc").save_pretrained(clap)
    return foley_dir


def _write_video_encoders(folder, width):
    from transformers import SiglipConfig, SiglipModel

    from foley_models.sync_score import SyncScorer

    # the whole Synchformer as the official file holds it (the video branch the pipeline uses, the audio
    # branch and offset classifier the sync score uses), one layer each, the real head counts (12, 12, 8)
    torch.manual_seed(0)
    sync = SyncScorer(embed_dim=width, depth=1, num_heads=SYNC_HEADS, audio_dim=96, audio_depth=1, audio_heads=12,
                      audio_mlp=96, audio_agg_mlp=96, sync_dim=64, sync_depth=1, sync_heads=8, sync_mlp=64)
    torch.save({k: v.normal_(0, 0.02) for k, v in sync.state_dict().items()}, folder / "synchformer_state_dict.pth")
    config = SiglipConfig(
        text_config=dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         vocab_size=99, bos_token_id=None, eos_token_id=None),
        vision_config=dict(hidden_size=width, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                           image_size=64, patch_size=16))
    torch.manual_seed(1)
    SiglipModel(config).eval().save_pretrained(folder / "siglip2-base-patch16-512")


LIGHT_WIDTH = 96  # video features of the light set (divisible by the Synchformer's 12 heads)


def write_light_video_models(folder):
    """For minutes-long videos on a CPU: the video encoders at 96-d instead of 768-d (the 768-d tiny
    Synchformer takes ~0.9 s per 0.32 s of video) and an MMDiT that takes 96-d video features; the text
    (CLAP) and the VAE of the tiny set fit it. Files under `folder`, official names."""
    from foley_models.mmdit import HunyuanVideoFoley

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_video_encoders(folder, LIGHT_WIDTH)
    torch.manual_seed(3)
    model = HunyuanVideoFoley(hidden_size=64, num_heads=2, depth_triple=1, depth_single=1, text_dim=FEATURE_DIM,
                              clip_dim=LIGHT_WIDTH, sync_dim=LIGHT_WIDTH)
    torch.save({k: v.normal_(0, 0.05) for k, v in model.state_dict().items()}, folder / "hunyuanvideo_foley.pth")
    return folder


def random_mmdit(depth_triple=2, depth_single=2, seed=0):
    """A small HunyuanVideoFoley (width 64, features of width 32, text of width 48) with N(0, 0.05) weights, whose
    outputs depend visibly on every input: for tests of what surrounds the model (windows, caches, references)."""
    from foley_models.mmdit import HunyuanVideoFoley

    torch.manual_seed(seed)
    model = HunyuanVideoFoley(hidden_size=64, num_heads=2, depth_triple=depth_triple, depth_single=depth_single,
                              clip_dim=32, sync_dim=32, text_dim=48).eval()
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    return model
