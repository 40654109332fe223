"""Peak memory of read_video_frames on a 15 s 3840x2160 h264 clip, resizing while decoding vs. keeping full frames.

    .venv/bin/python benchmarks/video_ram.py [--baseline-duration SECONDS] [--keep DIR]

Writes the clip into a temporary folder, then reads it (rates 8 and 25, as the pipeline does) in a fresh
subprocess per case and prints that process's peak RSS (ru_maxrss) and the read time. Full frames cost
~25 MB each (the old behaviour keeps ~500 of them, >20 GB for 15 s), so the baseline reads only
--baseline-duration seconds by default; pass 15 on a machine with the memory for it.
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_clip(path, seconds=15, fps=25, width=3840, height=2160):
    """Grey ramp with a bright square moving across it, written straight as yuv420p (no RGB conversion)."""
    import av
    import numpy as np

    ramp = np.tile(np.linspace(16, 235, width, dtype=np.uint8), (height, 1))
    chroma = np.full((height // 2, width), 128, np.uint8)  # U and V planes, stacked as PyAV's yuv420p array wants
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "28"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(seconds * fps)):
            luma = ramp.copy()
            x = (i * 37) % (width - 400)
            luma[800:1200, x:x + 400] = 235
            frame = av.VideoFrame.from_ndarray(np.concatenate([luma, chroma]), format="yuv420p")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure(path, resized, duration):
    """Runs in the subprocess: one read, then a JSON line of figures."""
    from foley_models.media import read_video_frames
    from foley_models.siglip2 import resize_frame
    from foley_models.synchformer import resize_crop_frame

    after_imports = peak_rss_mb()
    transforms = {8: partial(resize_frame, size=512), 25: resize_crop_frame} if resized else None
    began = time.perf_counter()
    result = read_video_frames(path, rates=(8, 25), duration=duration, transforms=transforms)
    seconds = time.perf_counter() - began
    print(json.dumps({
        "peak_rss_mb": round(peak_rss_mb()), "rss_after_imports_mb": round(after_imports), "read_s": round(seconds, 2),
        "frames": {rate: list(frames.shape) for rate, frames in result.frames.items()},
        "kept_mb": round(sum(f.nbytes for f in result.frames.values()) / 2**20)}))


def run_case(path, resized, duration):
    command = [sys.executable, __file__, "--measure", str(path), "--duration", str(duration)]
    if resized:
        command.append("--resized")
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-duration", type=float, default=4.0,
                        help="seconds the full-frame (old) read covers (default 4; 15 needs >24 GB of RAM)")
    parser.add_argument("--keep", type=Path, help="write the clip into this folder and keep it")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--resized", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.resized, args.duration)
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        clip = folder / "clip_15s_3840x2160.mp4"
        began = time.perf_counter()
        write_clip(clip)
        print(f"wrote {clip.name}: {clip.stat().st_size / 2**20:.1f} MiB in {time.perf_counter() - began:.1f} s")
        for label, resized, duration in (("resized while decoding, 15 s", True, 15.0),
                                         (f"full frames (old behaviour), {args.baseline_duration:g} s", False,
                                          args.baseline_duration)):
            figures = run_case(clip, resized, duration)
            print(f"{label}: peak RSS {figures['peak_rss_mb']} MB (after imports {figures['rss_after_imports_mb']} MB), "
                  f"read {figures['read_s']} s, frames {figures['frames']}, kept {figures['kept_mb']} MB")


if __name__ == "__main__":
    main()
