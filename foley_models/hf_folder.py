"""Loading Hugging Face model folders that the user placed on disk; nothing is ever downloaded."""
import contextlib
import os


def require_folder(folder, what, hub_id, needed=("config.json",)):
    """Fail early, naming the folder, the missing file and where the files come from."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what} folder not found: {folder}. Download the files of the Hugging Face "
                                f"repository {hub_id} (config, weights, tokenizer/preprocessor files) into it.")
    for name in needed:
        if not os.path.isfile(os.path.join(folder, name)):
            raise FileNotFoundError(f"{what} folder {folder} has no {name}. Download the files of the Hugging Face "
                                    f"repository {hub_id} into it.")
    if not any(f.endswith((".safetensors", ".bin")) for f in os.listdir(folder)):
        raise FileNotFoundError(f"{what} folder {folder} has no weights (model.safetensors or pytorch_model.bin). "
                                f"Download them from the Hugging Face repository {hub_id}.")
    return folder


@contextlib.contextmanager
def quiet_transformers():
    """transformers prints a load report listing every unused tensor of the other tower; keep the log readable."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
