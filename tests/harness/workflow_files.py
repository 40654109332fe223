"""Placeholder checkpoints for the core (HunyuanVideo) loaders of the shared workflows: validation checks names only."""

HUNYUAN_FILES = {"diffusion_models": ["hunyuan_video_t2v_720p_bf16.safetensors",
                                     "hunyuanvideo1.5_720p_t2v_fp16.safetensors",
                                     "hunyuanvideo1.5_720p_i2v_fp16.safetensors"],
                 "text_encoders": ["clip_l.safetensors", "llava_llama3_fp8_scaled.safetensors",
                                   "qwen_2.5_vl_7b_fp8_scaled.safetensors", "byt5_small_glyphxl_fp16.safetensors"],
                 "vae": ["hunyuan_video_vae_bf16.safetensors", "hunyuanvideo15_vae_fp16.safetensors"],
                 "clip_vision": ["sigclip_vision_patch14_384.safetensors"]}


def write_placeholders(models_dir):
    for folder, files in HUNYUAN_FILES.items():
        (models_dir / folder).mkdir(parents=True, exist_ok=True)
        for name in files:
            (models_dir / folder / name).write_bytes(b"placeholder")
