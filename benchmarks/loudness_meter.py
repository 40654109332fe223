"""The pack's BS.1770 integrated-loudness meter (foley_models/mixing.py) against torchaudio's: the reading and the
CPU time of each on the same noise, quiet enough that torchaudio's filters (which clamp their output to +-1) do
not clip it.

    .venv/bin/python benchmarks/loudness_meter.py [--seconds 2] [--rate 48000] [--level 0.05]
"""
import argparse
import sys
import time
from pathlib import Path

import torch
import torchaudio.functional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from foley_models import mixing  # noqa: E402


def timed(fn):
    start = time.process_time()
    value = float(fn())
    return value, time.process_time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--level", type=float, default=0.05, help="standard deviation of the stereo noise")
    args = parser.parse_args()
    noise = torch.randn(2, round(args.seconds * args.rate), generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64) * args.level
    reference, reference_s = timed(lambda: torchaudio.functional.loudness(noise, args.rate))
    pack, pack_s = timed(lambda: mixing.integrated_loudness(noise, args.rate))
    print(f"{args.seconds:g} s of stereo noise at {args.rate} Hz: torchaudio {reference:.12f} LUFS "
          f"({reference_s:.2f} s CPU), pack {pack:.12f} LUFS ({pack_s:.3f} s CPU), difference {abs(reference - pack):.1e} LU")


if __name__ == "__main__":
    main()
