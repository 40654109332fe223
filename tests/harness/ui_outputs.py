"""Files listed in a prompt's ui outputs (the same shape in-process and from /history)."""
import os


def ui_output_files(outputs, directory_of_type, kind=None):
    """Absolute paths of the entries with filename/subfolder/type; `kind` keeps one ui key (e.g. "audio")."""
    paths = []
    for ui in outputs.values():
        for key, items in ui.items():
            if kind is not None and key != kind:
                continue
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and "filename" in item:
                    base = directory_of_type(item.get("type", "output"))
                    paths.append(os.path.join(base, item.get("subfolder", ""), item["filename"]))
    return paths
