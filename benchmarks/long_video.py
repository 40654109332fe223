"""Peak RAM and time of the whole pipeline on long videos (CPU): streaming frame reading, the video encoders,
windowed sampling with a mid-size random MMDiT, chunked VAE decode, muxing.

    .venv/bin/python benchmarks/long_video.py [--seconds 10 60 300] [--steps 2]

Each length runs in a fresh process (ru_maxrss is a process's peak). Speed and memory do not depend on
weight values, so every model is random: a mid-size MMDiT (hidden 512, 2 + 4 blocks), 96-d video encoders
of one layer, the tiny DAC VAE of tests/fixtures. The video is 320x180 at 25 fps, written first.
The question it answers: does memory grow faster than the latent and the features themselves?
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_clip(path, seconds, fps=25, width=320, height=180):
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        base = np.tile(np.linspace(0, 255, width, dtype=np.uint8)[None, :, None], (height, 1, 3))
        for i in range(int(seconds * fps)):
            img = np.roll(base, 7 * i, axis=1)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode(None))


def run_one(video, steps):
    import torch
    from transformers import SiglipVisionConfig, SiglipVisionModel

    from foley_models import media, windows
    from foley_models.loading import load_dac_vae
    from foley_models.mmdit import HunyuanVideoFoley
    from foley_models.muxing import mux_audio_into_video
    from foley_models.sampling import sample_euler_cfg
    from foley_models.siglip2 import SigLIP2Encoder, resize_frame
    from foley_models.synchformer import Synchformer, resize_crop_frame

    torch.manual_seed(0)
    width = 96
    sync_model = Synchformer(embed_dim=width, depth=1, num_heads=12).eval()
    siglip = SigLIP2Encoder(SiglipVisionModel(SiglipVisionConfig(
        hidden_size=width, num_hidden_layers=1, num_attention_heads=2, intermediate_size=192, image_size=224,
        patch_size=16)).eval(), 224)
    model = HunyuanVideoFoley(hidden_size=512, num_heads=8, depth_triple=2, depth_single=4, clip_dim=width,
                              sync_dim=width).eval()
    for p in [*sync_model.parameters(), *model.parameters()]:
        p.data.normal_(0, 0.02)
    vae = load_dac_vae(ROOT / "tests" / "fixtures" / "dac_vae_tiny" / "vae_128d_48k.pth")
    timings = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - t0, 2)
        return out

    with torch.inference_mode():
        sync_stream = media.VideoFrameStream(video, 25, transform=resize_crop_frame)
        sync = timed("synchformer", lambda: sync_model.encode_frame_chunks(sync_stream))
        clip = timed("siglip2", lambda: siglip.encode_frame_chunks(
            media.VideoFrameStream(video, 8, transform=lambda f: resize_frame(f, 224))))
        n25 = len(media.frame_indices(sync_stream.frame_times, 25, float("inf")))
        length = media.latent_length(n25)
        text = torch.randn(1, 77, 768)
        noise = torch.randn(1, 128, length)
        latent = timed("sampling", lambda: sample_euler_cfg(windows.WindowedMMDiT(model), noise, text, text, clip,
                                                            sync, steps=steps, cfg=4.5))
        audio = timed("decode", lambda: vae.decode_chunked(latent))
        timed("mux", lambda: mux_audio_into_video(video, audio[0], 48000, str(video) + ".out.mp4"))
    data_mb = sum(t.numel() * t.element_size() for t in (sync, clip, latent, noise, audio)) / 2**20
    return {"latent_frames": length, "latent_features_audio_mb": round(data_mb, 1), **timings,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 60, 300])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.steps)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.seconds:
            video = Path(tmp) / f"clip_{seconds:g}s.mp4"
            write_clip(video, seconds)
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, __file__, "--child", str(video), "--steps", str(args.steps)],
                                 capture_output=True, text=True, check=True)
            row = {"seconds": seconds, **json.loads(out.stdout.strip().splitlines()[-1]),
                   "total_s": round(time.perf_counter() - t0, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    keys = list(rows[0])
    print("\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
