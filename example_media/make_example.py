"""Render example_media/foley_example.mp4: a ball bouncing on a wooden floor, with a knock at every impact.

4.0 s, 25 fps, 320x240 h264 (yuv420p) + 48 kHz mono AAC. The impacts fall exactly on frames (0.48 s, 1.40 s,
2.20 s, 2.88 s, 3.44 s, 3.88 s) and each knock starts on the sample of its impact, so the clip shows whether
generated Foley lands on the picture. numpy + PyAV only; the output is deterministic up to the encoders.

    .venv/bin/python example_media/make_example.py [OUT.mp4 [SECONDS]]      (default: next to this script, 4 s)

example_media/foley_example_6s.mp4 is the same scene over 6.0 s (`make_example.py foley_example_6s.mp4 6`: the
ball rolls slower and comes to rest after its last bounce at 4.20 s): long enough for DeSync (at least 4.8 s).

example_media/foley_two_sources.mp4 (`make_example.py --two-sources [OUT.mp4]`) has two sources to lay out in
stereo: a red ball bouncing left to right on an upper ledge and a blue block hopping right to left on the floor,
each with its own impacts (TWO_SOURCES), on a dark background, so that core nodes find each one's mask
(GetVideoComponents -> ImageToMask red or blue -> ThresholdMask 0.5). Its soundtrack is the reference: each
impact's knock panned where its source is (constant power).

example_media/foley_reference_metal.flac (`make_example.py --reference [OUT.flac]`) is the reference sound of the
reference_sound_to_foley workflow (see render_reference_sound).
"""
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

W, H, FPS, SECONDS = 320, 240, 25, 4.0
RATE = 48000
FLOOR_Y = 196                    # floor line in pixels
RADIUS = 15
DROP_HEIGHT = 150.0              # ball bottom above the floor at t = 0, in pixels
FIRST_IMPACT = 0.48              # s
FLIGHTS = [0.92, 0.80, 0.68, 0.56, 0.44, 0.32]   # s between impacts (multiples of 1/25: impacts land on frames)
GRAVITY = 2 * DROP_HEIGHT / FIRST_IMPACT ** 2    # px/s^2


def impacts():
    """[(time, speed at impact in px/s)] inside the clip."""
    out, t, speed = [], FIRST_IMPACT, GRAVITY * FIRST_IMPACT
    for flight in [*FLIGHTS, None]:
        if t < SECONDS:
            out.append((round(t, 6), speed))
        if flight is None:
            break
        speed = GRAVITY * flight / 2   # the bounce that lasts `flight` leaves (and lands) at this speed
        t += flight
    return out


def height(t):
    """Ball bottom above the floor at time t (a parabola per flight)."""
    if t <= FIRST_IMPACT:
        return DROP_HEIGHT - GRAVITY * t * t / 2
    start = FIRST_IMPACT
    for flight in FLIGHTS:
        if t <= start + flight:
            u = t - start
            return max(0.0, GRAVITY * flight / 2 * u - GRAVITY * u * u / 2)
        start += flight
    return 0.0


def background():
    img = np.zeros((H, W, 3), np.float32)
    wall = np.linspace(0.0, 1.0, FLOOR_Y)[:, None]
    img[:FLOOR_Y] = (np.array([46, 58, 82]) * (1 - wall) + np.array([92, 104, 126]) * wall)[:, None, :]
    floor_rows = H - FLOOR_Y
    depth = np.linspace(0.0, 1.0, floor_rows)[:, None]
    img[FLOOR_Y:] = (np.array([150, 104, 62]) * (1 - depth) + np.array([112, 74, 42]) * depth)[:, None, :]
    for x in range(13, W, 52):                       # plank seams
        img[FLOOR_Y:, x:x + 2] *= 0.72
    img[FLOOR_Y:FLOOR_Y + 2] = (60, 44, 30)         # skirting line
    return img


def frame(t, bg, yy, xx):
    img = bg.copy()
    x = 40 + (W - 80) * t / SECONDS                  # rolls left to right
    h = height(t)
    cy = FLOOR_Y - RADIUS - h
    # squash a little on contact
    squash = 1.0 + 0.25 * max(0.0, 1 - h / 4)
    rx, ry = RADIUS * squash, RADIUS / squash
    cy += RADIUS - ry
    # soft shadow on the floor, smaller and fainter when the ball is high
    s = 1.0 - min(h, DROP_HEIGHT) / DROP_HEIGHT * 0.6
    shadow = ((xx - x) / (RADIUS * 1.2 * s)) ** 2 + ((yy - (FLOOR_Y + 5)) / (4.0 * s)) ** 2
    img *= (1 - 0.45 * s * np.clip(1.2 - shadow, 0, 1))[..., None]
    # the ball: anti-aliased ellipse, shaded with a highlight
    d = np.sqrt(((xx - x) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    alpha = np.clip((1.0 - d) * min(rx, ry) + 0.5, 0, 1)[..., None]
    light = np.clip(1.15 - np.sqrt(((xx - x + rx * 0.35) / rx) ** 2 + ((yy - cy + ry * 0.4) / ry) ** 2), 0, 1)
    ball = np.array([200, 40, 30]) * (0.55 + 0.45 * light[..., None]) + 90 * light[..., None] ** 4
    img = img * (1 - alpha) + ball * alpha
    return np.clip(img, 0, 255).astype(np.uint8)


def knock(strength):
    """A short wooden knock: low thud + body resonance + a click."""
    n = int(0.25 * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(int(strength * 1000))
    thud = np.sin(2 * np.pi * 130 * t) * np.exp(-t / 0.045)
    body = 0.5 * np.sin(2 * np.pi * 410 * t + 0.3) * np.exp(-t / 0.02)
    click = 0.6 * rng.standard_normal(n) * np.exp(-t / 0.003)
    attack = np.clip(t / 0.0008, 0, 1)                 # 0.8 ms rise: the onset is the impact sample
    return strength * attack * (thud + body + click)


def soundtrack():
    audio = np.zeros(int(SECONDS * RATE), np.float64)
    top = impacts()[0][1]
    for t, speed in impacts():
        k = knock(0.7 * (speed / top) ** 0.8)
        start = int(round(t * RATE))
        end = min(len(audio), start + len(k))
        audio[start:end] += k[:end - start]
    audio += 0.002 * np.random.default_rng(0).standard_normal(len(audio))   # faint room tone
    return np.clip(audio, -1, 1).astype(np.float32)


def _video_stream(container, width, height, crf):
    """An H.264 (yuv420p) stream at FPS, single-threaded so that the bytes are reproducible."""
    video = container.add_stream("libx264", rate=FPS)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.options = {"crf": str(crf), "preset": "slow", "tune": "animation", "threads": "1"}
    return video


def _write_video(container, video, frames):
    """The rgb24 frames into `video`, one per 1/FPS s."""
    for i, rgb in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        vf.pts, vf.time_base = i, Fraction(1, FPS)
        for packet in video.encode(vf):
            container.mux(packet)
    for packet in video.encode(None):
        container.mux(packet)


def _write_audio(container, stream, samples, rate, sample_format, chunk):
    """samples [channels, N] into `stream` in chunks (in `sample_format`: planar for several channels)."""
    for start in range(0, samples.shape[1], chunk):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + chunk]), format=sample_format,
                                           layout=stream.layout.name)
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def render(out):
    out = Path(out)
    bg = background()
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    with av.open(str(out), "w", format="mp4") as container:
        video = _video_stream(container, W, H, crf=26)
        audio = container.add_stream("aac", rate=RATE, layout="mono")
        audio.bit_rate = 64000
        _write_video(container, video, (frame(i / FPS, bg, yy, xx) for i in range(int(SECONDS * FPS))))
        _write_audio(container, audio, soundtrack()[None], RATE, "flt", 1024)
    return out


# two sources: 4.0 s at 25 fps, 320x180; impacts on frames (seconds are multiples of 1/25)
TWO_W, TWO_H, TWO_SECONDS = 320, 180, 4.0
TWO_SOURCES = {  # name: (colour, lane floor y, x at t = 0, x at the end, impact times in s, knock pitch in Hz)
    "red ball": ((215, 40, 35), 78, 40.0, 280.0, (0.48, 1.48, 2.48, 3.48), 520.0),
    "blue block": ((40, 70, 225), 164, 280.0, 40.0, (0.96, 1.76, 2.56, 3.36), 110.0),
}
TWO_HOP = 40.0  # pixels a source rises between impacts


def _hop_height(t, impacts):
    """Height above the lane of a source that drops onto its first impact and hops between the next ones."""
    if t <= impacts[0]:
        fall = impacts[0] if impacts[0] < 1.0 else 1.0
        return TWO_HOP * max(0.0, 1 - (t - (impacts[0] - fall)) / fall) ** 2 if t > impacts[0] - fall else TWO_HOP
    for a, b in zip(impacts, impacts[1:]):
        if t <= b:
            u = (t - a) / (b - a)
            return 4 * TWO_HOP * u * (1 - u)
    return 0.0


def source_x(name, t):
    _, _, x0, x1, _, _ = TWO_SOURCES[name]
    return x0 + (x1 - x0) * t / TWO_SECONDS


def two_sources_frame(t, yy, xx):
    img = np.empty((TWO_H, TWO_W, 3), np.float32)
    img[:] = np.array([16, 18, 26]) + np.array([8, 8, 10]) * (yy / TWO_H)[..., None]  # dark: no channel near 128
    for y in (78, 164):
        img[y:y + 3] = (48, 44, 40)  # ledge and floor lines
    for name, (colour, floor, _, _, impacts, _) in TWO_SOURCES.items():
        x, bottom = source_x(name, t), floor - _hop_height(t, impacts)
        if name == "red ball":
            d = np.hypot(xx - x, yy - (bottom - 14))
            alpha = np.clip(14.5 - d, 0, 1)
        else:
            alpha = np.clip(np.minimum(16.5 - np.abs(xx - x), 12.5 - np.abs(yy - (bottom - 12))), 0, 1)
        img = img * (1 - alpha[..., None]) + np.array(colour) * alpha[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def two_sources_soundtrack():
    """Stereo: every impact's knock at its sample, panned where its source is then (constant power)."""
    audio = np.zeros((2, int(TWO_SECONDS * RATE)))
    rng = np.random.default_rng(1)
    for name, (_, _, _, _, impacts, pitch) in TWO_SOURCES.items():
        for t in impacts:
            n = int(0.3 * RATE)
            u = np.arange(n) / RATE
            knock = (np.sin(2 * np.pi * pitch * u) * np.exp(-u / 0.06) + 0.3 * rng.standard_normal(n)
                     * np.exp(-u / 0.004)) * np.clip(u / 0.0008, 0, 1)
            angle = (source_x(name, t) / TWO_W * 2 - 1 + 1) * np.pi / 4
            start = int(round(t * RATE))
            end = min(audio.shape[1], start + n)
            audio[0, start:end] += 0.5 * np.cos(angle) * knock[:end - start]
            audio[1, start:end] += 0.5 * np.sin(angle) * knock[:end - start]
    audio += 0.002 * rng.standard_normal(audio.shape)
    return np.clip(audio, -1, 1).astype(np.float32)


def render_two_sources(out):
    out = Path(out)
    yy, xx = np.mgrid[0:TWO_H, 0:TWO_W].astype(np.float32) + 0.5
    with av.open(str(out), "w", format="mp4") as container:
        video = _video_stream(container, TWO_W, TWO_H, crf=24)
        audio = container.add_stream("aac", rate=RATE, layout="stereo")
        audio.bit_rate = 96000
        _write_video(container, video, (two_sources_frame(i / FPS, yy, xx) for i in range(int(TWO_SECONDS * FPS))))
        _write_audio(container, audio, two_sources_soundtrack(), RATE, "fltp", 1024)
    return out


REFERENCE_SOUND = "foley_reference_metal.flac"


def render_reference_sound(out=None, seconds=3.0, rate=48000):
    """example_media/foley_reference_metal.flac: a reference sound for audio-controlled Foley, 3.0 s, 48 kHz mono
    FLAC. Footsteps on a metal grating: each step a heel and a toe strike of inharmonic, ringing partials (a timbre
    far from the knocks of the example clips), so a result that follows it is easy to hear.

        .venv/bin/python example_media/make_example.py --reference [OUT.flac]
    """
    out = Path(out) if out is not None else Path(__file__).resolve().parent / REFERENCE_SOUND
    rng = np.random.default_rng(17)
    audio = np.zeros(int(seconds * rate))
    partials = [(523.0, 0.9), (1187.0, 0.6), (1931.0, 0.45), (2874.0, 0.3), (4013.0, 0.2)]  # inharmonic: metal

    def strike(start, strength):
        n = int(0.6 * rate)
        t = np.arange(n) / rate
        ring = sum(a * np.sin(2 * np.pi * f * (1 + rng.uniform(-0.01, 0.01)) * t) * np.exp(-t / (0.25 / (1 + f / 2000)))
                   for f, a in partials)
        scrape = 0.5 * rng.standard_normal(n) * np.exp(-t / 0.008)
        begin = int(start * rate)
        end = min(len(audio), begin + n)
        audio[begin:end] += strength * np.clip(t / 0.001, 0, 1)[:end - begin] * (ring + scrape)[:end - begin]

    for k, step in enumerate(np.arange(0.15, seconds - 0.3, 0.55)):
        strength = 0.25 if k % 2 else 0.3
        strike(step, strength)  # heel
        strike(step + 0.07, 0.6 * strength)  # toe
    audio += 0.001 * rng.standard_normal(len(audio))
    samples = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    with av.open(str(out), "w", format="flac") as container:
        _write_audio(container, container.add_stream("flac", rate=rate, layout="mono"), samples[None], rate, "s16",
                     4096)
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--reference"]:
        path = render_reference_sound(sys.argv[2] if len(sys.argv) > 2 else None)
        print(f"{path}: {path.stat().st_size} bytes")
        sys.exit()
    if sys.argv[1:2] == ["--two-sources"]:
        path = render_two_sources(sys.argv[2] if len(sys.argv) > 2
                                  else Path(__file__).resolve().parent / "foley_two_sources.mp4")
        print(f"{path}: {path.stat().st_size} bytes; " + "; ".join(
            f"{name} impacts at " + ", ".join(f"{t:.2f} s" for t in spec[4]) for name, spec in TWO_SOURCES.items()))
        sys.exit()
    if len(sys.argv) > 2:
        SECONDS = float(sys.argv[2])
    path = render(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent / "foley_example.mp4")
    print(f"{path}: {path.stat().st_size} bytes; impacts at " + ", ".join(f"{t:.2f} s" for t, _ in impacts()))
