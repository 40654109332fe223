"""The `foley` model folder: registration with folder_paths, listing, and errors that say where files come from."""
import json
import os

import folder_paths

FOLDER = "foley"
HUB = "https://huggingface.co/tencent/HunyuanVideo-Foley"

# file name -> where it comes from; listed even when missing so that shared workflows keep their values
# and a missing file fails with a message naming the folder and the source instead of "value not in list"
MMDIT_FILES = {"hunyuanvideo_foley.pth": HUB, "hunyuanvideo_foley_xl.pth": HUB}
VAE_FILES = {"vae_128d_48k.pth": HUB}
SYNCHFORMER_FILES = {"synchformer_state_dict.pth": HUB}
CLAP_FOLDERS = {"larger_clap_general": "https://huggingface.co/laion/larger_clap_general"}
SIGLIP2_FOLDERS = {"siglip2-base-patch16-512": "https://huggingface.co/google/siglip2-base-patch16-512"}


def register():
    default = os.path.join(folder_paths.models_dir, FOLDER)
    # extra_model_paths.yaml may have registered the folder first (with no extension filter): keep its paths
    paths = folder_paths.folder_names_and_paths.get(FOLDER, ([], None))[0]
    if default not in paths:
        paths = [*paths, default]
    folder_paths.folder_names_and_paths[FOLDER] = (paths, set(folder_paths.supported_pt_extensions))


def _hf_folders():
    """{folder name: config model_type} of the Hugging Face folders inside the foley folders."""
    found = {}
    for root in folder_paths.get_folder_paths(FOLDER):
        if not os.path.isdir(root):
            continue
        for name in os.listdir(root):
            config = os.path.join(root, name, "config.json")
            if os.path.isfile(config):
                with open(config, encoding="utf-8") as f:
                    found.setdefault(name, str(json.load(f).get("model_type", "")))
    return found


def default_name(sources):
    """The official name (the first of `sources`): what a new node shows, found or not."""
    return next(iter(sources))


def _inside_hf_folder(name):
    path = folder_paths.get_full_path(FOLDER, name)
    return path is not None and os.path.isfile(os.path.join(os.path.dirname(path), "config.json"))


def file_options(defaults, also=()):
    names = {n for n in folder_paths.get_filename_list(FOLDER) if not _inside_hf_folder(n)}
    for folder in also:
        names.update(folder_paths.get_filename_list(folder))
    return sorted(names | set(defaults))


def folder_options(defaults, model_type):
    """HF folders whose config names `model_type` (e.g. "clap", "siglip"), plus the official names."""
    return sorted({n for n, t in _hf_folders().items() if model_type in t} | set(defaults))


def _searched(folders):
    paths = [p for f in folders for p in folder_paths.get_folder_paths(f)]
    return ", ".join(paths) or f"models/{FOLDER}"


def _source(name, sources):
    return sources.get(name) or " or ".join(sorted(set(sources.values())))


def resolve_file(name, sources, also=()):
    for folder in (FOLDER, *also):
        path = folder_paths.get_full_path(folder, name)
        if path is not None:
            return path
    raise FileNotFoundError(f"model file {name!r} not found in {_searched((FOLDER, *also))}. "
                            f"Put it there; it comes from {_source(name, sources)}.")


def resolve_folder(name, sources):
    for root in folder_paths.get_folder_paths(FOLDER):
        path = os.path.join(root, name)
        if os.path.isdir(path):
            return path
    raise FileNotFoundError(f"model folder {name!r} not found in {_searched((FOLDER,))}. Download all files of "
                            f"{_source(name, sources)} into {os.path.join(_searched((FOLDER,)).split(', ')[0], name)}.")
