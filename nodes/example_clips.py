"""The example media of the shared workflows (example_media/: the clips, the image-to-video start frame, the reference
recording) copied into ComfyUI's input folder, which is the only folder LoadVideo and LoadAudio list.

No ComfyUI import: install.py loads this file by its path, the nodes call it at start-up with ComfyUI's input
folder. A copy is a convenience, so it never raises: a folder that cannot be written (read-only, full, a file in
its place) is logged with the path and the reason. Names already taken in the input folder are left alone, links
included: a link is never followed, so nothing is written outside the input folder.
"""
import logging
import os
import shutil

PACK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_MEDIA = os.path.join(PACK_DIR, "example_media")
MEDIA_EXTENSIONS = (".mp4", ".webm", ".mov", ".mkv", ".wav", ".flac", ".mp3", ".jpg", ".png")  # .jpg: the i2v start image
LOG_PREFIX = "HunyuanVideo-Foley"


def example_clips():
    try:
        names = sorted(os.listdir(EXAMPLE_MEDIA))
    except OSError:
        return []
    paths = (os.path.join(EXAMPLE_MEDIA, name) for name in names if name.lower().endswith(MEDIA_EXTENSIONS))
    return [path for path in paths if os.path.isfile(path)]


def _copy_to_new_file(source, target):
    # O_EXCL: fails on any existing name, a dangling link included, instead of writing where the link points
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(target, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
    except BaseException:
        # a half-written clip (a full disk) would look present to every later start
        try:
            os.remove(target)
        except OSError:
            pass
        raise


def copy_example_clips(input_dir, log=logging):
    """Copy each clip the input folder lacks; returns the paths written."""
    copied = []
    for source in example_clips():
        target = os.path.join(input_dir, os.path.basename(source))
        if os.path.islink(target) and not os.path.exists(target):
            log.warning("%s: %s is a link to a missing file; the example clip was not copied (links in the input "
                        "folder are never followed)", LOG_PREFIX, target)
            continue
        if os.path.lexists(target):
            continue
        try:
            os.makedirs(input_dir, exist_ok=True)
            _copy_to_new_file(source, target)
        except OSError as e:
            log.warning("%s: could not copy the example clip to %s: %s. The example workflows expect it in "
                        "ComfyUI's input folder; copy %s there by hand.", LOG_PREFIX, target, e, source)
            continue
        log.info("%s: copied the example clip of the shared workflows to %s", LOG_PREFIX, target)
        copied.append(target)
    return copied
