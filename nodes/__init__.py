"""ComfyUI nodes of the pack: thin adapters from engine calls (../foley_models) to ComfyUI types."""
from comfy_api.latest import ComfyExtension

from . import model_files

model_files.register()  # before the loaders list their files

from . import audio, encode, loaders, sample  # noqa: E402


class FoleyExtension(ComfyExtension):
    async def get_node_list(self):
        return [*loaders.NODES, *encode.NODES, *sample.NODES, *audio.NODES]


async def comfy_entrypoint():
    return FoleyExtension()
