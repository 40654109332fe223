"""SigLIP2 vision tower (google/siglip2-base-patch16-512) through transformers: one 768-d vector per frame."""
import numpy as np
import torch
from PIL import Image

from .hf_folder import quiet_transformers, require_folder

SIGLIP2_HUB_ID = "google/siglip2-base-patch16-512"


def resize_frame(frame_u8, size):
    """uint8 [H, W, 3] -> uint8 [size, size, 3]: the official stretch to size x size with PIL bilinear
    (antialiased when downscaling). At size x size already it is a copy, so preprocessing resized frames
    gives the same tensor as preprocessing the originals."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(frame_u8)).resize((size, size), Image.BILINEAR))


class SigLIP2Encoder(torch.nn.Module):
    def __init__(self, model, image_size):
        super().__init__()
        self.model = model
        self.image_size = image_size

    def preprocess(self, frames_u8):
        """uint8 [T, H, W, 3] -> [T, 3, S, S] in [-1, 1]; frames already S x S (resize_frame) are only normalised."""
        resized = np.stack([resize_frame(f, self.image_size) for f in np.asarray(frames_u8)])
        pixels = torch.from_numpy(resized).permute(0, 3, 1, 2).float() / 255.0
        return (pixels - 0.5) / 0.5

    def encode_frames(self, frames_u8, batch_size=16):
        """uint8 frames at 8 fps -> [1, T, D] pooled features (no projection, no normalisation)."""
        return self.encode_frame_chunks([frames_u8], batch_size)

    @torch.no_grad()
    def encode_frame_chunks(self, chunks, batch_size=16):
        """encode_frames() of the concatenation of `chunks` (e.g. a media.VideoFrameStream), `batch_size`
        frames at a time on the device."""
        param = next(self.model.parameters())
        features = []
        for chunk in chunks:
            for start in range(0, len(chunk), batch_size):
                pixels = self.preprocess(chunk[start:start + batch_size]).to(param.device, param.dtype)
                features.append(self.model(pixel_values=pixels).pooler_output.float())
        if not features:
            raise ValueError("SigLIP2 got no frames")
        return torch.cat(features).unsqueeze(0)


def load_siglip2(folder, device="cpu", dtype=torch.float32):
    """The SigLIP2 vision tower from a local copy of google/siglip2-base-patch16-512 (text tower unused)."""
    from transformers import SiglipVisionModel

    folder = require_folder(folder, "SigLIP2", SIGLIP2_HUB_ID)
    with quiet_transformers():
        model = SiglipVisionModel.from_pretrained(folder, local_files_only=True)
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return SigLIP2Encoder(model, model.config.image_size)
