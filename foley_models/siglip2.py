"""SigLIP2 vision tower (google/siglip2-base-patch16-512) through transformers: one 768-d vector per frame."""
import numpy as np
import torch
from PIL import Image

from .hf_folder import quiet_transformers, require_folder

SIGLIP2_HUB_ID = "google/siglip2-base-patch16-512"


class SigLIP2Encoder(torch.nn.Module):
    def __init__(self, model, image_size):
        super().__init__()
        self.model = model
        self.image_size = image_size

    def preprocess(self, frames_u8):
        """uint8 [T, H, W, 3] -> [T, 3, S, S] in [-1, 1]; the official path stretches to S x S with PIL bilinear."""
        size = (self.image_size, self.image_size)
        frames = np.asarray(frames_u8)
        resized = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR)) for f in frames])
        pixels = torch.from_numpy(resized).permute(0, 3, 1, 2).float() / 255.0
        return (pixels - 0.5) / 0.5

    @torch.no_grad()
    def encode_frames(self, frames_u8, batch_size=16):
        """uint8 frames at 8 fps -> [1, T, D] pooled features (no projection, no normalisation)."""
        if len(frames_u8) == 0:
            raise ValueError("SigLIP2 got no frames")
        param = next(self.model.parameters())
        chunks = []
        for start in range(0, len(frames_u8), batch_size):
            pixels = self.preprocess(frames_u8[start:start + batch_size]).to(param.device, param.dtype)
            chunks.append(self.model(pixel_values=pixels).pooler_output.float())
        return torch.cat(chunks).unsqueeze(0)


def load_siglip2(folder, device="cpu", dtype=torch.float32):
    """The SigLIP2 vision tower from a local copy of google/siglip2-base-patch16-512 (text tower unused)."""
    from transformers import SiglipVisionModel

    folder = require_folder(folder, "SigLIP2", SIGLIP2_HUB_ID)
    with quiet_transformers():
        model = SiglipVisionModel.from_pretrained(folder, local_files_only=True)
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return SigLIP2Encoder(model, model.config.image_size)
