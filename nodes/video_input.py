"""What the engine reads of a core VIDEO: its file and the seconds of it.

A VIDEO from core Trim Video (ComfyUI 0.14 and later) is the whole file plus a trim window that only
`get_components()` honours; `get_stream_source()` is still the untrimmed file. Every node that reads a
VIDEO's file goes through `file_window`, which puts the trim and the node's own start_time/duration (both
counted from the start of the VIDEO as the user sees it) together into seconds of the file.
"""
import math
from dataclasses import dataclass

from comfy_api.latest import InputImpl


@dataclass(frozen=True)
class FileWindow:
    source: object  # a path or a file object, as VideoFromFile.get_stream_source gives it
    start: float  # seconds into the file
    duration: float | None  # seconds from `start`; None: to the end of the file
    trimmed: bool  # the VIDEO is a trimmed view of its file (so its packets cannot simply be copied)
    # where the VIDEO's frames begin, as its get_components() reads them: the first frame at or after this many
    # seconds of the file (trim-aware ComfyUIs, 0 when untrimmed), or None: the file's first frame (0.3.x)
    shown_from: float | None = None

    @property
    def end(self):
        return math.inf if self.duration is None else self.start + self.duration


def trim_window(video):
    """(start, duration) in seconds of the file that the VIDEO shows; duration 0 = to the end of the file.
    ComfyUIs before the trim window (0.3.x) have no such method: their file videos are whole."""
    if not _has_trim_window(video):
        return 0.0, 0.0
    start, duration = video.get_active_trim_window()
    return float(start), float(duration)


def _has_trim_window(video):
    return getattr(video, "get_active_trim_window", None) is not None


def _trimmed_length(video, trim_duration):
    """Seconds the trimmed VIDEO lasts: what it reports (the trim cut to the file's end), else the trim."""
    try:
        return float(video.get_duration())
    except ValueError:  # a file whose length no metadata gives: the frames decide later
        return trim_duration or math.inf


def file_window(video, start_time=0.0, duration=0.0):
    """The part of the VIDEO's file that a node reading `duration` seconds (0 = to the end) from
    `start_time` (both counted in the VIDEO as given) reads, or None for a VIDEO of frames in memory.

    Inside a trim starting at 2 s, start_time 1 reads from 3 s of the file; a duration past the trim's end
    is cut to it; duration 0 reads to the trim's end."""
    if not isinstance(video, InputImpl.VideoFromFile):
        return None
    trim_start, trim_duration = trim_window(video)
    trimmed = bool(trim_start or trim_duration)
    if trimmed:
        length = _trimmed_length(video, trim_duration)
        if start_time >= length:
            raise ValueError(f"start_time {start_time:g} s is at or past the end of the trimmed video, which is "
                             f"{length:g} s long (trimmed from {trim_start:g} s of its file)")
    if trim_duration:
        left = trim_duration - start_time
        duration = min(duration, left) if duration else left
    return FileWindow(video.get_stream_source(), trim_start + start_time, duration or None, trimmed,
                      trim_start if _has_trim_window(video) else None)
