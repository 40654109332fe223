"""DAC VAE (`vae_128d_48k`): 48 kHz mono audio <-> 128-d latents at 50 frames per second.

Continuous DAC: a strided convolutional encoder with Snake activations, a diagonal Gaussian
bottleneck (quant_conv) and a transposed-convolution decoder (post_quant_conv first, tanh last).
Weight-normalised convolutions keep the checkpoint's `weight_g` / `weight_v` parameters.
"""
import inspect
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .dsp import mono_mix, require_finite_audio
from .media.audio import resample_audio

DAC_CONFIG = {
    "encoder_dim": 128,
    "encoder_rates": (2, 3, 4, 5, 8),
    "latent_dim": 128,
    "decoder_dim": 2048,
    "decoder_rates": (8, 5, 4, 3, 2),
    "sample_rate": 48000,
}


def _weight_norm(weight_g, weight_v):
    # Quirk D3: the norm runs over every dim but 0 of the stored weight, also for transposed convs
    # (where dim 0 is the input channel). Folded in fp32 whatever the storage dtype.
    v = weight_v.float()
    return v * (weight_g.float() / v.norm(dim=tuple(range(1, v.ndim)), keepdim=True))


class _WeightNormConv(nn.Module):
    """A convolution whose weight is stored as the checkpoint's `weight_g` (norms) and `weight_v` (directions)."""

    def __init__(self, norm_channels, weight_shape, out_channels, dtype, device):
        super().__init__()
        self.weight_g = nn.Parameter(torch.empty(norm_channels, 1, 1, dtype=dtype, device=device))
        self.weight_v = nn.Parameter(torch.empty(*weight_shape, dtype=dtype, device=device))
        self.bias = nn.Parameter(torch.empty(out_channels, dtype=dtype, device=device))

    def weight_and_bias(self, x):
        return _weight_norm(self.weight_g, self.weight_v).to(x.dtype), self.bias.to(x.dtype)


class WNConv1d(_WeightNormConv):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 dtype=None, device=None):
        super().__init__(out_channels, (out_channels, in_channels, kernel_size), out_channels, dtype, device)
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def forward(self, x):
        return F.conv1d(x, *self.weight_and_bias(x), self.stride, self.padding, self.dilation)


class WNConvTranspose1d(_WeightNormConv):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding,
                 dtype=None, device=None):
        super().__init__(in_channels, (in_channels, out_channels, kernel_size), out_channels, dtype, device)
        self.stride, self.padding, self.output_padding = stride, padding, output_padding

    def forward(self, x):
        return F.conv_transpose1d(x, *self.weight_and_bias(x), self.stride, self.padding, self.output_padding)


class Snake1d(nn.Module):
    def __init__(self, channels, dtype=None, device=None):
        super().__init__()
        self.alpha = nn.Parameter(torch.empty(1, channels, 1, dtype=dtype, device=device))

    def forward(self, x):
        alpha = self.alpha.to(x.dtype)
        return x + (alpha + 1e-9).reciprocal() * torch.sin(alpha * x).pow(2)


class ResidualUnit(nn.Module):
    def __init__(self, dim, dilation, dtype=None, device=None):
        super().__init__()
        self.block = nn.Sequential(
            Snake1d(dim, dtype=dtype, device=device),
            WNConv1d(dim, dim, 7, padding=3 * dilation, dilation=dilation, dtype=dtype, device=device),
            Snake1d(dim, dtype=dtype, device=device),
            WNConv1d(dim, dim, 1, dtype=dtype, device=device),
        )

    def forward(self, x):
        return x + self.block(x)


class EncoderBlock(nn.Module):
    def __init__(self, dim, stride, dtype=None, device=None):
        super().__init__()
        half = dim // 2
        self.block = nn.Sequential(
            *(ResidualUnit(half, d, dtype=dtype, device=device) for d in (1, 3, 9)),
            Snake1d(half, dtype=dtype, device=device),
            WNConv1d(half, dim, 2 * stride, stride=stride, padding=math.ceil(stride / 2), dtype=dtype, device=device),
        )

    def forward(self, x):
        return self.block(x)


class DecoderBlock(nn.Module):
    def __init__(self, in_dim, out_dim, stride, dtype=None, device=None):
        super().__init__()
        self.block = nn.Sequential(
            Snake1d(in_dim, dtype=dtype, device=device),
            WNConvTranspose1d(in_dim, out_dim, 2 * stride, stride, math.ceil(stride / 2), stride % 2,
                              dtype=dtype, device=device),
            *(ResidualUnit(out_dim, d, dtype=dtype, device=device) for d in (1, 3, 9)),
        )

    def forward(self, x):
        return self.block(x)


class Encoder(nn.Module):
    def __init__(self, dim, rates, latent_dim, dtype=None, device=None):
        super().__init__()
        layers = [WNConv1d(1, dim, 7, padding=3, dtype=dtype, device=device)]
        for stride in rates:
            dim *= 2
            layers.append(EncoderBlock(dim, stride, dtype=dtype, device=device))
        layers += [Snake1d(dim, dtype=dtype, device=device),
                   WNConv1d(dim, latent_dim, 3, padding=1, dtype=dtype, device=device)]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)


class Decoder(nn.Module):
    def __init__(self, latent_dim, dim, rates, dtype=None, device=None):
        super().__init__()
        layers = [WNConv1d(latent_dim, dim, 7, padding=3, dtype=dtype, device=device)]
        for stride in rates:
            layers.append(DecoderBlock(dim, dim // 2, stride, dtype=dtype, device=device))
            dim //= 2
        layers += [Snake1d(dim, dtype=dtype, device=device),
                   WNConv1d(dim, 1, 7, padding=3, dtype=dtype, device=device),
                   nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


# latent frames on each side beyond which a decoded sample (or an encoded frame) does not depend on its
# input: measured receptive fields are about 11 (decoder) and 8 (encoder) latent frames, from the kernel-7
# convs and the dilated residual units at each rate
CHUNK_CONTEXT = 16


class DacVAE(nn.Module):
    def __init__(self, encoder_dim=128, encoder_rates=(2, 3, 4, 5, 8), latent_dim=128, decoder_dim=2048,
                 decoder_rates=(8, 5, 4, 3, 2), sample_rate=48000, dtype=None, device=None, operations=None,
                 **ignored):
        super().__init__()
        operations = operations or nn
        self.compute_dtype = dtype or torch.float32
        self.hop_length = math.prod(encoder_rates)
        self.sample_rate = sample_rate
        self.latent_dim = latent_dim
        self.encoder = Encoder(encoder_dim, encoder_rates, latent_dim, dtype=dtype, device=device)
        self.quant_conv = operations.Conv1d(latent_dim, 2 * latent_dim, 1, dtype=dtype, device=device)
        self.post_quant_conv = operations.Conv1d(latent_dim, latent_dim, 1, dtype=dtype, device=device)
        self.decoder = Decoder(latent_dim, decoder_dim, decoder_rates, dtype=dtype, device=device)

    def encode(self, wav):
        """wav [B, 1, N] -> (mean, logvar), each [B, latent_dim, ceil(N / hop_length)]."""
        x = require_finite_audio(wav, "DAC VAE encode").to(self.compute_dtype)
        # The official `preprocess`: right zero-padding to a multiple of the hop, so any length works.
        x = F.pad(x, (0, -x.shape[-1] % self.hop_length))
        moments = self.quant_conv(self.encoder(x))
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, latent):
        """latent [B, latent_dim, L] -> waveform [B, 1, hop_length * L] in (-1, 1)."""
        return self.decoder(self.post_quant_conv(latent.to(self.compute_dtype)))

    def decode_chunked(self, latent, chunk=500, context=CHUNK_CONTEXT):
        """decode() in pieces of `chunk` latent frames, each with `context` frames of its neighbours on both
        sides that are cut off again, so memory does not grow with the length; equal to a whole decode up
        to float rounding (tests/test_dac_vae.py)."""
        return _chunked(self.decode, latent, latent.shape[-1], chunk, context, self.hop_length, 1)

    def encode_chunked(self, wav, chunk=500, context=CHUNK_CONTEXT):
        """encode() (mean, logvar) in pieces of `chunk` latent frames of audio, as decode_chunked."""
        wav = F.pad(wav, (0, -wav.shape[-1] % self.hop_length))
        pieces = _chunked(lambda w: torch.cat(self.encode(w), dim=1), wav, wav.shape[-1] // self.hop_length, chunk,
                          context, 1, self.hop_length)
        return pieces.chunk(2, dim=1)

    def encode_audio(self, waveform, sample_rate, what="DAC VAE encode"):
        """Audio [B, C, N] (any channels, any rate) -> latent [B, latent_dim, L], the posterior mean of its mono
        mix at the model's rate; `what` names the caller in the error about non-finite samples."""
        if waveform.ndim != 3:
            raise ValueError(f"{what}: expected audio [batch, channels, samples], got shape {list(waveform.shape)}")
        if waveform.shape[-1] == 0:
            raise ValueError(f"{what}: the audio has 0 samples")
        mono = torch.stack([mono_mix(item) for item in require_finite_audio(waveform, what)])
        if sample_rate != self.sample_rate:
            mono = torch.stack([resample_audio(m[None], sample_rate, self.sample_rate)[0] for m in mono])
        with torch.inference_mode():
            mean, _ = self.encode_chunked(mono[:, None].to(next(self.parameters()).device))
        return mean


def _chunked(run, x, length, chunk, context, out_per_frame, in_per_frame):
    """run() over pieces of `chunk` latent frames of x (with `context` frames on each side), joined."""
    if length <= chunk + 2 * context:
        return run(x)
    joined = None  # filled piece by piece: no list of pieces and second copy for a concatenation
    for start in range(0, length, chunk):
        lo, hi = max(0, start - context), min(length, start + chunk + context)
        out = run(x[..., lo * in_per_frame:hi * in_per_frame])
        if joined is None:
            joined = out.new_empty(*out.shape[:-1], length * out_per_frame)
        first, size = (start - lo) * out_per_frame, (min(start + chunk, length) - start) * out_per_frame
        joined[..., start * out_per_frame:start * out_per_frame + size] = out[..., first:first + size]
    return joined


def dac_config_from_state_dict(sd):
    """Constructor kwargs of DacVAE inferred from the tensor shapes of an official state dict."""
    def rates(fmt):
        found = []
        while fmt.format(len(found) + 1) in sd:
            found.append(sd[fmt.format(len(found) + 1)].shape[-1] // 2)  # kernel = 2 * stride
        return tuple(found)

    def width(key):
        if key not in sd:
            raise ValueError(f"not a complete DAC VAE state dict: missing {key!r}")
        return sd[key].shape[0]

    return {
        "encoder_dim": width("encoder.block.0.weight_v"),
        "encoder_rates": rates("encoder.block.{}.block.4.weight_v"),
        "latent_dim": width("post_quant_conv.weight"),
        "decoder_dim": width("decoder.model.0.weight_v"),
        "decoder_rates": rates("decoder.model.{}.block.1.weight_v"),
    }


def dac_config_from_metadata(kwargs):
    """The checkpoint's `metadata["kwargs"]` reduced to DacVAE's constructor arguments."""
    params = inspect.signature(DacVAE.__init__).parameters
    allowed = {n for n, p in params.items() if p.kind == p.POSITIONAL_OR_KEYWORD} - {"self", "dtype", "device", "operations"}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items() if k in allowed}
