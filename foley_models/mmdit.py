"""HunyuanVideo-Foley diffusion transformer ("MMDiT"): latent audio + SigLIP2 + Synchformer + CLAP text.

Triple-stream blocks (audio and visual streams with joint self-attention and text cross-attention)
followed by single-stream audio blocks. State-dict keys are those of the official checkpoints.
"""
import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import sdpa
from .checkpoint_keys import block_count
from .synchformer import TEMPORAL_TOKENS
from .mmdit_layers import (
    MLP,
    ConvMLP,
    Modulation,
    RMSNorm,
    SwiGLU,
    TimestepEmbedder,
    apply_rope,
    conv_mlp_hidden,
    conv_tokens,
    layer_norm,
    merge_heads,
    modulate,
    nearest_exact_index,
    rope_table,
    split_heads,
    split_modulation,
)

MMDIT_CONFIGS = {
    "xxl": dict(hidden_size=1536, num_heads=12, depth_triple=18, depth_single=36, mlp_ratio=4.0,
                latent_channels=128, text_dim=768, clip_dim=768, sync_dim=768),
    "xl": dict(hidden_size=1408, num_heads=11, depth_triple=12, depth_single=24, mlp_ratio=4.0,
               latent_channels=128, text_dim=768, clip_dim=768, sync_dim=768),
}

SYNC_SEGMENT = TEMPORAL_TOKENS  # Synchformer tokens per segment; sync_pos_emb is indexed by position inside one


def _rope_tables(audio_len, visual_len, text_len, head_dim, device):
    """All RoPE tables of one forward (integer positions, so every table is a slice of one). Cached per shape
    and device: the same tables serve every step (nothing may write into them)."""
    # inference-mode tensors cannot be saved for backward: a separate entry for them
    return _rope_tables_cached(audio_len, visual_len, text_len, head_dim, torch.device(device),
                               torch.is_inference_mode_enabled())


@functools.lru_cache(maxsize=32)
def _rope_tables_cached(audio_len, visual_len, text_len, head_dim, device, inference):
    cos, sin = rope_table(max(2 * audio_len, visual_len, text_len), head_dim, device)
    # official interleave: visual Lv -> L (nearest-exact), positions 2i (audio) / 2i+1 (visual),
    # then visual L -> Lv; visual token j ends up as source token up[down[j]] at position 2*down[j]+1
    up = nearest_exact_index(visual_len, audio_len, device)
    down = nearest_exact_index(audio_len, visual_len, device)
    visual_pos = 2 * down + 1
    return {
        "joint_audio": (cos[0:2 * audio_len:2], sin[0:2 * audio_len:2]),
        "joint_visual": (cos[visual_pos], sin[visual_pos]),
        "joint_visual_src": up[down],
        "cross_audio": (cos[:audio_len], sin[:audio_len]),
        "cross_visual": (cos[:visual_len], sin[:visual_len]),
        "cross_text": (cos[:text_len], sin[:text_len]),
    }


class TripleStreamBlock(nn.Module):
    """Audio and visual streams: joint self-attention, text cross-attention, MLP (official TwoStreamCABlock)."""

    def __init__(self, hidden_size, num_heads, mlp_ratio, dtype=None, device=None, operations=nn):
        super().__init__()
        self.num_heads = num_heads
        self.attention_fn = sdpa  # a host may replace it (attention.set_attention)
        head_dim = hidden_size // num_heads
        mlp_hidden = int(hidden_size * mlp_ratio)
        linear_args = dict(bias=True, dtype=dtype, device=device)
        layer_args = dict(dtype=dtype, device=device, operations=operations)
        norm_args = dict(eps=1e-6, dtype=dtype, device=device)

        # shift/scale/gate of the self-attention, the cross-attention and the MLP of each stream
        self.audio_mod = Modulation(hidden_size, 9, **layer_args)
        self.v_cond_mod = Modulation(hidden_size, 9, **layer_args)

        self.audio_self_attn_qkv = operations.Linear(hidden_size, 3 * hidden_size, **linear_args)
        self.audio_self_q_norm = RMSNorm(head_dim, **norm_args)
        self.audio_self_k_norm = RMSNorm(head_dim, **norm_args)
        self.audio_self_proj = operations.Linear(hidden_size, hidden_size, **linear_args)
        self.v_cond_attn_qkv = operations.Linear(hidden_size, 3 * hidden_size, **linear_args)
        self.v_cond_attn_q_norm = RMSNorm(head_dim, **norm_args)
        self.v_cond_attn_k_norm = RMSNorm(head_dim, **norm_args)
        self.v_cond_self_proj = operations.Linear(hidden_size, hidden_size, **linear_args)

        self.audio_cross_q = operations.Linear(hidden_size, hidden_size, **linear_args)
        self.v_cond_cross_q = operations.Linear(hidden_size, hidden_size, **linear_args)
        self.text_cross_kv = operations.Linear(hidden_size, 2 * hidden_size, **linear_args)
        self.audio_cross_q_norm = RMSNorm(head_dim, **norm_args)
        self.v_cond_cross_q_norm = RMSNorm(head_dim, **norm_args)
        self.text_cross_k_norm = RMSNorm(head_dim, **norm_args)
        self.audio_cross_proj = operations.Linear(hidden_size, hidden_size, **linear_args)
        self.v_cond_cross_proj = operations.Linear(hidden_size, hidden_size, **linear_args)

        self.audio_mlp = MLP(hidden_size, mlp_hidden, **layer_args)
        self.v_cond_mlp = MLP(hidden_size, mlp_hidden, **layer_args)

    def _self_qkv(self, x, mod, qkv, q_norm, k_norm):
        h = modulate(layer_norm(x, 1e-6), mod.shift, mod.scale).to(x.dtype)
        # fused projection packed as (Q|K|V, heads, head_dim) -- unlike the single blocks (quirk Q2)
        q, k, v = qkv(h).unflatten(-1, (3, self.num_heads, -1)).permute(2, 0, 3, 1, 4)
        return q_norm(q), k_norm(k), v

    def text_kv(self, text, rope):
        """Keys and values of the text cross-attention [B, heads, Lt, head_dim]: they depend on the text alone,
        so a sampling run computes them once (HunyuanVideoFoley.cached_conditions)."""
        kt, vt = self.text_cross_kv(text).unflatten(-1, (2, self.num_heads, -1)).permute(2, 0, 3, 1, 4)
        return apply_rope(self.text_cross_k_norm(kt), *rope["cross_text"]), vt

    def forward(self, audio, text, visual, vec, rope, visual_out=True, text_kv=None, transformer_options=None):
        """audio [B, L, H], text [B, Lt, H], visual [B, Lv, H], vec [B, H] -> (audio, visual).

        visual_out=False (last block) skips the visual updates after the joint attention: the visual
        stream is discarded after the triple blocks, so they cannot change the audio (quirk Q9).
        text_kv: this block's text_kv(text, rope) when already computed.
        transformer_options: the host's options, passed to every attention call.
        """
        audio_self, audio_cross, audio_ff = split_modulation(self.audio_mod(vec).unsqueeze(1), 3)
        visual_self, visual_cross, visual_ff = split_modulation(self.v_cond_mod(vec).unsqueeze(1), 3)
        visual_len = visual.shape[1]

        def attend(q, k, v):
            return self.attention_fn(q, k, v, transformer_options=transformer_options)

        qa, ka, va = self._self_qkv(audio, audio_self, self.audio_self_attn_qkv,
                                    self.audio_self_q_norm, self.audio_self_k_norm)
        qv, kv, vv = self._self_qkv(visual, visual_self, self.v_cond_attn_qkv,
                                    self.v_cond_attn_q_norm, self.v_cond_attn_k_norm)
        # interleaved audio-visual RoPE (quirk Q4); V is neither rotated nor resampled
        src = rope["joint_visual_src"]
        qa, ka = (apply_rope(x, *rope["joint_audio"]) for x in (qa, ka))
        qv, kv = (apply_rope(x[:, :, src], *rope["joint_visual"]) for x in (qv, kv))
        k = torch.cat((kv, ka), dim=2)
        v = torch.cat((vv, va), dim=2)
        if visual_out:
            out_v, out_a = attend(torch.cat((qv, qa), dim=2), k, v).split((visual_len, qa.shape[2]), dim=2)
            visual = visual + self.v_cond_self_proj(merge_heads(out_v)) * visual_self.gate
        else:
            out_a = attend(qa, k, v)
        audio = audio + self.audio_self_proj(merge_heads(out_a)) * audio_self.gate

        kt, vt = text_kv if text_kv is not None else self.text_kv(text, rope)
        h = modulate(layer_norm(audio, 1e-6), audio_cross.shift, audio_cross.scale).to(audio.dtype)
        qa = apply_rope(self.audio_cross_q_norm(split_heads(self.audio_cross_q(h), self.num_heads)),
                        *rope["cross_audio"])
        if visual_out:
            h = modulate(layer_norm(visual, 1e-6), visual_cross.shift, visual_cross.scale).to(visual.dtype)
            qv = apply_rope(self.v_cond_cross_q_norm(split_heads(self.v_cond_cross_q(h), self.num_heads)),
                            *rope["cross_visual"])
            out_v, out_a = attend(torch.cat((qv, qa), dim=2), kt, vt).split((visual_len, qa.shape[2]), dim=2)
            visual = visual + self.v_cond_cross_proj(merge_heads(out_v)) * visual_cross.gate
        else:
            out_a = attend(qa, kt, vt)
            visual = None
        audio = audio + self.audio_cross_proj(merge_heads(out_a)) * audio_cross.gate

        h = modulate(layer_norm(audio, 1e-6), audio_ff.shift, audio_ff.scale).to(audio.dtype)
        audio = audio + self.audio_mlp(h) * audio_ff.gate
        if visual_out:
            h = modulate(layer_norm(visual, 1e-6), visual_ff.shift, visual_ff.scale).to(visual.dtype)
            visual = visual + self.v_cond_mlp(h) * visual_ff.gate
        return audio, visual


class SingleStreamBlock(nn.Module):
    """Audio-only block with per-token modulation and kernel-3 convolutions (official SingleStreamBlock)."""

    def __init__(self, hidden_size, num_heads, mlp_ratio, dtype=None, device=None, operations=nn):
        super().__init__()
        self.num_heads = num_heads
        self.attention_fn = sdpa  # a host may replace it (attention.set_attention)
        head_dim = hidden_size // num_heads
        # shift/scale/gate of the attention and of the MLP
        self.modulation = Modulation(hidden_size, 6, dtype=dtype, device=device, operations=operations)
        self.linear_qkv = operations.Linear(hidden_size, 3 * hidden_size, bias=True, dtype=dtype, device=device)
        # nn.RMSNorm built with eps=None uses the fp32 machine epsilon (quirk Q3)
        self.q_norm = RMSNorm(head_dim, eps=torch.finfo(torch.float32).eps, dtype=dtype, device=device)
        self.k_norm = RMSNorm(head_dim, eps=torch.finfo(torch.float32).eps, dtype=dtype, device=device)
        # "linear1"/"linear2" are kernel-3 convolutions over neighbouring latent frames (quirk Q5)
        self.linear1 = operations.Conv1d(hidden_size, hidden_size, kernel_size=3, padding=1, bias=True,
                                         dtype=dtype, device=device)
        self.linear2 = ConvMLP(hidden_size, conv_mlp_hidden(hidden_size, mlp_ratio), 3,
                               dtype=dtype, device=device, operations=operations)

    def forward(self, x, vec, rope, transformer_options=None):
        """x [B, L, H], vec [B, L, H] (per-token conditioning) -> [B, L, H]."""
        attn_mod, mlp_mod = split_modulation(self.modulation(vec), 2)
        # LayerNorm eps 1e-5 here, 1e-6 elsewhere (quirk Q3)
        h = modulate(layer_norm(x, 1e-5), attn_mod.shift, attn_mod.scale).to(x.dtype)
        # fused projection packed as (heads, head_dim, Q|K|V): Q, K, V interleaved with stride 3 (quirk Q2)
        q, k, v = self.linear_qkv(h).unflatten(-1, (self.num_heads, -1, 3)).permute(4, 0, 2, 1, 3)
        q = apply_rope(self.q_norm(q), *rope)
        k = apply_rope(self.k_norm(k), *rope)
        out = self.attention_fn(q, k, v, transformer_options=transformer_options)
        x = x + conv_tokens(self.linear1, merge_heads(out)) * attn_mod.gate
        h = modulate(layer_norm(x, 1e-5), mlp_mod.shift, mlp_mod.scale).to(x.dtype)
        return x + self.linear2(h) * mlp_mod.gate


class AudioEmbedder(nn.Module):
    def __init__(self, latent_channels, hidden_size, dtype=None, device=None, operations=nn):
        super().__init__()
        self.proj = operations.Conv1d(latent_channels, hidden_size, kernel_size=1, bias=True,
                                      dtype=dtype, device=device)

    def forward(self, x):
        """[B, C, L] latents -> [B, L, H] tokens."""
        return self.proj(x).transpose(1, 2)


class TextProjection(nn.Module):
    def __init__(self, text_dim, hidden_size, dtype=None, device=None, operations=nn):
        super().__init__()
        self.linear_1 = operations.Linear(text_dim, hidden_size, bias=True, dtype=dtype, device=device)
        self.linear_2 = operations.Linear(hidden_size, hidden_size, bias=True, dtype=dtype, device=device)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class FinalLayer(nn.Module):
    def __init__(self, hidden_size, out_channels, dtype=None, device=None, operations=nn):
        super().__init__()
        self.linear = operations.Linear(hidden_size, out_channels, bias=True, dtype=dtype, device=device)
        # loaded to match the checkpoint but never applied: the official modulate() drops a per-token
        # shift/scale, so the released weights are defined without it (quirk Q1)
        self.adaLN_modulation = nn.Sequential(
            nn.SiLU(), operations.Linear(hidden_size, 2 * hidden_size, bias=True, dtype=dtype, device=device))

    def forward(self, x):
        return self.linear(layer_norm(x, 1e-6).to(x.dtype))


class HunyuanVideoFoley(nn.Module):
    def __init__(self, hidden_size=1536, num_heads=12, depth_triple=18, depth_single=36, mlp_ratio=4.0,
                 latent_channels=128, text_dim=768, clip_dim=768, sync_dim=768,
                 dtype=None, device=None, operations=None, compute_dtype=None, **ignored):
        super().__init__()
        operations = operations or nn
        # the activations' dtype: the weights' unless a host casts them per layer (ComfyUI's manual cast)
        self.compute_dtype = compute_dtype or dtype or torch.float32
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        layer_args = dict(dtype=dtype, device=device, operations=operations)

        self.audio_embedder = AudioEmbedder(latent_channels, hidden_size, **layer_args)
        self.visual_proj = SwiGLU(clip_dim, hidden_size, **layer_args)
        self.cond_in = TextProjection(text_dim, hidden_size, **layer_args)
        self.time_in = TimestepEmbedder(hidden_size, **layer_args)
        self.sync_pos_emb = nn.Parameter(torch.empty(1, 1, SYNC_SEGMENT, sync_dim, dtype=dtype, device=device))
        self.sync_in = nn.Sequential(
            operations.Linear(sync_dim, hidden_size, bias=True, dtype=dtype, device=device),
            nn.SiLU(),
            ConvMLP(hidden_size, conv_mlp_hidden(hidden_size, mlp_ratio), 1, **layer_args),
        )
        self.triple_blocks = nn.ModuleList(
            TripleStreamBlock(hidden_size, num_heads, mlp_ratio, **layer_args) for _ in range(depth_triple))
        self.single_blocks = nn.ModuleList(
            SingleStreamBlock(hidden_size, num_heads, mlp_ratio, **layer_args) for _ in range(depth_single))
        self.final_layer = FinalLayer(hidden_size, latent_channels, **layer_args)
        self.empty_clip_feat = nn.Parameter(torch.empty(1, clip_dim, dtype=dtype, device=device))
        self.empty_sync_feat = nn.Parameter(torch.empty(1, sync_dim, dtype=dtype, device=device))
        self._conditions_cache = None  # a dict inside cached_conditions()

    def empty_clip(self, batch, length):
        """Learned "no video" SigLIP2 features [batch, length, clip_dim]."""
        return self.empty_clip_feat.unsqueeze(0).expand(batch, length, -1)

    def empty_sync(self, batch, length):
        """Learned "no video" Synchformer features [batch, length, sync_dim]."""
        return self.empty_sync_feat.unsqueeze(0).expand(batch, length, -1)

    def cached_conditions(self):
        """`with model.cached_conditions():` forwards inside reuse the work that depends neither on the latent
        nor on the timestep (text projection and every block's text keys/values, SigLIP2 projection,
        Synchformer conditioning) for conditioning tensors they have seen: a sampling run computes it once,
        or once per window. Tensors are recognised by identity (the same tensor, or the same view of it,
        unchanged), never by value; the cache lives until the block ends and holds them until then."""
        return _ConditionsScope(self)

    def _cached(self, kind, tensors, extra, compute):
        cache = self._conditions_cache
        if cache is None:
            return compute()
        key = (kind, extra, *(tensor_identity(t) for t in tensors))
        hit = cache.get(key)
        if hit is None:
            if len(cache) >= 64:  # bounded: e.g. many windows
                cache.clear()
            hit = cache[key] = (tensors, compute())  # the tensors themselves: their memory cannot be reused
        return hit[1]

    def _text_conditions(self, text, rope):
        text = self.cond_in(text.to(self.compute_dtype))
        return text, [block.text_kv(text, rope) for block in self.triple_blocks]

    def _video_conditions(self, clip, sync, audio_len):
        sync = sync.unflatten(1, (-1, SYNC_SEGMENT)) + self.sync_pos_emb.to(sync)
        sync = self.sync_in(sync.flatten(1, 2).to(self.compute_dtype))
        sync = sync[:, nearest_exact_index(sync.shape[1], audio_len, sync.device)]
        return sync, self.visual_proj(clip.to(self.compute_dtype))

    def forward(self, x, t, text, clip, sync, transformer_options=None):
        """x [B, C, L] latents, t [B] (sigma * 1000), text [B, Lt, text_dim], clip [B, Lv, clip_dim],
        sync [B, Ls, sync_dim] (Ls a multiple of 8) -> velocity [B, C, L] in the compute dtype.
        transformer_options: a host's per-call options, handed to every block and attention call."""
        dtype = self.compute_dtype
        audio_len = x.shape[2]
        vec = self.time_in(t, dtype)

        sync, visual = self._cached("video", (clip, sync), (audio_len, dtype),
                                    lambda: self._video_conditions(clip, sync, audio_len))
        rope = _rope_tables(audio_len, visual.shape[1], text.shape[1], self.head_dim, x.device)
        text, text_kv = self._cached("text", (text,), (dtype, rope["cross_text"][0].shape),
                                     lambda: self._text_conditions(text, rope))
        audio = self.audio_embedder(x.to(dtype)) + sync

        last = len(self.triple_blocks) - 1
        for i in range(len(self.triple_blocks)):
            audio, visual = self.run_triple_block(i, audio, text, visual, vec, rope, visual_out=i < last,
                                                  text_kv=text_kv[i], transformer_options=transformer_options)

        vec = sync + vec.unsqueeze(1)
        for i in range(len(self.single_blocks)):
            audio = self.run_single_block(i, audio, vec, rope["cross_audio"], transformer_options=transformer_options)
        return self.final_layer(audio).transpose(1, 2)

    # one place per block kind where the forward calls a block, so that a host can replace blocks
    def run_triple_block(self, index, audio, text, visual, vec, rope, visual_out, text_kv, transformer_options):
        return self.triple_blocks[index](audio, text, visual, vec, rope, visual_out=visual_out, text_kv=text_kv,
                                         transformer_options=transformer_options)

    def run_single_block(self, index, audio, vec, rope, transformer_options):
        return self.single_blocks[index](audio, vec, rope, transformer_options=transformer_options)


def tensor_identity(tensor):
    """What tells one tensor (or view) from another while it is alive: storage address, geometry, dtype,
    device and the in-place write counter (inference tensors have none: they cannot be written outside
    inference mode)."""
    try:
        version = tensor._version
    except RuntimeError:
        version = None
    return (tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), tensor.dtype, tensor.device, version)


class _ConditionsScope:
    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.saved = self.model._conditions_cache
        if self.saved is None:
            self.model._conditions_cache = {}
        return self.model

    def __exit__(self, *exc):
        self.model._conditions_cache = self.saved


def mmdit_config_from_state_dict(sd):
    """Constructor kwargs of HunyuanVideoFoley inferred from the tensor shapes of a state dict."""
    def need(*keys):
        for key in keys:
            if key in sd:
                return sd[key]
        raise ValueError(f"not a HunyuanVideo-Foley MMDiT state dict: missing {' or '.join(map(repr, keys))}")

    hidden_size, latent_channels = need("audio_embedder.proj.weight").shape[:2]
    head_dim = need("triple_blocks.0.audio_self_q_norm.weight", "single_blocks.0.q_norm.weight").shape[0]
    fc1 = sd.get("triple_blocks.0.audio_mlp.fc1.weight")
    return dict(
        hidden_size=hidden_size,
        num_heads=hidden_size // head_dim,
        depth_triple=block_count(sd, "triple_blocks."),
        depth_single=block_count(sd, "single_blocks."),
        mlp_ratio=fc1.shape[0] / hidden_size if fc1 is not None else 4.0,
        latent_channels=latent_channels,
        text_dim=need("cond_in.linear_1.weight").shape[1],
        clip_dim=need("visual_proj.w1.weight").shape[1],
        sync_dim=need("sync_in.0.weight").shape[1],
    )
