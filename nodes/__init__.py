"""ComfyUI nodes of the pack: thin adapters from engine calls (../foley_models) to ComfyUI types."""
import logging
import os
import shutil

import folder_paths
from comfy_api.latest import ComfyExtension

from . import model_files

model_files.register()  # before the loaders list their files

from . import audio, editing, encode, loaders, sample, scoring, windowing  # noqa: E402

# the clips the shared workflows' LoadVideo names (foley_example.mp4, foley_example_6s.mp4); LoadVideo lists only
# ComfyUI's input folder
EXAMPLE_MEDIA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "example_media")
EXAMPLE_VIDEO = os.path.join(EXAMPLE_MEDIA, "foley_example.mp4")
MEDIA_EXTENSIONS = (".mp4", ".webm", ".mov", ".mkv", ".wav", ".flac", ".mp3")


def copy_example_video():
    names = sorted(os.listdir(EXAMPLE_MEDIA)) if os.path.isdir(EXAMPLE_MEDIA) else []
    for name in names:
        source = os.path.join(EXAMPLE_MEDIA, name)
        target = os.path.join(folder_paths.get_input_directory(), name)
        if name.lower().endswith(MEDIA_EXTENSIONS) and os.path.isfile(source) and not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(source, target)
            logging.info("HunyuanVideo-Foley: copied the example clip of the shared workflows to %s", target)


class FoleyExtension(ComfyExtension):
    async def get_node_list(self):
        return [*loaders.NODES, *encode.NODES, *sample.NODES, *windowing.NODES, *editing.NODES, *audio.NODES, *scoring.NODES]


async def comfy_entrypoint():
    copy_example_video()  # ComfyUI 0.3.75 does not call ComfyExtension.on_load
    return FoleyExtension()
