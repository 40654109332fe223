"""Choosing among candidates: the DeSync and CLAP scores of each audio of a batch, the order best first, and a
spectrogram strip of each audio to show them side by side."""
import numpy as np
import torch

from .dsp import mono_mix
from .media.clock import SYNCHFORMER_FPS
from .sync_score import MIN_FRAMES

MIN_SCORE_SECONDS = MIN_FRAMES / SYNCHFORMER_FPS  # DeSync compares the first and the last 14 segments (spec §8)


def require_score_length(seconds, what="the audio"):
    if seconds < MIN_SCORE_SECONDS:
        raise ValueError(f"{what} is {seconds:.2f} s long; DeSync needs at least {MIN_SCORE_SECONDS} s "
                         f"(it compares the first and the last {MIN_SCORE_SECONDS} s of the clip)")


def score_candidates(sync, frames, waveform, sample_rate, prompt="", text_audio=None):
    """[{index, desync, offset, offsets, clap}] of each audio of `waveform` [B, C, N] against `frames` (uint8
    [T, H, W, 3] at 25 fps, Synchformer-sized, cut here to the audio's length). `sync` is a SyncScorer,
    `text_audio` a CLAP scorer for `prompt` (None: clap is None). The video is encoded once for all."""
    require_score_length(waveform.shape[-1] / sample_rate)
    frames = frames[: int(waveform.shape[-1] / sample_rate * SYNCHFORMER_FPS)]  # the common length
    require_score_length(len(frames) / SYNCHFORMER_FPS, "the video under the audio")
    frames = torch.as_tensor(frames)
    candidates, visual_cache = [], {}
    for index, item in enumerate(waveform):
        mono = mono_mix(item)
        result = sync.desync(frames, mono, sample_rate, visual_cache=visual_cache)
        candidates.append({
            "index": index, "desync": float(result["desync"]), "offset": float(result["offsets"].mean()),
            "offsets": [float(o) for o in result["offsets"]],
            "clap": float(text_audio.score(prompt, mono, sample_rate)) if text_audio is not None else None,
        })
    return candidates


def candidates_table(candidates):
    rows = ["#  DeSync  offset    CLAP"]
    rows += [f"{c['index']:<2} {c['desync']:6.2f}  {c['offset']:+5.2f} s  "
             + ("  -  " if c["clap"] is None else f"{c['clap']:5.3f}") for c in candidates]
    return "\n".join(rows)


def best_first(candidates):
    """Best first: the lowest DeSync (sync is what the model is for), then the highest CLAP score."""
    return sorted(candidates, key=lambda c: (round(c["desync"], 6), -(c["clap"] if c["clap"] is not None else -2)))


def spectrogram_image(waveform, sample_rate, width=1200, height=72):
    """uint8 RGB [height, width, 3]: the log-magnitude spectrogram (0-12 kHz, low at the bottom, 40 dB shown)
    of the mono mix of `waveform`, dark blue to pale yellow."""
    wave = mono_mix(waveform)
    hop = max(1, wave.shape[-1] // width)
    spec = torch.stft(wave, n_fft=1024, hop_length=hop, window=torch.hann_window(1024), return_complex=True).abs()
    spec = spec[: 1024 * 12000 // sample_rate].clamp_min(1e-5).log10()
    spec = torch.nn.functional.interpolate(spec[None, None], size=(height, width), mode="area")[0, 0]
    level = ((spec - spec.max() + 4).clamp(0, 4) / 4).flip(0).numpy()
    rgb = np.stack([level ** 0.5, level, 0.35 + 0.5 * level], axis=-1)
    return (rgb * 255).astype(np.uint8)
