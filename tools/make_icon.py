#!/usr/bin/env python3
"""Draw the pack's registry icon, assets/icon.png: a waveform under a film frame (256 x 256, Pillow only).

    python tools/make_icon.py [OUT.png]
"""
import math
import sys
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 256
SCALE = 4  # drawn large and scaled down: smooth edges without anti-aliasing support in ImageDraw
BACKGROUND = (24, 28, 38)
FILM = (226, 230, 236)
FRAME = (62, 92, 150)
WAVE = (255, 170, 60)


def draw(size=SIZE):
    s = size * SCALE
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(image)
    d.rounded_rectangle((0, 0, s - 1, s - 1), radius=s // 8, fill=BACKGROUND)

    # film frame: a strip with sprocket holes above and below the picture
    left, right, top, bottom = int(s * 0.14), int(s * 0.86), int(s * 0.12), int(s * 0.56)
    d.rounded_rectangle((left, top, right, bottom), radius=s // 40, fill=FILM)
    hole_w, hole_h = int(s * 0.045), int(s * 0.04)
    for i in range(7):
        x = left + int((right - left) * (i + 0.5) / 7) - hole_w // 2
        for y in (top + int(s * 0.02), bottom - int(s * 0.02) - hole_h):
            d.rounded_rectangle((x, y, x + hole_w, y + hole_h), radius=hole_w // 4, fill=BACKGROUND)
    pic_top, pic_bottom = top + int(s * 0.08), bottom - int(s * 0.08)
    d.rectangle((left + int(s * 0.03), pic_top, right - int(s * 0.03), pic_bottom), fill=FRAME)
    # a ball at the moment of an impact, the picture the example clip shows
    r = int(s * 0.05)
    cx, cy = s // 2, pic_bottom - r - int(s * 0.01)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=WAVE)

    # waveform: bars whose envelope is a knock decaying from the impact
    bars, w_left, w_right, mid = 23, int(s * 0.12), int(s * 0.88), int(s * 0.76)
    step = (w_right - w_left) / bars
    for i in range(bars):
        t = abs(i - bars // 2) / (bars // 2)
        height = s * 0.16 * (0.12 + 0.88 * math.exp(-3.2 * t)) * (0.75 + 0.25 * math.cos(i * 1.7))
        x0 = int(w_left + i * step + step * 0.2)
        x1 = int(w_left + (i + 1) * step - step * 0.2)
        d.rounded_rectangle((x0, int(mid - height), x1, int(mid + height)), radius=(x1 - x0) // 2, fill=WAVE)
    return image.resize((size, size), Image.LANCZOS)


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "assets" / "icon.png"
    draw().save(out, optimize=True)
    print(out)


if __name__ == "__main__":
    main(sys.argv)
