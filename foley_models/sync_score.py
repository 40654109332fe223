"""A/V synchronisation score (DeSync) with the full Synchformer checkpoint (spec/sync_score.md).

The visual branch is the pipeline's Synchformer (`synchformer.Synchformer`, MotionFormer) unchanged;
this module adds the checkpoint's audio branch (an AST over 0.64 s log-mel segments with a per-time-patch
aggregation over frequency), the two projections and the GlobalTransformer that classifies the audio
offset of a 14-segment (4.8 s) window into 21 classes from -2 s to +2 s. DeSync is the mean |offset| of
the first and the last window of a clip, the protocol of the av-benchmark toolkit.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import attention
from .checkpoint_keys import block_count
from .dsp import mel_power_spectrogram, mono_mix, require_finite_audio, resample_prefix
from .media import SYNCHFORMER_FPS
from .synchformer import (SEGMENT_FRAMES, SEGMENT_STEP, TEMPORAL_TOKENS, SpatialAggregation, Synchformer,
                          segment_count)

FPS = SYNCHFORMER_FPS
AUDIO_RATE = 16000
SAMPLES_PER_FRAME = AUDIO_RATE // FPS  # 640
SEGMENT_SAMPLES = SEGMENT_FRAMES * SAMPLES_PER_FRAME  # 10240 = 0.64 s
SEGMENT_HOP = SEGMENT_STEP * SAMPLES_PER_FRAME  # 5120 = 0.32 s
N_MELS = 128
SPEC_COLUMNS = 66  # 65 STFT frames + one zero column added after the log (Q4)
LOG_EPS = 1e-6
SPEC_MEAN = -4.2677393
SPEC_STD = 4.5689974
AST_PATCH = 16
AST_STRIDE = 10
FREQ_PATCHES = (N_MELS - AST_PATCH) // AST_STRIDE + 1  # 12
TIME_PATCHES = (SPEC_COLUMNS - AST_PATCH) // AST_STRIDE + 1  # 6
AUDIO_TOKENS = TIME_PATCHES  # per segment, after the frequency aggregation
WINDOW_SEGMENTS = 14  # fixed by the GlobalTransformer's 198 positions = 2 + 14 * (8 + 6)
OFFSET_RANGE_S = 2.0
MIN_FRAMES = SEGMENT_FRAMES + (WINDOW_SEGMENTS - 1) * SEGMENT_STEP  # 120 frames = 4.8 s
MIN_SECONDS = MIN_FRAMES / FPS

SYNC_SCORER_CONFIG = {
    "embed_dim": 768, "depth": 12, "num_heads": 12, "mlp_ratio": 4.0,
    "audio_dim": 768, "audio_depth": 12, "audio_heads": 12, "audio_mlp": 3072, "audio_agg_mlp": 3072,
    "sync_dim": 768, "sync_depth": 3, "sync_heads": 8, "sync_mlp": 3072, "num_classes": 21,
}


def offset_grid(num_classes=21):
    """float32 offsets in seconds of the classes: linspace(-2, 2, 21) in float64 rounded to float32 (class 10
    is exactly 0 = in sync; torch's float32 linspace would give -3e-8 there)."""
    return torch.from_numpy(np.linspace(-OFFSET_RANGE_S, OFFSET_RANGE_S, num_classes)).to(torch.float32)


def _mono(waveform):
    return require_finite_audio(mono_mix(waveform), "DeSync score")


def spectrogram_segments(wave16k, segments=None):
    """Normalised log-mel model input [len(segments), 128, 66] of 10240-sample segments (hop 5120) of a
    16 kHz waveform [N]; `segments` = the indices to compute (default: all)."""
    count = (wave16k.shape[-1] - SEGMENT_SAMPLES) // SEGMENT_HOP + 1
    chunks = wave16k.unfold(-1, SEGMENT_SAMPLES, SEGMENT_HOP)[:max(count, 0)]
    if segments is not None:
        chunks = chunks[torch.as_tensor(segments, dtype=torch.long)]
    x = torch.log(mel_power_spectrogram(chunks, AUDIO_RATE, n_mels=N_MELS) + LOG_EPS)
    x = F.pad(x, (0, SPEC_COLUMNS - x.shape[-1]))  # zeros after the log
    return (x - SPEC_MEAN) / (2 * SPEC_STD)


def sync_audio_input(waveform, sample_rate, seconds):
    """The sync model's spectrogram input [S, 128, 66] for the first `seconds` of a waveform (av-benchmark's
    audio chain): mono mean of [channels, N] input, the whole waveform resampled to 16 kHz (torchaudio
    Resample arithmetic), the first int(16000 * seconds) samples, S = (N16 - 10240) // 5120 + 1 segments."""
    wave = _mono(waveform)
    keep = int(AUDIO_RATE * seconds)
    available = -(-wave.shape[0] * AUDIO_RATE // int(sample_rate))
    if available < keep:
        raise ValueError(f"the audio is {wave.shape[0] / sample_rate:.3f} s long, shorter than the {seconds:g} s asked")
    if keep < SEGMENT_SAMPLES:
        raise ValueError(f"the sync model needs at least {SEGMENT_SAMPLES / AUDIO_RATE:g} s of audio, "
                         f"got {seconds:g} s")
    return spectrogram_segments(resample_prefix(wave, int(sample_rate), AUDIO_RATE, keep))


class _Dense(nn.Module):
    def __init__(self, dim_in, dim_out, dtype, device, operations):
        super().__init__()
        self.dense = operations.Linear(dim_in, dim_out, bias=True, dtype=dtype, device=device)


class _MultiHeadAttention(nn.Module):
    """query / key / value projections and multi-head attention over them, heads merged again."""

    def __init__(self, dim, heads, dtype, device, operations):
        super().__init__()
        self.heads = heads
        self.query = operations.Linear(dim, dim, bias=True, dtype=dtype, device=device)
        self.key = operations.Linear(dim, dim, bias=True, dtype=dtype, device=device)
        self.value = operations.Linear(dim, dim, bias=True, dtype=dtype, device=device)

    def attend(self, x):
        batch, length, dim = x.shape

        def split(proj):
            return proj(x).view(batch, length, self.heads, dim // self.heads).transpose(1, 2)

        out = attention(split(self.query), split(self.key), split(self.value))
        return out.transpose(1, 2).reshape(batch, length, dim)


class _ASTAttention(nn.Module):
    def __init__(self, dim, heads, dtype, device, operations):
        super().__init__()
        self.attention = _MultiHeadAttention(dim, heads, dtype, device, operations)
        self.output = _Dense(dim, dim, dtype, device, operations)

    def forward(self, x):
        return self.output.dense(self.attention.attend(x))


class ASTLayer(nn.Module):
    """Pre-norm ViT layer (Hugging Face AST naming), LayerNorm eps 1e-12."""

    def __init__(self, dim, heads, mlp, dtype, device, operations):
        super().__init__()
        self.attention = _ASTAttention(dim, heads, dtype, device, operations)
        self.intermediate = _Dense(dim, mlp, dtype, device, operations)
        self.output = _Dense(mlp, dim, dtype, device, operations)
        self.layernorm_before = operations.LayerNorm(dim, eps=1e-12, dtype=dtype, device=device)
        self.layernorm_after = operations.LayerNorm(dim, eps=1e-12, dtype=dtype, device=device)

    def forward(self, x):
        x = x + self.attention(self.layernorm_before(x))
        return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))).to(x.dtype))


class _ASTPatchEmbeddings(nn.Module):
    def __init__(self, dim, dtype, device, operations):
        super().__init__()
        self.projection = operations.Conv2d(1, dim, AST_PATCH, stride=AST_STRIDE, dtype=dtype, device=device)


class ASTEmbeddings(nn.Module):
    def __init__(self, dim, dtype, device, operations):
        super().__init__()
        self.cls_token = nn.Parameter(torch.empty(1, 1, dim, dtype=dtype, device=device))
        self.distillation_token = nn.Parameter(torch.empty(1, 1, dim, dtype=dtype, device=device))
        self.position_embeddings = nn.Parameter(
            torch.empty(1, 2 + FREQ_PATCHES * TIME_PATCHES, dim, dtype=dtype, device=device))
        self.patch_embeddings = _ASTPatchEmbeddings(dim, dtype, device, operations)

    def forward(self, spec):
        """spec [B, 128 freq, 66 time] -> [B, 74, D]: CLS, distillation, 72 patches frequency-major."""
        dtype = spec.dtype
        patches = self.patch_embeddings.projection(spec[:, None]).flatten(2).transpose(1, 2).to(dtype)
        batch = patches.shape[0]
        tokens = torch.cat([self.cls_token.to(dtype).expand(batch, -1, -1),
                            self.distillation_token.to(dtype).expand(batch, -1, -1), patches], dim=1)
        return tokens + self.position_embeddings.to(dtype)


class _ASTEncoder(nn.Module):
    def __init__(self, dim, depth, heads, mlp, dtype, device, operations):
        super().__init__()
        self.layer = nn.ModuleList(ASTLayer(dim, heads, mlp, dtype, device, operations) for _ in range(depth))


class AST(nn.Module):
    def __init__(self, dim, depth, heads, mlp, dtype=None, device=None, operations=nn):
        super().__init__()
        self.embeddings = ASTEmbeddings(dim, dtype, device, operations)
        self.encoder = _ASTEncoder(dim, depth, heads, mlp, dtype, device, operations)
        self.layernorm = operations.LayerNorm(dim, eps=1e-12, dtype=dtype, device=device)

    def forward(self, spec):
        """spec [B, 128, 66] -> last hidden state [B, 74, D] (after the final LayerNorm)."""
        x = self.embeddings(spec)
        for layer in self.encoder.layer:
            x = layer(x)
        return self.layernorm(x)


class AudioFeatureExtractor(nn.Module):
    """`afeat_extractor`: AST, then for each of the 6 time patches a CLS aggregation over its 12 frequency
    tokens (the same pre-norm layer as the visual branch's spatial aggregation) -> 6 tokens per segment."""

    def __init__(self, dim, depth, heads, mlp, agg_mlp, dtype=None, device=None, operations=nn):
        super().__init__()
        self.ast = AST(dim, depth, heads, mlp, dtype=dtype, device=device, operations=operations)
        self.freq_attn_agg = SpatialAggregation(dim, heads, agg_mlp / dim, dtype=dtype, device=device,
                                                operations=operations)

    def forward(self, spec):
        """spec [B, 128, 66] -> [B, 6, D]"""
        hidden = self.ast(spec)[:, 2:]  # [B, 72, D], token 6 * fi + ti
        batch, _, dim = hidden.shape
        per_time = hidden.view(batch, FREQ_PATCHES, TIME_PATCHES, dim).transpose(1, 2)
        return self.freq_attn_agg(per_time.reshape(batch * TIME_PATCHES, FREQ_PATCHES, dim)).view(
            batch, TIME_PATCHES, dim)


class _SelfAttention(_MultiHeadAttention):
    def __init__(self, dim, heads, dtype, device, operations):
        super().__init__(dim, heads, dtype, device, operations)
        self.proj = operations.Linear(dim, dim, bias=True, dtype=dtype, device=device)

    def forward(self, x):
        return self.proj(self.attend(x))


class _Block(nn.Module):
    def __init__(self, dim, heads, mlp, dtype, device, operations):
        super().__init__()
        self.ln1 = operations.LayerNorm(dim, eps=1e-5, dtype=dtype, device=device)
        self.ln2 = operations.LayerNorm(dim, eps=1e-5, dtype=dtype, device=device)
        self.attn = _SelfAttention(dim, heads, dtype, device, operations)
        self.mlp = nn.Sequential(operations.Linear(dim, mlp, bias=True, dtype=dtype, device=device), nn.GELU(),
                                 operations.Linear(mlp, dim, bias=True, dtype=dtype, device=device))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x)).to(x.dtype)


class _PositionTable(nn.Module):
    def __init__(self, length, dim, dtype, device):
        super().__init__()
        self.pos_emb = nn.Parameter(torch.empty(1, length, dim, dtype=dtype, device=device))


class GlobalTransformer(nn.Module):
    """Offset classifier over [OFF, 112 visual tokens, MOD, 84 audio tokens] of one 14-segment window."""

    def __init__(self, dim, depth, heads, mlp, num_classes, dtype=None, device=None, operations=nn):
        super().__init__()
        self.OFF_tok = nn.Parameter(torch.empty(1, 1, dim, dtype=dtype, device=device))
        self.MOD_tok = nn.Parameter(torch.empty(1, 1, dim, dtype=dtype, device=device))
        self.vis_in_lnorm = operations.LayerNorm(dim, eps=1e-5, dtype=dtype, device=device)
        self.aud_in_lnorm = operations.LayerNorm(dim, eps=1e-5, dtype=dtype, device=device)
        length = 2 + WINDOW_SEGMENTS * (TEMPORAL_TOKENS + AUDIO_TOKENS)
        self.pos_emb_cfg = _PositionTable(length, dim, dtype, device)
        self.blocks = nn.ModuleList(_Block(dim, heads, mlp, dtype, device, operations) for _ in range(depth))
        self.ln_f = operations.LayerNorm(dim, eps=1e-5, dtype=dtype, device=device)
        self.off_head = operations.Linear(dim, num_classes, bias=True, dtype=dtype, device=device)

    def tokens(self, v, a):
        """v [W, 112, D], a [W, 84, D] (projected) -> input sequence [W, 198, D]"""
        dtype = v.dtype
        batch = v.shape[0]
        x = torch.cat([self.OFF_tok.to(dtype).expand(batch, -1, -1), self.vis_in_lnorm(v),
                       self.MOD_tok.to(dtype).expand(batch, -1, -1), self.aud_in_lnorm(a)], dim=1)
        return x + self.pos_emb_cfg.pos_emb.to(dtype)

    def forward(self, v, a):
        x = self.tokens(v, a)
        for block in self.blocks:
            x = block(x)
        return self.off_head(self.ln_f(x[:, 0]))


class SyncScorer(Synchformer):
    """The whole Synchformer: the pipeline's visual branch (inherited) plus audio branch and offset classifier.
    Runs in float32 (av-benchmark's precision), also on CUDA: the visual branch's fp16 autocast is off."""

    def __init__(self, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0, audio_dim=768, audio_depth=12,
                 audio_heads=12, audio_mlp=3072, audio_agg_mlp=3072, sync_dim=768, sync_depth=3, sync_heads=8,
                 sync_mlp=3072, num_classes=21, dtype=None, device=None, operations=None):
        super().__init__(embed_dim, depth, num_heads, mlp_ratio, dtype=dtype, device=device, operations=operations)
        operations = operations or nn
        self.fp16_autocast = False
        self.afeat_extractor = AudioFeatureExtractor(audio_dim, audio_depth, audio_heads, audio_mlp, audio_agg_mlp,
                                                     dtype=dtype, device=device, operations=operations)
        self.vproj = operations.Linear(embed_dim, sync_dim, bias=True, dtype=dtype, device=device)
        self.aproj = operations.Linear(audio_dim, sync_dim, bias=True, dtype=dtype, device=device)
        self.transformer = GlobalTransformer(sync_dim, sync_depth, sync_heads, sync_mlp, num_classes, dtype=dtype,
                                             device=device, operations=operations)

    @property
    def grid(self):
        """float32 class offsets in seconds [21] (CPU)."""
        return offset_grid(self.transformer.off_head.out_features)

    def _param_device(self):
        # not a `device` attribute: ComfyUI's ModelPatcher sets model.device itself
        return self.vfeat_extractor.cls_token.device

    @torch.no_grad()
    def visual_features(self, frames_u8, segment_batch=8):
        """uint8 frames [T, H, W, 3] at 25 fps -> [S, 8, D] float32, S = (T - 16) // 8 + 1."""
        feats = self.encode_frames(frames_u8, segment_batch)
        return feats.view(-1, TEMPORAL_TOKENS, feats.shape[-1])

    @torch.no_grad()
    def audio_features(self, spec, segment_batch=64):
        """spectrogram input [S, 128, 66] (sync_audio_input) -> [S, 6, D] float32."""
        spec = torch.as_tensor(spec)
        outs = [self.afeat_extractor(chunk.to(self._param_device(), self.compute_dtype)).float()
                for chunk in spec.split(segment_batch)]
        return torch.cat(outs) if outs else spec.new_zeros(0, AUDIO_TOKENS, self.aproj.in_features)

    def _projected(self, vis, aud):
        device = self._param_device()
        vis, aud = vis.to(device, self.compute_dtype), aud.to(device, self.compute_dtype)
        if vis.shape[1:3] != (WINDOW_SEGMENTS, TEMPORAL_TOKENS) or aud.shape[1:3] != (WINDOW_SEGMENTS, AUDIO_TOKENS):
            raise ValueError(f"a window is {WINDOW_SEGMENTS} segments: expected visual [W, {WINDOW_SEGMENTS}, "
                             f"{TEMPORAL_TOKENS}, D] and audio [W, {WINDOW_SEGMENTS}, {AUDIO_TOKENS}, D], got "
                             f"{list(vis.shape)} and {list(aud.shape)}")
        return self.vproj(vis).flatten(1, 2), self.aproj(aud).flatten(1, 2)

    @torch.no_grad()
    def transformer_input(self, vis, aud):
        """[W, 198, D] sequence entering the GlobalTransformer blocks (for checks)."""
        return self.transformer.tokens(*self._projected(vis, aud)).float()

    @torch.no_grad()
    def window_logits(self, vis, aud):
        """visual [W, 14, 8, D] and audio [W, 14, 6, D] features of W windows -> offset logits [W, 21] float32."""
        return self.transformer(*self._projected(vis, aud)).float()

    @torch.no_grad()
    def desync(self, frames_u8, waveform, sample_rate, visual_cache=None):
        """Sync score of one clip: frames uint8 [T, H, W, 3] at 25 fps, waveform [N], [channels, N] or
        [1, channels, N] (float, any rate; channels are averaged). The clip is T / 25 s long (cut to the audio's length, in whole frames, if the audio is
        shorter); the first and the last 14-segment window are classified.

        Returns {"desync": mean |offset| in s (float), "offsets": signed offsets [W] s (float32; positive =
        audio ahead of the picture), "logits": [W, 21], "classes": [W] int64, "windows": [(start_s, end_s)]}.
        visual_cache: a dict shared by the calls for several candidates of the same frames, so that the video
        windows are encoded once.
        """
        frames_u8 = torch.as_tensor(frames_u8)
        wave = _mono(waveform)
        sample_rate = int(sample_rate)
        samples16k = -(-wave.shape[0] * AUDIO_RATE // sample_rate)  # the resampler's output length
        audio_frames = samples16k // SAMPLES_PER_FRAME  # in whole 25 fps frames
        frames = min(frames_u8.shape[0], audio_frames)
        if frames < MIN_FRAMES:
            shorter = "audio" if audio_frames < frames_u8.shape[0] else "video"
            raise ValueError(
                f"the sync score needs at least {MIN_SECONDS:g} s of video and audio ({MIN_FRAMES} frames at {FPS} "
                f"fps, one {WINDOW_SEGMENTS}-segment window), but the clip is {frames / FPS:.2f} s "
                f"({frames_u8.shape[0]} frames = {frames_u8.shape[0] / FPS:.2f} s of video, "
                f"{wave.shape[0] / sample_rate:.2f} s of audio; the {shorter} is the limit)")
        segments = segment_count(frames)
        starts = [0, segments - WINDOW_SEGMENTS]  # first and last window (the same one when S == 14)
        wave16k = resample_prefix(wave, sample_rate, AUDIO_RATE, frames * SAMPLES_PER_FRAME)
        vis, aud = {}, {}
        for start in dict.fromkeys(starts):  # only the segments of the scored windows are encoded
            first = start * SEGMENT_STEP
            cache = {} if visual_cache is None else visual_cache
            key = (first, tuple(frames_u8.shape), frames_u8.data_ptr())
            if key not in cache:
                cache[key] = self.visual_features(frames_u8[first:first + MIN_FRAMES])
            vis[start] = cache[key]
            aud[start] = self.audio_features(spectrogram_segments(wave16k, range(start, start + WINDOW_SEGMENTS)))
        logits = self.window_logits(torch.stack([vis[s] for s in starts]),
                                    torch.stack([aud[s] for s in starts])).cpu()
        classes = logits.argmax(-1)
        offsets = self.grid[classes]
        desync = sum(abs(float(o)) for o in offsets) / len(offsets)
        windows = [(s * SEGMENT_HOP / AUDIO_RATE, (s * SEGMENT_HOP + (WINDOW_SEGMENTS + 1) * SEGMENT_HOP) / AUDIO_RATE)
                   for s in starts]
        return {"desync": desync, "offsets": offsets, "logits": logits, "classes": classes, "windows": windows}


def sync_scorer_config_from_state_dict(sd):
    """Constructor kwargs of SyncScorer inferred from a full Synchformer state dict (official key names).
    Head counts are not visible in any shape: pass num_heads, audio_heads and sync_heads separately
    (12, 12 and 8 for the real checkpoint)."""
    from .synchformer import synchformer_config_from_state_dict

    config = synchformer_config_from_state_dict(sd)
    a, t = "afeat_extractor.", "transformer."
    needed = (a + "ast.embeddings.cls_token", a + "ast.encoder.layer.0.intermediate.dense.weight",
              a + "freq_attn_agg.linear1.weight", t + "OFF_tok", t + "blocks.0.mlp.0.weight", t + "off_head.weight")
    missing = [k for k in needed if k not in sd]
    if missing:
        raise ValueError(f"not a full Synchformer state dict (the sync score needs the audio branch and the offset "
                         f"classifier): missing key {missing[0]!r}")
    audio_dim = sd[a + "ast.embeddings.cls_token"].shape[-1]
    return dict(config,
                audio_dim=audio_dim,
                audio_depth=block_count(sd, a + "ast.encoder.layer."),
                audio_mlp=sd[a + "ast.encoder.layer.0.intermediate.dense.weight"].shape[0],
                audio_agg_mlp=sd[a + "freq_attn_agg.linear1.weight"].shape[0],
                sync_dim=sd[t + "OFF_tok"].shape[-1],
                sync_depth=block_count(sd, t + "blocks."),
                sync_mlp=sd[t + "blocks.0.mlp.0.weight"].shape[0],
                num_classes=sd[t + "off_head.weight"].shape[0])
