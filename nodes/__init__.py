"""ComfyUI nodes of the pack: thin adapters from engine calls (../foley_models) to ComfyUI types."""
import logging

import folder_paths
from comfy_api.latest import ComfyExtension

from . import example_clips, model_files

model_files.register()  # before the loaders list their files

from . import audio, editing, encode, loaders, sample, scoring, spatial, windowing  # noqa: E402


def copy_example_video():
    """The shared workflows' LoadVideo names the example clips, and LoadVideo lists only ComfyUI's input folder.
    Also done at every start (not only by install.py) so that a plain git clone runs the examples."""
    try:
        example_clips.copy_example_clips(folder_paths.get_input_directory())
    except Exception:  # a convenience must not cost the pack its nodes
        logging.warning("HunyuanVideo-Foley: copying the example clips failed", exc_info=True)


class FoleyExtension(ComfyExtension):
    async def get_node_list(self):
        return [*loaders.NODES, *encode.NODES, *sample.NODES, *windowing.NODES, *editing.NODES, *audio.NODES,
                *scoring.NODES, *spatial.NODES]


async def comfy_entrypoint():
    copy_example_video()  # ComfyUI 0.3.75 does not call ComfyExtension.on_load
    return FoleyExtension()
