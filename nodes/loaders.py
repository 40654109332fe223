"""Loader nodes: each model is its own node so users can wire, cache and swap the parts."""
import os

from comfy_api.latest import io

from ..foley_models.clap import CLAP_HUB_ID, load_clap, require_clap_folder
from ..foley_models.hf_folder import require_folder
from ..foley_models.loading import check_checkpoint_kind, load_dac_vae, load_synchformer
from ..foley_models.siglip2 import SIGLIP2_HUB_ID, load_siglip2
from . import model_files as files
from .comfy_model import WEIGHT_DTYPES, encoder_patcher, load_foley_model
from .vocabulary import CATEGORY, FoleyCLAP, FoleySigLIP2, FoleySynchformer, FoleyVAE



def file_problem(name, sources, kind, also=()):
    """validate_inputs: a missing or wrong file fails when the prompt is queued, before any node runs."""
    try:
        check_checkpoint_kind(files.resolve_file(name, sources, also), kind)
    except (FileNotFoundError, ValueError) as e:
        return str(e)
    return True


def folder_problem(name, sources, what, hub_id, clap_scoring=None):
    """validate_inputs of a Hugging Face folder: present, inside models/foley, a readable config, weights, and for
    CLAP the tokenizer files (and, for the CLAP score, the audio preprocessor's config)."""
    try:
        folder = files.resolve_folder(name, sources)
        if clap_scoring is None:
            require_folder(folder, what, hub_id)
        else:
            require_clap_folder(folder, scoring=clap_scoring)
    except FileNotFoundError as e:
        return str(e)
    return files.config_problem(os.path.join(folder, "config.json")) or True


class FoleyModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyModelLoader", display_name="Load Foley Model", category=CATEGORY,
            description="Loads the HunyuanVideo-Foley MMDiT (XXL or XL, detected from the file) as a MODEL for "
                        "FoleySampler or the stock samplers.",
            inputs=[
                io.Combo.Input("file", options=files.file_options(files.MMDIT_FILES, also=("diffusion_models",)),
                               default=files.default_name(files.MMDIT_FILES), tooltip="From models/foley or models/diffusion_models (.pth or .safetensors)."),
                io.Combo.Input("weight_dtype", options=["default", *WEIGHT_DTYPES], default="default",
                               tooltip="Storage dtype of the weights; fp8 and fp16 compute in bf16 (fp32 where "
                                       "the GPU has no bf16). default: bf16 where the GPU supports it (the "
                                       "official dtype), else fp32 compute."),
            ],
            outputs=[io.Model.Output()],
        )

    @classmethod
    def validate_inputs(cls, file):
        return file_problem(file, files.MMDIT_FILES, "mmdit", also=("diffusion_models",))

    @classmethod
    def execute(cls, file, weight_dtype):
        path = files.resolve_file(file, files.MMDIT_FILES, also=("diffusion_models",))
        return io.NodeOutput(load_foley_model(path, weight_dtype))


class FoleyVAELoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyVAELoader", display_name="Load Foley VAE", category=CATEGORY,
            description="Loads the DAC VAE (48 kHz mono, 50 latent frames per second).",
            inputs=[io.Combo.Input("file", options=files.file_options(files.VAE_FILES),
                                   default=files.default_name(files.VAE_FILES),
                                   tooltip="The DAC VAE checkpoint in models/foley (official: vae_128d_48k.pth); "
                                           "the list shows what is there.")],
            outputs=[FoleyVAE.Output(display_name="vae")],
        )

    @classmethod
    def validate_inputs(cls, file):
        return file_problem(file, files.VAE_FILES, "dac_vae")

    @classmethod
    def execute(cls, file):
        return io.NodeOutput(encoder_patcher(load_dac_vae(files.resolve_file(file, files.VAE_FILES))))


class FoleySynchformerLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleySynchformerLoader", display_name="Load Foley Synchformer", category=CATEGORY,
            description="Loads the Synchformer visual branch (audio-visual sync features at 25 fps).",
            inputs=[io.Combo.Input("file", options=files.file_options(files.SYNCHFORMER_FILES),
                                   default=files.default_name(files.SYNCHFORMER_FILES),
                                   tooltip="The Synchformer checkpoint in models/foley (official: "
                                           "synchformer_state_dict.pth); only its video branch is loaded.")],
            outputs=[FoleySynchformer.Output(display_name="synchformer")],
        )

    @classmethod
    def validate_inputs(cls, file):
        return file_problem(file, files.SYNCHFORMER_FILES, "synchformer")

    @classmethod
    def execute(cls, file):
        path = files.resolve_file(file, files.SYNCHFORMER_FILES)
        return io.NodeOutput(encoder_patcher(load_synchformer(path)))


class FoleyCLAPLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyCLAPLoader", display_name="Load Foley CLAP", category=CATEGORY,
            description="Loads the CLAP text encoder from a Hugging Face folder inside models/foley.",
            inputs=[io.Combo.Input("folder", options=files.folder_options(files.CLAP_FOLDERS, "clap"),
                                   default=files.default_name(files.CLAP_FOLDERS),
                                   tooltip="A folder in models/foley holding all files of laion/larger_clap_general "
                                           "(config, weights, tokenizer files).")],
            outputs=[FoleyCLAP.Output(display_name="clap")],
        )

    @classmethod
    def validate_inputs(cls, folder):
        return folder_problem(folder, files.CLAP_FOLDERS, "CLAP", CLAP_HUB_ID, clap_scoring=False)

    @classmethod
    def execute(cls, folder):
        return io.NodeOutput(encoder_patcher(load_clap(files.resolve_folder(folder, files.CLAP_FOLDERS))))


class FoleySigLIP2Loader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleySigLIP2Loader", display_name="Load Foley SigLIP2", category=CATEGORY,
            description="Loads the SigLIP2 vision encoder from a Hugging Face folder inside models/foley.",
            inputs=[io.Combo.Input("folder", options=files.folder_options(files.SIGLIP2_FOLDERS, "siglip"),
                                   default=files.default_name(files.SIGLIP2_FOLDERS),
                                   tooltip="A folder in models/foley holding all files of "
                                           "google/siglip2-base-patch16-512; only the vision tower is loaded.")],
            outputs=[FoleySigLIP2.Output(display_name="siglip2")],
        )

    @classmethod
    def validate_inputs(cls, folder):
        return folder_problem(folder, files.SIGLIP2_FOLDERS, "SigLIP2", SIGLIP2_HUB_ID)

    @classmethod
    def execute(cls, folder):
        return io.NodeOutput(encoder_patcher(load_siglip2(files.resolve_folder(folder, files.SIGLIP2_FOLDERS))))


NODES = [FoleyModelLoader, FoleyVAELoader, FoleySynchformerLoader, FoleyCLAPLoader, FoleySigLIP2Loader]
