"""The `foley` model folder: registration with folder_paths, listing, and errors that say where files come from."""
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
    if FOLDER in folder_paths.folder_names_and_paths:  # extra_model_paths.yaml registered it first
        folder_paths.add_model_folder_path(FOLDER, default)
    else:
        folder_paths.folder_names_and_paths[FOLDER] = ([default], set(folder_paths.supported_pt_extensions))


def file_options(defaults, also=()):
    names = set(folder_paths.get_filename_list(FOLDER))
    for folder in also:
        names.update(folder_paths.get_filename_list(folder))
    return sorted(names | set(defaults))


def folder_options(defaults):
    found = set()
    for root in folder_paths.get_folder_paths(FOLDER):
        if os.path.isdir(root):
            found.update(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "config.json")))
    return sorted(found | set(defaults))


def _searched(folders):
    paths = [p for f in folders for p in folder_paths.get_folder_paths(f)]
    return ", ".join(paths) or f"models/{FOLDER}"


def _source(name, sources):
    return sources.get(name, f"the place you got it from (official files: {HUB})")


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
