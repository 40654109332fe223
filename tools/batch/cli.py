"""The command line of tools/foley_batch.py: run a workflow of this pack through running ComfyUI servers, once or
for every row of a CSV file.

    python tools/foley_batch.py workflows/video_to_foley.json --video clip.mp4 --prompt "glass shatters" --output out/
    python tools/foley_batch.py video_to_foley --csv rows.csv --server http://gpu1:8188 --server http://gpu2:8188

Talks to ComfyUI only over its HTTP API (/object_info, /upload/image, /prompt, /history, /view): it needs
neither ComfyUI nor torch, only Python 3.10+ (tqdm draws the progress bar when installed). A workflow saved by
the front end is converted to the API format with each server's /object_info (workflow_api.py); an API-format
file is used as it is. Without --server it uses http://127.0.0.1:8188 (what `bash .ci/start_comfyui.sh`
starts). The options and CSV columns become node inputs in overrides.py, the rows run in scheduler.py, the
report is written by report.py. See "Batch runs" in README.md.

Exit status: 0 every run succeeded, 1 a run or CSV row failed (the others went on), 2 nothing could run or
the batch stopped (bad arguments, an unreadable CSV, no server, a workflow the servers reject, e.g. a missing
model file), 130 interrupted (Ctrl-C; the runs in progress are cancelled on the servers).
"""
import argparse
import copy
import csv
import io
import json
import os
import sys
from pathlib import Path

from .comfy_client import MAX_FILE_BYTES, ComfyClient, ComfyError, ServerUnreachable
from .overrides import (
    TARGETS,
    UsageError,
    apply_overrides,
    apply_sets,
    check_overrides,
    parse_set,
)
from .report import report_paths
from .scheduler import UPLOAD_SUBFOLDER, Batch, Job, Server
from .workflow_api import ConversionError, load_workflow, to_api

PACK_ROOT = Path(__file__).resolve().parents[2]  # the shared workflows/ are the pack's
DEFAULT_SERVER = "http://127.0.0.1:8188"
# CSV header (lower case, spaces as _) -> override
CSV_COLUMNS = {"path": "video", "video": "video", "prompt": "prompt", "negative_prompt": "negative",
               "negative": "negative", "seed": "seed", "start": "start", "start_time": "start",
               "duration": "duration", "candidates": "candidates", "batch_size": "candidates", "steps": "steps"}
PARSERS = {"video": str, "prompt": str, "negative": str, "seed": int, "candidates": int, "steps": int,
           "start": float, "duration": float}
MAX_CELL_CHARS = 131072  # the csv module's own default limit: no prompt or path comes near it


def resolve_workflow(name):
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (PACK_ROOT / "workflows" / name, PACK_ROOT / "workflows" / f"{name}.json"):
        if candidate.is_file():
            return candidate
    raise UsageError(f"workflow not found: {name} (a file, or the name of one in {PACK_ROOT / 'workflows'})")


def _csv_text(path):
    """The CSV file as text: UTF-8 (with or without the BOM that Excel writes); any other encoding is refused,
    naming the one it looks like, since a guess could change the prompts without a word."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            looks = "UTF-16"
        else:
            try:
                raw.decode("cp1252")
                looks = "Windows-1252 (Latin-1)"
            except UnicodeDecodeError:
                looks = "an encoding other than UTF-8"
        line = raw.count(b"\n", 0, e.start) + 1
        raise UsageError(f"{path}: the file is not UTF-8 but looks like {looks} (byte 0x{raw[e.start]:02x} on "
                         f"line {line}); save it as UTF-8 (in Excel: \"CSV UTF-8\")") from None


def _check_cells(path, cells, where, header=None):
    for column, cell in enumerate(cells, 1):
        if len(cell) > MAX_CELL_CHARS:
            name = f" ({header[column - 1]})" if header and column <= len(header) else ""
            raise UsageError(f"{path}: {where}, column {column}{name}: a cell of {len(cell)} characters, more than "
                             f"the {MAX_CELL_CHARS} this command reads (an unclosed quote makes one cell of the "
                             "rest of the file)")


def read_csv(path):
    """-> [(row number, {override: text})] and the unknown columns; blank rows are skipped (but counted)."""
    text = _csv_text(path)
    # the csv module's own limit raises without saying where: cells are measured here instead
    previous = csv.field_size_limit(max(MAX_CELL_CHARS, 2**31 - 1))
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader, None)
            if not header:
                raise UsageError(f"{path}: empty CSV (expected a header row: path,prompt,negative_prompt,seed,"
                                 "start,duration)")
            _check_cells(path, header, "the header row")
            keys = [CSV_COLUMNS.get(h.strip().lower().replace(" ", "_")) for h in header]
            if not any(keys):
                raise UsageError(f"{path}: no known column in the header {header} (expected path, prompt, "
                                 "negative_prompt, seed, start, duration)")
            unknown = [h for h, k in zip(header, keys) if k is None]
            rows = []
            for number, cells in enumerate(reader, 1):
                _check_cells(path, cells, f"row {number} (line {reader.line_num})", header)
                if not any(c.strip() for c in cells):
                    continue
                values = {k: c.strip() for k, c in zip(keys, cells) if k and c.strip() != ""}
                rows.append((number, values))
        except csv.Error as e:
            raise UsageError(f"{path}: line {reader.line_num}: {e}") from None
    finally:
        csv.field_size_limit(previous)
    return rows, unknown


def parse_value(key, text):
    try:
        value = PARSERS[key](text)
    except ValueError:
        kind = "a whole number" if PARSERS[key] is int else "a number"
        raise ValueError(f"{key} {text!r} is not {kind}") from None
    return value


def locate_video(text, csv_dir):
    path = Path(text).expanduser()
    if path.is_absolute():
        return str(path)
    beside = csv_dir / path
    if beside.exists() or not path.exists():
        return str(beside)
    return str(path)  # relative to the current folder


def build_parser():
    p = argparse.ArgumentParser(
        prog="foley_batch.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a workflow (UI or API format) through running ComfyUI servers over their HTTP API, "
                    "once or for every row of a CSV file.",
        epilog="CSV columns (header row): path, prompt, and optionally negative_prompt, seed, start, duration "
               "(also candidates, steps). Empty cells keep the command-line value or the workflow's. Relative "
               "paths are taken from the CSV file's folder (else from the current folder). The CSV file must be "
               "UTF-8.\n"
               "Exit status: 0 all ran, 1 a run or row failed, 2 nothing could run or the batch stopped, "
               "130 interrupted.")
    p.add_argument("workflow", help="workflow file (UI or API format), or the name of one in workflows/")
    p.add_argument("--server", action="append", metavar="URL",
                   help=f"a running ComfyUI (repeat for several; each takes the next row when free). "
                        f"Default {DEFAULT_SERVER}")
    p.add_argument("--video", metavar="PATH", help="video file: uploaded to the server and set on LoadVideo")
    p.add_argument("--prompt", metavar="TEXT", help="the sound prompt (prompt of FoleyTextEncode)")
    p.add_argument("--negative", metavar="TEXT", help="the negative prompt (negative_prompt of FoleyTextEncode)")
    p.add_argument("--seed", type=int, metavar="N", help="seed of the sampler (FoleySampler, else the stock ones)")
    p.add_argument("--candidates", type=int, metavar="N", help="audios per run (batch_size of FoleyConditioning)")
    p.add_argument("--start", type=float, metavar="S", help="start_time of FoleyVisualEncode/FoleySyncEncode (s)")
    p.add_argument("--duration", type=float, metavar="S",
                   help="duration of FoleyVisualEncode/FoleySyncEncode (s, 0 = to the end); without them the "
                        "duration of FoleyConditioning (text only)")
    p.add_argument("--steps", type=int, metavar="N", help="sampling steps (FoleySampler, else the stock ones)")
    p.add_argument("--set", action="append", default=[], metavar="NODE.INPUT=VALUE", dest="sets",
                   help="set any input: NODE is a node id or a class name, VALUE JSON or text (repeatable)")
    p.add_argument("--output", metavar="PATH",
                   help="folder for the results (default foley_out), or a file name for a single run")
    p.add_argument("--csv", metavar="FILE", help="run once per row of this CSV file (UTF-8)")
    p.add_argument("--report", metavar="PATH", help="write PATH.csv and PATH.json with each row's status, files, "
                                                    "time and scores (CSV mode default: <output>/report)")
    p.add_argument("--previews", action="store_true",
                   help="also download preview files (e.g. every candidate's audio from PreviewAudio)")
    p.add_argument("--timeout", type=float, default=0, metavar="S",
                   help="cancel a run that takes longer (default 0: no limit)")
    p.add_argument("--max-file-mb", type=float, default=MAX_FILE_BYTES / 2**20, metavar="MB",
                   help=f"refuse a result file larger than this (default {MAX_FILE_BYTES / 2**20:g} MiB)")
    p.add_argument("--save-api", metavar="FILE",
                   help="write the API-format prompt that would be queued (with the overrides) and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _strip_report_suffix(path):
    return path[: -len(Path(path).suffix)] if Path(path).suffix.lower() in (".csv", ".json") else path


def make_jobs(args, workflow_path):
    cli = {key: getattr(args, key) for key in TARGETS}
    given = {k for k, v in cli.items() if v is not None}
    if cli["video"] is not None:
        cli["video"] = str(Path(cli["video"]).expanduser())
    if args.csv is None:
        output = Path(args.output or "foley_out")
        if output.suffix and not output.is_dir() and not args.output.endswith(("/", os.sep)):
            return [Job(1, cli, given, str(output.with_suffix("")), label="run")], str(output.parent)
        stem = Path(cli["video"]).stem if cli["video"] else workflow_path.stem  # a folder
        return [Job(1, cli, given, str(output / f"{stem}_foley"), label="run")], str(output)
    out_dir = Path(args.output or "foley_out")
    if out_dir.suffix and not out_dir.is_dir():
        raise UsageError(f"--output {out_dir}: with --csv this is a folder, not a file name")
    csv_path = Path(args.csv)
    if not csv_path.is_file():
        raise UsageError(f"CSV file not found: {csv_path}")
    rows, unknown = read_csv(csv_path)
    if unknown:
        print(f"warning: {csv_path}: ignoring the columns {', '.join(unknown)}", file=sys.stderr)
    if not rows:
        raise UsageError(f"{csv_path}: no rows")
    width = max(3, len(str(rows[-1][0])))
    jobs = []
    for number, cells in rows:
        values, error = dict(cli), None
        for key, text in cells.items():
            try:
                values[key] = parse_value(key, text)
            except ValueError as e:
                error = f"CSV row {number}: {e}"
        if "video" in cells:
            values["video"] = locate_video(cells["video"], csv_path.parent)
        if error is None and values.get("video") is not None and not os.path.isfile(values["video"]):
            error = f"video not found: {values['video']}"
        stem = Path(values["video"]).stem if values.get("video") else workflow_path.stem
        jobs.append(Job(number, values, cells.keys(), str(out_dir / f"{number:0{width}d}_{stem}"), error))
    return jobs, str(out_dir)


def _same_file(a, b):
    if os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b)):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, case-insensitive file systems
    except OSError:
        return False


def refuse_overwriting_inputs(writes, reads):
    """Stop before anything runs when a file the command writes ({what: path}) is one it reads."""
    for what, path in writes.items():
        for source, input_path in reads:
            if _same_file(path, input_path):
                raise UsageError(f"{what} {path} is the {source}: it would be overwritten; choose another {what}")


def connect(urls, workflow):
    """-> [Server] with the workflow converted for each; unreachable servers are left out with a warning."""
    servers = []
    for url in urls:
        client = ComfyClient(url)
        try:
            info = client.object_info()
        except (ServerUnreachable, ComfyError) as e:
            print(f"warning: {e}; not using it", file=sys.stderr)
            continue
        try:
            servers.append(Server(client, to_api(workflow, info)))
        except ConversionError as e:
            raise UsageError(f"{client.url}: the workflow cannot be converted: {e}") from e
    if not servers:
        raise UsageError("no ComfyUI server answers at " + ", ".join(urls) + ". Start one (e.g. `bash "
                         ".ci/start_comfyui.sh`, or ComfyUI's `python main.py`) or pass --server URL.")
    return servers


def _warn(message):
    print(message, file=sys.stderr)


def main(argv=None):
    args = build_parser().parse_args(argv)
    report = None
    try:
        if not args.max_file_mb > 0:
            raise UsageError(f"--max-file-mb {args.max_file_mb:g}: expected a size above 0")
        workflow_path = resolve_workflow(args.workflow)
        try:
            workflow = load_workflow(workflow_path)
        except (ValueError, OSError) as e:
            raise UsageError(f"cannot read the workflow {workflow_path}: {e}") from e
        sets = [parse_set(s) for s in args.sets]
        jobs, out_dir = make_jobs(args, workflow_path)
        report = _strip_report_suffix(args.report) if args.report else (
            str(Path(out_dir) / "report") if args.csv else None)
        writes = {"--save-api": args.save_api} if args.save_api else {}
        if report and not args.save_api:
            writes.update(zip(("--report CSV", "--report JSON"), report_paths(report)))
        reads = [("workflow", workflow_path)] + ([("CSV file", args.csv)] if args.csv else [])
        reads += [("video of " + job.label, job.values["video"]) for job in jobs if job.values.get("video")]
        refuse_overwriting_inputs(writes, reads)
        urls = args.server or [DEFAULT_SERVER]
        servers = connect(urls, workflow)
        check_overrides(servers[0].api_prompt, [job.values for job in jobs], sets, _warn)
        if not args.csv and jobs[0].values.get("video") and not os.path.isfile(jobs[0].values["video"]):
            raise UsageError(f"video not found: {jobs[0].values['video']}")  # the one run cannot run
        if args.save_api:
            job = jobs[0]
            prompt = copy.deepcopy(servers[0].api_prompt)
            values = dict(job.values)
            if values.get("video"):
                values["video"] = servers[0].client.upload(values["video"], UPLOAD_SUBFOLDER)
            apply_overrides(prompt, values)
            apply_sets(prompt, sets)
            Path(args.save_api).write_text(json.dumps(prompt, indent=1))
            print(args.save_api)
            return 0
    except (UsageError, ComfyError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    meta = {"workflow": str(workflow_path), "servers": [s.client.url for s in servers], "csv": args.csv}
    progress = None
    if args.csv and not args.quiet:
        try:
            from tqdm import tqdm
            progress = tqdm(total=len(jobs), unit="row", file=sys.stderr, dynamic_ncols=True)
        except ImportError:
            progress = None
    log = (lambda msg: progress.write(msg, file=sys.stderr)) if progress is not None else None
    batch = Batch(servers, jobs, sets, previews=args.previews, timeout=args.timeout or None, report=report,
                  meta=meta, log=log, progress=progress, max_file_bytes=int(args.max_file_mb * 2**20))
    batch.run()
    if progress is not None:
        progress.close()

    ok = sum(job.status == "ok" for job in jobs)
    if args.csv is None and jobs[0].status == "ok":
        for path in jobs[0].outputs:
            print(path)
    if args.csv:
        per_server = ", ".join(f"{s.client.url}: {s.done}" for s in servers)
        print(f"{ok} of {len(jobs)} rows ok ({per_server})" + (f"; report: {report}.csv, {report}.json"
                                                               if report else ""), file=sys.stderr)
    if batch.interrupted:
        print("error: interrupted; the runs in progress were cancelled", file=sys.stderr)
        return 130
    if batch.stopped:
        if len(jobs) > 1:
            print(f"error: the batch stopped: {batch.stopped}", file=sys.stderr)
        return 2
    return 0 if ok == len(jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
