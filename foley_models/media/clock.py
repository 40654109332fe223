"""The model's clock: frame rates, latent rate, sample rate and the official frame-sampling rule.

Frame sampling reproduces the official `get_frames_av` rule (pipeline.md §1, §10) and the latent length
its float quirk (§4).
"""
OFFICIAL_MAX_SECONDS = 15.0  # the official reader's cap: get_frames_av's end_sec when max_length is None
SIGLIP2_FPS = 8
SYNCHFORMER_FPS = 25
LATENT_RATE = 50  # latent frames per second: 48 kHz / hop 960
SAMPLE_RATE = 48000


class TickSampler:
    """One output rate of the get_frames_av rule: how often the current frame is appended."""

    def __init__(self, fps):
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps!r}")
        self.dt = 1.0 / fps
        self.next_t = 0.0

    def repeats(self, t):
        n = 0
        while t >= self.next_t:
            n += 1
            # repeated float addition, not k/fps: the official accumulation decides ties
            self.next_t += self.dt
        return n


def frame_indices(timestamps, fps, max_seconds=OFFICIAL_MAX_SECONDS):
    """Source-frame index for every output frame at `fps`, given decoded-frame times in seconds."""
    ticks = TickSampler(fps)
    picked = []
    for i, t in enumerate(timestamps):
        if t < 0:
            continue
        if t > max_seconds:
            break
        picked.extend([i] * ticks.repeats(t))
    return picked


OFFICIAL_MAX_FRAMES_25 = 376  # frames at 25 fps up to t = 15.0 s: the longest clip the official code makes


def latent_length(n25):
    """Latent frames for `n25` frames at 25 fps; the double rounding loses one frame for some n25 (P4).
    Past the official 15 s the length is exact (2 per frame), so long videos do not lose frames to it."""
    if n25 > OFFICIAL_MAX_FRAMES_25:
        return n25 * LATENT_RATE // SYNCHFORMER_FPS
    return int(n25 / SYNCHFORMER_FPS * LATENT_RATE)


def window_end(start, duration, max_seconds):
    """End, in seconds after `start`, of the window a reader samples: `duration` capped at `max_seconds`."""
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start!r}")
    if duration is None:
        return max_seconds
    if not duration > 0:
        raise ValueError(f"duration must be > 0, got {duration!r}")
    return min(duration, max_seconds)


def image_sequence_indices(n_frames, source_fps, target_fps, start=0.0, duration=None,
                           max_seconds=OFFICIAL_MAX_SECONDS):
    """get_frames_av rule on an image batch at `source_fps` (t_i = i / source_fps - start)."""
    if not source_fps > 0:
        raise ValueError(f"source fps must be > 0, got {source_fps!r}")
    if n_frames <= 0:
        raise ValueError(f"image sequence has {n_frames} frames")
    end = window_end(start, duration, max_seconds)
    return frame_indices([i / source_fps - start for i in range(n_frames)], target_fps, end)
