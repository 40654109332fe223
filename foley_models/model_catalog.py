"""Every model file the pack's workflows need: the Hugging Face repository it comes from, its name there, where
it goes under ComfyUI's `models/foley`, its approximate size and what it is.

Plain data without imports beyond the standard library: download_models.py reads this file on its own (without
torch or ComfyUI), and the nodes name the sources in their "file not found" messages.
"""
from dataclasses import dataclass

HUB_URL = "https://huggingface.co"
FOLEY_REPO = "tencent/HunyuanVideo-Foley"
CLAP_REPO = "laion/larger_clap_general"
SIGLIP2_REPO = "google/siglip2-base-patch16-512"
CLAP_FOLDER = "larger_clap_general"
SIGLIP2_FOLDER = "siglip2-base-patch16-512"
# run from the pack's folder (custom_nodes/<pack>/)
DOWNLOAD_COMMAND = "python download_models.py"

MB = 1000 ** 2
GB = 1000 ** 3


@dataclass(frozen=True)
class ModelFile:
    repo: str
    name: str  # the file's path in the repository
    folder: str  # the folder under models/foley it goes into ("" for models/foley itself)
    size: int  # approximate, in bytes: for the plan printed before a download; the hub's own size is checked
    what: str
    optional: bool = False  # fetched only on request (download_models.py --xl)
    # tokenizer files that transformers also rebuilds from the others: a repository without one is not an error
    missing_ok: bool = False

    @property
    def target(self):
        """The path under models/foley, "/"-separated."""
        return f"{self.folder}/{self.name}" if self.folder else self.name

    @property
    def repo_url(self):
        return f"{HUB_URL}/{self.repo}"


MODEL_FILES = (
    ModelFile(FOLEY_REPO, "hunyuanvideo_foley.pth", "", int(10.3 * GB), "MMDiT XXL (5.1 B parameters, bf16)"),
    ModelFile(FOLEY_REPO, "hunyuanvideo_foley_xl.pth", "", int(5.8 * GB),
              "MMDiT XL (2.9 B parameters, smaller and less capable)", optional=True),
    ModelFile(FOLEY_REPO, "vae_128d_48k.pth", "", int(1.5 * GB), "DAC VAE (48 kHz mono, 50 latent frames/s)"),
    ModelFile(FOLEY_REPO, "synchformer_state_dict.pth", "", int(0.95 * GB),
              "Synchformer (the visual branch for the conditions, all of it for the DeSync score)"),
    ModelFile(CLAP_REPO, "config.json", CLAP_FOLDER, 8_000, "CLAP configuration"),
    ModelFile(CLAP_REPO, "model.safetensors", CLAP_FOLDER, 776 * MB, "CLAP weights (text and audio towers)"),
    ModelFile(CLAP_REPO, "vocab.json", CLAP_FOLDER, 800_000, "CLAP tokenizer vocabulary (RoBERTa BPE)"),
    ModelFile(CLAP_REPO, "merges.txt", CLAP_FOLDER, 460_000, "CLAP tokenizer merges"),
    ModelFile(CLAP_REPO, "tokenizer_config.json", CLAP_FOLDER, 2_000, "CLAP tokenizer settings"),
    ModelFile(CLAP_REPO, "special_tokens_map.json", CLAP_FOLDER, 1_000, "CLAP tokenizer special tokens",
              missing_ok=True),
    ModelFile(CLAP_REPO, "tokenizer.json", CLAP_FOLDER, 2_100_000, "CLAP fast tokenizer", missing_ok=True),
    ModelFile(CLAP_REPO, "preprocessor_config.json", CLAP_FOLDER, 1_000,
              "CLAP audio feature extractor settings (the CLAP score of the candidates workflow)"),
    ModelFile(SIGLIP2_REPO, "config.json", SIGLIP2_FOLDER, 2_000, "SigLIP2 configuration"),
    ModelFile(SIGLIP2_REPO, "model.safetensors", SIGLIP2_FOLDER, int(1.5 * GB),
              "SigLIP2 weights (only the vision tower is used)"),
)


def selected_files(with_optional=False):
    """The files to fetch: all but the optional ones unless asked for."""
    return [f for f in MODEL_FILES if with_optional or not f.optional]


def repo_urls_by_target():
    """{name in models/foley (a file, or the first path part of a folder): repository URL}."""
    return {f.target.split("/")[0]: f.repo_url for f in MODEL_FILES}
