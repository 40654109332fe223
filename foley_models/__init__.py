"""HunyuanVideo-Foley in plain PyTorch: models, checkpoint loading, sampling and media I/O.

Nothing here imports ComfyUI; the node pack in `nodes/` adapts these calls to ComfyUI types.
"""
from .clap import DEFAULT_NEGATIVE_PROMPT, load_clap, load_clap_scorer
from .loading import (CheckpointError, build_dac_vae, build_mmdit, build_sync_scorer, build_synchformer,
                      identify_checkpoint, load_dac_vae, load_mmdit, load_sync_scorer, load_synchformer,
                      read_checkpoint)
from .media import (LATENT_RATE, OFFICIAL_MAX_SECONDS, SAMPLE_RATE, SIGLIP2_FPS, SYNCHFORMER_FPS, frame_indices,
                    latent_length)
from .sampling import flow_sigmas, sample_euler_cfg
from .siglip2 import load_siglip2
from .sync_score import sync_audio_input
from .windows import WindowedMMDiT

__all__ = [
    "CheckpointError", "DEFAULT_NEGATIVE_PROMPT", "LATENT_RATE", "OFFICIAL_MAX_SECONDS", "SAMPLE_RATE", "SIGLIP2_FPS",
    "SYNCHFORMER_FPS", "build_dac_vae", "build_mmdit", "build_sync_scorer", "build_synchformer", "flow_sigmas",
    "frame_indices", "identify_checkpoint", "latent_length", "load_clap", "load_clap_scorer", "load_dac_vae",
    "load_mmdit", "load_siglip2", "load_sync_scorer", "load_synchformer", "read_checkpoint", "sample_euler_cfg",
    "sync_audio_input", "WindowedMMDiT",
]
