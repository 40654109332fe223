"""ComfyUI nodes of the pack: thin adapters from engine calls (../foley_models) to ComfyUI types."""
import logging
import os
import shutil

import folder_paths
from comfy_api.latest import ComfyExtension

from . import model_files

model_files.register()  # before the loaders list their files

from . import audio, editing, encode, loaders, sample, scoring, windowing  # noqa: E402

# the clip the shared workflows' LoadVideo names; LoadVideo lists only ComfyUI's input folder
EXAMPLE_VIDEO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "example_media",
                             "foley_example.mp4")


def copy_example_video():
    target = os.path.join(folder_paths.get_input_directory(), os.path.basename(EXAMPLE_VIDEO))
    if os.path.isfile(EXAMPLE_VIDEO) and not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(EXAMPLE_VIDEO, target)
        logging.info("HunyuanVideo-Foley: copied the example clip of the shared workflows to %s", target)


class FoleyExtension(ComfyExtension):
    async def get_node_list(self):
        return [*loaders.NODES, *encode.NODES, *sample.NODES, *windowing.NODES, *editing.NODES, *audio.NODES, *scoring.NODES]


async def comfy_entrypoint():
    copy_example_video()  # ComfyUI 0.3.75 does not call ComfyExtension.on_load
    return FoleyExtension()
