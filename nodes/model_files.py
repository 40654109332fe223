"""The `foley` model folder: registration with folder_paths, listing, and errors that say where files come from."""
import json
import logging
import os

import folder_paths

from ..foley_models import model_catalog as catalog

FOLDER = "foley"
HUB = f"{catalog.HUB_URL}/{catalog.FOLEY_REPO}"
_REPO_URLS = catalog.repo_urls_by_target()


def _source_of(name):
    return f"{_REPO_URLS[name]} (or run `{catalog.DOWNLOAD_COMMAND}` in the pack's folder)"


# file name -> where it comes from: the official name first, and the source named by every "not found" message
MMDIT_FILES = {name: _source_of(name) for name in ("hunyuanvideo_foley.pth", "hunyuanvideo_foley_xl.pth")}
VAE_FILES = {"vae_128d_48k.pth": _source_of("vae_128d_48k.pth")}
SYNCHFORMER_FILES = {"synchformer_state_dict.pth": _source_of("synchformer_state_dict.pth")}
CLAP_FOLDERS = {catalog.CLAP_FOLDER: _source_of(catalog.CLAP_FOLDER)}
SIGLIP2_FOLDERS = {catalog.SIGLIP2_FOLDER: _source_of(catalog.SIGLIP2_FOLDER)}


def register():
    default = os.path.join(folder_paths.models_dir, FOLDER)
    # extra_model_paths.yaml may have registered the folder first (with no extension filter): keep its paths
    paths = folder_paths.folder_names_and_paths.get(FOLDER, ([], None))[0]
    if default not in paths:
        paths = [*paths, default]
    folder_paths.folder_names_and_paths[FOLDER] = (paths, set(folder_paths.supported_pt_extensions))


_unreadable_configs = set()


def config_problem(config_path):
    """Why a Hugging Face config.json cannot be used (None when it can): an interrupted download leaves an empty
    or cut file, and one bad file must cost neither the pack's import nor other prompts."""
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return f"{config_path} cannot be read as JSON ({e}); download it again"
    if not isinstance(config, dict):
        return f"{config_path} holds a JSON {type(config).__name__}, not a model configuration; download it again"
    return None


def _hf_folders():
    """{folder name: config model_type} of the Hugging Face folders inside the foley folders. A folder whose
    config.json cannot be read is left out, with one warning naming the file."""
    found = {}
    for root in folder_paths.get_folder_paths(FOLDER):
        if not os.path.isdir(root):
            continue
        for name in os.listdir(root):
            config = os.path.join(root, name, "config.json")
            if not os.path.isfile(config):
                continue
            problem = config_problem(config)
            if problem is not None:
                if (config, problem) not in _unreadable_configs:  # once, not at every listing
                    _unreadable_configs.add((config, problem))
                    logging.warning("HunyuanVideo-Foley: the folder %s is not listed: %s", name, problem)
                continue
            with open(config, encoding="utf-8") as f:
                found.setdefault(name, str(json.load(f).get("model_type", "")))
    return found


def default_name(sources):
    """The official name (the first of `sources`): what a new node shows, found or not."""
    return next(iter(sources))


def _inside_hf_folder(name):
    path = folder_paths.get_full_path(FOLDER, name)
    return path is not None and os.path.isfile(os.path.join(os.path.dirname(path), "config.json"))


def _official_first(found, sources):
    return [n for n in sources if n in found] + sorted(set(found) - set(sources))


# Only what is there is listed, never a missing official name: the front end (1.49 and later) reports a workflow
# value that is not among a combo's options in its missing-models dialog, with the download of the node's `models`
# entry. A missing file still fails when the prompt is queued with the loader's own message (folder and source):
# the loaders' validate_inputs take the value, so ComfyUI leaves out its "value not in list" check.
def file_options(sources, also=()):
    """Model files in models/foley (outside Hugging Face folders) and in the folders `also`; official ones first."""
    names = {n for n in folder_paths.get_filename_list(FOLDER) if not _inside_hf_folder(n)}
    for folder in also:
        names.update(folder_paths.get_filename_list(folder))
    return _official_first(names, sources)


def folder_options(sources, model_type):
    """Hugging Face folders in models/foley whose config names `model_type` (e.g. "clap", "siglip")."""
    return _official_first({n for n, t in _hf_folders().items() if model_type in t}, sources)


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


def _plain_relative(name):
    """A folder value names a folder inside models/foley: no absolute path, no `..` (links inside stay usable)."""
    normal = os.path.normpath(name)
    return bool(name) and not os.path.isabs(normal) and os.pardir not in normal.split(os.sep)


def resolve_folder(name, sources):
    """The folder `name` inside one of the foley model folders. A value that points elsewhere gets the same
    message as an absent folder, so that the error tells nothing about the rest of the disk."""
    for root in folder_paths.get_folder_paths(FOLDER) if _plain_relative(name) else ():
        path = os.path.join(root, name)
        if os.path.isdir(path):
            return path
    raise FileNotFoundError(f"model folder {name!r} not found in {_searched((FOLDER,))}. Download all files of "
                            f"{_source(name, sources)} into a folder of that name there.")
