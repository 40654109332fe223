"""Synchformer visual branch: 25 fps RGB frames -> audio-visual sync features (8 tokens per 0.64 s window).

Only the MotionFormer video extractor (`vfeat_extractor`) runs at inference: a ViT-B with tubelet
embedding and divided space-time attention, then a per-tubelet transformer layer that pools the
14x14 patches into one token. The checkpoint's audio branch, projections and global transformer are
not built.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import sdpa
from .checkpoint_keys import block_count

IMG_SIZE = 224
PATCH_SIZE = 16
TUBELET_FRAMES = 2
SEGMENT_FRAMES = 16
SEGMENT_STEP = 8
TEMPORAL_TOKENS = SEGMENT_FRAMES // TUBELET_FRAMES  # tokens per segment: 8
GRID = IMG_SIZE // PATCH_SIZE


def segment_count(frames):
    """Segments of 16 frames every 8 that the Synchformer encodes from `frames` frames at 25 fps (at least one)."""
    return max(1, (frames - SEGMENT_FRAMES) // SEGMENT_STEP + 1)

SYNCHFORMER_CONFIG = {"embed_dim": 768, "depth": 12, "num_heads": 12, "mlp_ratio": 4.0}


def preprocess_frames(frames_u8, chunk=16, device=None):
    """uint8 [T, H, W, 3] -> float32 [T, 3, 224, 224] in [-1, 1] on `device` (default: the frames'),
    the official torchvision transform. Works `chunk` frames at a time so large source frames are never
    all held as float; frames already 224x224 (see resize_crop_frame) are only normalised."""
    frames_u8 = torch.as_tensor(frames_u8)
    device = frames_u8.device if device is None else device
    return torch.cat([_normalize(_resize_crop(c.permute(0, 3, 1, 2)).to(device)) for c in frames_u8.split(chunk)])


def resize_crop_frame(frame_u8):
    """uint8 [H, W, 3] ndarray -> uint8 [224, 224, 3] ndarray: the resize and centre crop of the official
    transform, for one frame (to shrink frames while decoding). preprocess_frames of the results is
    bit-identical to preprocess_frames of the full-size frames."""
    x = torch.from_numpy(np.ascontiguousarray(frame_u8)).permute(2, 0, 1)[None]
    return _resize_crop(x)[0].permute(1, 2, 0).numpy()


def _resize_crop(x):
    """uint8 [N, 3, H, W] -> uint8 [N, 3, 224, 224]: short side to 224, then the centre crop."""
    height, width = x.shape[-2:]
    if (height, width) == (IMG_SIZE, IMG_SIZE):
        return x
    short, long = min(height, width), max(height, width)
    resized_long = int(IMG_SIZE * long / short)
    size = (IMG_SIZE, resized_long) if height == short else (resized_long, IMG_SIZE)
    # The official transform resizes the uint8 frames on the CPU, where torchvision uses PyTorch's
    # native uint8 antialiased bicubic kernel (it rounds between its two passes, so a float resize
    # differs by several grey levels on detailed frames, spec Q-S4): call that same kernel.
    x = F.interpolate(x.cpu(), size=size, mode="bicubic", antialias=True, align_corners=False)
    top = round((size[0] - IMG_SIZE) / 2)
    left = round((size[1] - IMG_SIZE) / 2)
    return x[:, :, top:top + IMG_SIZE, left:left + IMG_SIZE]


def _normalize(x_u8):
    # ToDtype(scale=True) multiplies by 1/255 (not bit-identical to dividing by 255).
    x = x_u8.to(torch.float32).mul(1 / 255)
    return (x - 0.5) / 0.5


class Mlp(nn.Module):
    def __init__(self, dim, hidden, dtype=None, device=None, operations=nn):
        super().__init__()
        self.fc1 = operations.Linear(dim, hidden, bias=True, dtype=dtype, device=device)
        self.fc2 = operations.Linear(hidden, dim, bias=True, dtype=dtype, device=device)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)).to(x.dtype))


class DividedAttention(nn.Module):
    """CLS attends to every token; each patch token attends to CLS + the tokens of its group."""

    def __init__(self, dim, num_heads, dtype=None, device=None, operations=nn):
        super().__init__()
        self.num_heads = num_heads
        self.attention_fn = sdpa  # a host may replace it (attention.set_attention)
        self.qkv = operations.Linear(dim, 3 * dim, bias=True, dtype=dtype, device=device)
        self.proj = operations.Linear(dim, dim, bias=True, dtype=dtype, device=device)

    def forward(self, x, over_time):
        """x [B, 1 + F*N, D] (CLS, then time-major tokens f*N + n); groups share f (space) or n (time)."""
        batch, length, dim = x.shape
        heads, head_dim = self.num_heads, dim // self.num_heads
        q, k, v = self.qkv(x).view(batch, length, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        cls_out = self.attention_fn(q[:, :, :1], k, v)

        def grouped(t):
            t = t[:, :, 1:].unflatten(2, (TEMPORAL_TOKENS, -1))  # [B, H, F, N, hd]
            if over_time:
                t = t.transpose(2, 3)
            groups, size = t.shape[2], t.shape[3]
            return t.permute(0, 2, 1, 3, 4).reshape(batch * groups, heads, size, head_dim)

        q_groups = grouped(q)
        groups = q_groups.shape[0] // batch
        k_cls = k[:, :, :1].repeat_interleave(groups, dim=0)
        v_cls = v[:, :, :1].repeat_interleave(groups, dim=0)
        out = self.attention_fn(q_groups, torch.cat([k_cls, grouped(k)], 2), torch.cat([v_cls, grouped(v)], 2))
        out = out.view(batch, groups, heads, -1, head_dim).transpose(1, 2)  # [B, H, G, size, hd]
        if over_time:
            out = out.transpose(2, 3)
        out = torch.cat([cls_out, out.flatten(2, 3)], dim=2)
        return self.proj(out.transpose(1, 2).reshape(batch, length, dim))


class DividedSpaceTimeBlock(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, dtype=None, device=None, operations=nn):
        super().__init__()
        self.norm1 = operations.LayerNorm(dim, eps=1e-6, dtype=dtype, device=device)
        self.norm2 = operations.LayerNorm(dim, eps=1e-6, dtype=dtype, device=device)
        self.norm3 = operations.LayerNorm(dim, eps=1e-6, dtype=dtype, device=device)
        self.timeattn = DividedAttention(dim, num_heads, dtype=dtype, device=device, operations=operations)
        self.attn = DividedAttention(dim, num_heads, dtype=dtype, device=device, operations=operations)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dtype=dtype, device=device, operations=operations)

    def forward(self, x):
        x = x + self.timeattn(self.norm3(x), over_time=True)
        x = x + self.attn(self.norm1(x), over_time=False)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.proj = conv


class MultiheadSelfAttention(nn.Module):
    """nn.MultiheadAttention's parameter layout (packed Q/K/V in_proj), computed for chosen queries."""

    def __init__(self, dim, num_heads, dtype=None, device=None, operations=nn):
        super().__init__()
        self.num_heads = num_heads
        self.attention_fn = sdpa  # a host may replace it (attention.set_attention)
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim, dtype=dtype, device=device))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim, dtype=dtype, device=device))
        self.out_proj = operations.Linear(dim, dim, bias=True, dtype=dtype, device=device)

    def forward(self, x, num_queries):
        """Self-attention over x [B, L, D], returned only for the first num_queries positions."""
        batch, length, dim = x.shape
        weight_q, weight_kv = self.in_proj_weight.to(x.dtype).split([dim, 2 * dim])
        bias_q, bias_kv = self.in_proj_bias.to(x.dtype).split([dim, 2 * dim])
        q = F.linear(x[:, :num_queries], weight_q, bias_q).view(batch, num_queries, self.num_heads, -1).transpose(1, 2)
        k, v = F.linear(x, weight_kv, bias_kv).view(batch, length, 2, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        out = self.attention_fn(q, k, v).transpose(1, 2).reshape(batch, num_queries, dim)
        return self.out_proj(out)


class SpatialAggregation(nn.Module):
    """Pre-norm TransformerEncoderLayer with its own CLS; only the CLS output is used, so only the
    CLS query is computed (the other rows never reach the output)."""

    def __init__(self, dim, num_heads, mlp_ratio, dtype=None, device=None, operations=nn):
        super().__init__()
        self.cls_token = nn.Parameter(torch.empty(1, 1, dim, dtype=dtype, device=device))
        self.self_attn = MultiheadSelfAttention(dim, num_heads, dtype=dtype, device=device, operations=operations)
        self.linear1 = operations.Linear(dim, int(dim * mlp_ratio), bias=True, dtype=dtype, device=device)
        self.linear2 = operations.Linear(int(dim * mlp_ratio), dim, bias=True, dtype=dtype, device=device)
        self.norm1 = operations.LayerNorm(dim, eps=1e-6, dtype=dtype, device=device)
        self.norm2 = operations.LayerNorm(dim, eps=1e-6, dtype=dtype, device=device)

    def forward(self, x):
        """x [B, N, D] -> [B, D]"""
        y = torch.cat([self.cls_token.to(x.dtype).expand(x.shape[0], -1, -1), x], dim=1)
        cls = y[:, :1] + self.self_attn(self.norm1(y), num_queries=1)
        cls = cls + self.linear2(F.gelu(self.linear1(self.norm2(cls))).to(cls.dtype))
        return cls[:, 0]


class MotionFormer(nn.Module):
    def __init__(self, embed_dim, depth, num_heads, mlp_ratio, dtype=None, device=None, operations=nn):
        super().__init__()
        self.cls_token = nn.Parameter(torch.empty(1, 1, embed_dim, dtype=dtype, device=device))
        self.pos_embed = nn.Parameter(torch.empty(1, 1 + GRID * GRID, embed_dim, dtype=dtype, device=device))
        self.temp_embed = nn.Parameter(torch.empty(1, TEMPORAL_TOKENS, embed_dim, dtype=dtype, device=device))
        self.patch_embed_3d = PatchEmbed(operations.Conv3d(
            3, embed_dim, (TUBELET_FRAMES, PATCH_SIZE, PATCH_SIZE), stride=(TUBELET_FRAMES, PATCH_SIZE, PATCH_SIZE),
            dtype=dtype, device=device))
        # Q-S2: the 2-D patch embed is never applied; kept so official checkpoints load strictly.
        self.patch_embed = PatchEmbed(operations.Conv2d(
            3, embed_dim, PATCH_SIZE, stride=PATCH_SIZE, dtype=dtype, device=device))
        self.blocks = nn.ModuleList(
            DividedSpaceTimeBlock(embed_dim, num_heads, mlp_ratio, dtype=dtype, device=device, operations=operations)
            for _ in range(depth))
        self.norm = operations.LayerNorm(embed_dim, eps=1e-6, dtype=dtype, device=device)
        self.spatial_attn_agg = SpatialAggregation(embed_dim, num_heads, mlp_ratio, dtype=dtype, device=device,
                                                   operations=operations)

    def forward(self, x):
        """x [B, 3, 16, 224, 224] in compute dtype -> [B, 8, D], one token per 2-frame tubelet."""
        dtype = x.dtype
        # The residual stream stays in the compute dtype even when autocast runs the conv in fp16.
        x = self.patch_embed_3d.proj(x).flatten(2).transpose(1, 2).to(dtype)  # [B, F*N, D], time-major
        batch, _, dim = x.shape
        pos = self.pos_embed.to(dtype)
        patch_pos = pos[:, 1:].repeat(1, TEMPORAL_TOKENS, 1) + self.temp_embed.to(dtype).repeat_interleave(GRID * GRID, 1)
        cls = self.cls_token.to(dtype).expand(batch, -1, -1)
        x = torch.cat([cls, x], dim=1) + torch.cat([pos[:, :1], patch_pos], dim=1)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x[:, 1:])
        x = self.spatial_attn_agg(x.reshape(batch * TEMPORAL_TOKENS, GRID * GRID, dim))
        return x.view(batch, TEMPORAL_TOKENS, dim)


class Synchformer(nn.Module):
    def __init__(self, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0, dtype=None, device=None,
                 operations=None, **ignored):
        super().__init__()
        operations = operations or nn
        self.compute_dtype = dtype or torch.float32
        # The official extractor runs under CUDA fp16 autocast; elsewhere (or when disabled) fp32.
        self.fp16_autocast = True
        self.vfeat_extractor = MotionFormer(embed_dim, depth, num_heads, mlp_ratio, dtype=dtype, device=device,
                                            operations=operations)

    preprocess = staticmethod(preprocess_frames)

    def forward_segments(self, segments):
        """segments [B, 16, 3, 224, 224] preprocessed -> [B, 8, D]"""
        return self.vfeat_extractor(segments.transpose(1, 2).to(self.compute_dtype))

    def encode_frames(self, frames_u8, segment_batch=8):
        """uint8 frames [T, H, W, 3] sampled at 25 fps -> sync features [1, 8*S, D] (fp32),
        S = (T - 16) // 8 + 1 windows of 16 frames with stride 8, concatenated segment-major.
        Frames reach the device `segment_batch` windows at a time (8 + 8 * segment_batch frames)."""
        return self.encode_frame_chunks([frames_u8], segment_batch)

    def encode_frame_chunks(self, chunks, segment_batch=8):
        """encode_frames() of the concatenation of `chunks` (an iterable of uint8 [t, H, W, 3], e.g. a
        media.VideoFrameStream), holding only the frames of segments not yet encoded."""
        segment_batch = segment_batch or 1 << 30
        device = self.vfeat_extractor.cls_token.device
        pending = None  # frames not yet covered by an encoded segment (the next segment starts at frame 0)
        seen, outputs = 0, []
        with torch.autocast(device.type, dtype=torch.float16, enabled=(device.type == "cuda" and self.fp16_autocast)):
            for chunk in chunks:
                chunk = torch.as_tensor(chunk)  # numpy from the PyAV reader, or a tensor
                seen += chunk.shape[0]
                pending = chunk if pending is None else torch.cat([pending, chunk])
                while pending.shape[0] >= SEGMENT_FRAMES:
                    count = min(segment_batch, segment_count(pending.shape[0]))
                    used = (count - 1) * SEGMENT_STEP + SEGMENT_FRAMES
                    frames = preprocess_frames(pending[:used], device=device)
                    segments = frames.unfold(0, SEGMENT_FRAMES, SEGMENT_STEP).permute(0, 4, 1, 2, 3)  # [count, 16, 3, H, W]
                    outputs.append(self.forward_segments(segments).float())
                    pending = pending[count * SEGMENT_STEP:]
        if seen < SEGMENT_FRAMES:
            raise ValueError(
                f"Synchformer needs at least {SEGMENT_FRAMES} frames at 25 fps ({SEGMENT_FRAMES / 25:g} s of video), "
                f"but the clip gives {seen} frames ({seen / 25:.2f} s). Use a longer clip or a smaller "
                f"start_time (or a longer duration); text-only generation works without a video.")
        return torch.cat(outputs).reshape(1, -1, outputs[0].shape[-1])


def synchformer_config_from_state_dict(sd):
    """Constructor kwargs inferred from an official state dict (keys with the `vfeat_extractor.` prefix).
    The head count is not visible in any shape: pass num_heads separately (12 for the real checkpoint)."""
    prefix = "vfeat_extractor."
    for key in (prefix + "cls_token", prefix + "blocks.0.mlp.fc1.weight"):
        if key not in sd:
            raise ValueError(f"not a Synchformer state dict: missing key {key!r}")
    embed_dim = sd[prefix + "cls_token"].shape[-1]
    mlp_ratio = sd[prefix + "blocks.0.mlp.fc1.weight"].shape[0] / embed_dim
    return {"embed_dim": embed_dim, "depth": block_count(sd, prefix + "blocks."), "mlp_ratio": mlp_ratio}
