#!/usr/bin/env python3
"""Fetch every model file the pack's workflows need into ComfyUI's models/foley, under the official names.

    python download_models.py                      # from custom_nodes/<this pack>/: into ComfyUI/models/foley
    python download_models.py --xl                 # also the optional MMDiT XL (5.8 GB)
    python download_models.py --models-dir /data/comfyui/models

The files and their sources are listed in foley_models/model_catalog.py. huggingface_hub (installed with
transformers) does the transfer: downloads resume where they stopped (also after Ctrl-C: run the command again),
show their progress and are checked against the size the hub reports. Files already there with the hub's size are
not fetched again; a file of another size under an official name is reported and left alone. HF_ENDPOINT (a
mirror) and HF_TOKEN are honoured as everywhere in huggingface_hub.

Exit status: 0 every file is there, 1 some file failed (each is named in the summary), 2 bad arguments.
"""
import argparse
import importlib.util
import os
import sys
import time

PACK_DIR = os.path.dirname(os.path.abspath(__file__))


def _load_catalog():
    # by its path: importing the foley_models package would import torch, which a download does not need
    path = os.path.join(PACK_DIR, "foley_models", "model_catalog.py")
    spec = importlib.util.spec_from_file_location("foley_model_catalog", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


catalog = _load_catalog()


class UsageError(Exception):
    pass


def default_models_dir(pack_dir=PACK_DIR):
    """ComfyUI's models folder when the pack sits in ComfyUI/custom_nodes/<pack>."""
    custom_nodes = os.path.dirname(os.path.abspath(pack_dir))
    if os.path.basename(custom_nodes) != "custom_nodes":
        raise UsageError(f"{pack_dir} is not inside a ComfyUI custom_nodes folder, so ComfyUI's models folder is not "
                         f"known: pass it with --models-dir (e.g. --models-dir /path/to/ComfyUI/models)")
    return os.path.join(os.path.dirname(custom_nodes), "models")


def human_size(size):
    if size is None:
        return "size unknown"
    for unit, scale in (("GB", catalog.GB), ("MB", catalog.MB), ("kB", 1000)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


class SizeMismatch(Exception):
    pass


def _part_path(path, etag):
    # the partial file carries the version it belongs to: a part of an older upload is never continued
    return f"{path}.{(etag or 'unknown')[:16]}.part"


def fetch(entry, foley_dir, hub):
    """One file -> ("fetched" | "present" | "absent", size). Raises on a failed transfer or a size mismatch.

    hf_hub_download keeps its partial files only while it runs (huggingface_hub 1.x and later), so the transfer
    goes through its http_get into a partial file of our own: an interrupted run, even a killed one, is continued
    by the next from where it stopped.
    """
    folder = os.path.join(foley_dir, entry.folder) if entry.folder else foley_dir
    path = os.path.join(folder, entry.name)
    try:
        # the hub's size and version: X-Linked-Size / X-Linked-Etag for large (LFS) files, else Content-Length / ETag
        meta = hub.get_hf_file_metadata(hub.hf_hub_url(entry.repo, entry.name))
    except hub.utils.EntryNotFoundError:
        if entry.missing_ok:
            return "absent", None
        raise
    if os.path.exists(path):
        size = os.path.getsize(path)
        if meta.size is None or size == meta.size:
            return "present", size
        raise SizeMismatch(f"{entry.target} has {size} bytes but the hub's file has {meta.size}; it was left as it "
                           f"is: move it away (or delete it) and run the command again to fetch the official file")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    part = _part_path(path, meta.etag)
    prefix = os.path.basename(path) + "."
    for name in os.listdir(os.path.dirname(path)):
        stale = os.path.join(os.path.dirname(path), name)
        if name.startswith(prefix) and name.endswith(".part") and stale != part:
            os.remove(stale)
    resume = os.path.getsize(part) if os.path.exists(part) else 0
    if meta.size is not None and resume > meta.size:
        os.remove(part)
        resume = 0
    with open(part, "ab") as f:
        hub.file_download.http_get(meta.location, f, resume_size=resume, headers=hub.utils.build_hf_headers(),
                                   expected_size=meta.size, displayed_filename=entry.target)
    size = os.path.getsize(part)
    if meta.size is not None and size != meta.size:
        raise SizeMismatch(f"{entry.target}: received {size} bytes, the hub announced {meta.size}")
    os.replace(part, path)
    return "fetched", size


def run(foley_dir, with_xl=False, out=sys.stdout):
    try:
        import huggingface_hub as hub
        import huggingface_hub.file_download  # hub.file_download.http_get: the submodule is not imported by the package
        import huggingface_hub.utils  # hub.utils.EntryNotFoundError, hub.utils.build_hf_headers
    except ImportError as e:
        raise UsageError(f"huggingface_hub is needed (it comes with transformers: pip install -r requirements.txt): "
                         f"{e}") from e
    entries = catalog.selected_files(with_optional=with_xl)
    total = sum(e.size for e in entries)
    endpoint = os.environ.get("HF_ENDPOINT", catalog.HUB_URL)
    print(f"{len(entries)} files, about {human_size(total)} in all (at 50 MB/s about {total / (50 * catalog.MB) / 60:.0f} "
          f"min, at 10 MB/s about {total / (10 * catalog.MB) / 60:.0f} min), from {endpoint} into {foley_dir}", file=out)
    os.makedirs(foley_dir, exist_ok=True)
    results = []
    for i, entry in enumerate(entries, 1):
        print(f"[{i}/{len(entries)}] {entry.target} ({entry.what}, about {human_size(entry.size)}) from {entry.repo}",
              file=out, flush=True)
        start = time.monotonic()
        try:
            state, size = fetch(entry, foley_dir, hub)
        except KeyboardInterrupt:
            print("interrupted: run the command again to resume", file=out)
            raise
        except SizeMismatch as e:
            results.append((entry, "failed", None, f"size mismatch: {e}"))
        except Exception as e:  # a network, disk or hub error of this file; the others still go on
            results.append((entry, "failed", None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
        else:
            seconds = time.monotonic() - start
            results.append((entry, state, size, f"{seconds:.1f} s"))
        _, state, size, note = results[-1]
        shown = {"fetched": f"fetched {human_size(size)} in {note}", "present": f"already there ({human_size(size)})",
                 "absent": f"not in {entry.repo}: skipped (transformers does without it)", "failed": f"FAILED: {note}"}
        print(f"    {shown[state]}", file=out, flush=True)
    return results


def summary(results, foley_dir, out=sys.stdout):
    fetched = [r for r in results if r[1] == "fetched"]
    present = [r for r in results if r[1] == "present"]
    failed = [r for r in results if r[1] == "failed"]
    absent = [r for r in results if r[1] == "absent"]
    print(f"\n{len(fetched)} fetched ({human_size(sum(r[2] for r in fetched))}), {len(present)} already there, "
          f"{len(failed)} failed" + (f", {len(absent)} not in their repository (optional)" if absent else "")
          + f"; folder: {foley_dir}", file=out)
    for entry, _, _, note in failed:
        print(f"  FAILED {entry.target} from {entry.repo}: {note}", file=out)
    for entry, _, _, _ in absent:
        print(f"  skipped {entry.target}: {entry.repo} has no {entry.name}", file=out)
    if failed:
        print("Run the command again: finished files are kept and interrupted ones resume.", file=out)
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Fetch the HunyuanVideo-Foley model files (MMDiT, VAE, Synchformer, CLAP, SigLIP2) into "
                    "ComfyUI's models/foley folder, under the names the workflows use.")
    parser.add_argument("--models-dir", metavar="DIR",
                        help="ComfyUI's models folder; the files go into DIR/foley (default: the models folder of "
                             "the ComfyUI this pack is installed in, found from custom_nodes/<pack>)")
    parser.add_argument("--xl", action="store_true", help="also fetch the optional MMDiT XL (hunyuanvideo_foley_xl.pth)")
    args = parser.parse_args(argv)
    try:
        models_dir = os.path.abspath(args.models_dir) if args.models_dir else default_models_dir()
        foley_dir = os.path.join(models_dir, "foley")
        results = run(foley_dir, with_xl=args.xl)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return summary(results, foley_dir)


if __name__ == "__main__":
    sys.exit(main())
