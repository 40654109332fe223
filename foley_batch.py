#!/usr/bin/env python3
"""Run a workflow of this pack through running ComfyUI servers, once or for every row of a CSV file.

    python foley_batch.py workflows/video_to_foley.json --video clip.mp4 --prompt "glass shatters" --output out/
    python foley_batch.py video_to_foley --csv rows.csv --server http://gpu1:8188 --server http://gpu2:8188

Talks to ComfyUI only over its HTTP API (/object_info, /upload/image, /prompt, /history, /view): it needs
neither ComfyUI nor torch, only Python 3.10+ (tqdm draws the progress bar when installed). A workflow saved by
the front end is converted to the API format with each server's /object_info (tools/workflow_api.py); an
API-format file is used as it is. Without --server it uses http://127.0.0.1:8188 (what `bash
ci/start_comfyui.sh` starts). See "Batch runs" in README.md.

Exit status: 0 every run succeeded, 1 a run or CSV row failed (the others went on), 2 nothing could run or
the batch stopped (bad arguments, no server, a workflow the servers reject, e.g. a missing model file),
130 interrupted (Ctrl-C; the runs in progress are cancelled on the servers).
"""
import argparse
import collections
import copy
import csv
import datetime
import json
import os
import queue
import re
import sys
import threading
import time
import uuid
from pathlib import Path

from tools.comfy_client import ComfyClient, ComfyError, ExecutionFailed, PromptRejected, ServerUnreachable
from tools.workflow_api import ConversionError, load_workflow, to_api

HERE = Path(__file__).resolve().parent
DEFAULT_SERVER = "http://127.0.0.1:8188"
UPLOAD_SUBFOLDER = "foley_batch"

# override -> (class_type, input) targets; the first group with a node in the workflow is used, all of its nodes
TARGETS = {
    "video": [[("LoadVideo", "file")]],
    "prompt": [[("FoleyTextEncode", "prompt"), ("FoleyScore", "prompt")]],
    "negative": [[("FoleyTextEncode", "negative_prompt")]],
    "seed": [[("FoleySampler", "seed")],
             [("KSampler", "seed"), ("KSamplerAdvanced", "noise_seed"), ("RandomNoise", "noise_seed")]],
    "candidates": [[("FoleyConditioning", "batch_size")]],
    "start": [[("FoleyVisualEncode", "start_time"), ("FoleySyncEncode", "start_time")]],
    "duration": [[("FoleyVisualEncode", "duration"), ("FoleySyncEncode", "duration")],
                 [("FoleyConditioning", "duration")]],  # text only: the length of the audio
    "steps": [[("FoleySampler", "steps")], [("KSampler", "steps"), ("KSamplerAdvanced", "steps"),
                                           ("BasicScheduler", "steps")]],
}
OPTION_NAMES = {"video": "--video / path", "prompt": "--prompt", "negative": "--negative", "seed": "--seed",
                "candidates": "--candidates", "start": "--start", "duration": "--duration", "steps": "--steps"}
# CSV header (lower case, spaces as _) -> override
CSV_COLUMNS = {"path": "video", "video": "video", "prompt": "prompt", "negative_prompt": "negative",
               "negative": "negative", "seed": "seed", "start": "start", "start_time": "start",
               "duration": "duration", "candidates": "candidates", "batch_size": "candidates", "steps": "steps"}
PARSERS = {"video": str, "prompt": str, "negative": str, "seed": int, "candidates": int, "steps": int,
           "start": float, "duration": float}
REPORT_FIELDS = ["row", "path", "prompt", "negative_prompt", "seed", "start", "duration", "status", "message",
                 "outputs", "server", "prompt_id", "seconds", "scores"]
SCORE_KEY = re.compile("score|candidate", re.IGNORECASE)


class UsageError(Exception):
    """Bad arguments or a workflow that cannot take them: nothing runs."""


class OverrideError(UsageError):
    pass


class RowError(Exception):
    """This row cannot run (the others can)."""


class Fatal(Exception):
    """No row can run: the batch stops."""


# --- overrides ----------------------------------------------------------------------------------------------

def _is_link(value):
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def _holder(prompt, node_id, name, option):
    """(node id, input) holding the value: the input itself or the `value` of a Primitive* node linked to it."""
    value = prompt[node_id]["inputs"].get(name)
    if not _is_link(value):
        return node_id, name
    source = prompt.get(value[0])
    if source and source["class_type"].startswith("Primitive") and not _is_link(source["inputs"].get("value")):
        return value[0], "value"
    kind = source["class_type"] if source else "?"
    raise OverrideError(f"{option}: {prompt[node_id]['class_type']} (node {node_id}) takes {name} from {kind} "
                        f"(node {value[0]}), not from a value; change that node with --set")


def targets(prompt, key):
    """[(node id, input)] that override `key` sets in `prompt`."""
    for group in TARGETS[key]:
        hits = [(node_id, name) for node_id, node in prompt.items() for kind, name in group
                if node.get("class_type") == kind]
        if hits:
            return [_holder(prompt, node_id, name, OPTION_NAMES[key]) for node_id, name in hits]
    kinds = " or ".join(dict.fromkeys(kind for group in TARGETS[key] for kind, _ in group))
    raise OverrideError(f"{OPTION_NAMES[key]}: the workflow has no {kinds} node")


def apply_overrides(prompt, values):
    """Set each override (None = keep the workflow's value) -> {key: {node ids changed}}."""
    changed = {}
    for key, value in values.items():
        if value is None:
            continue
        changed[key] = set()
        for node_id, name in targets(prompt, key):
            prompt[node_id]["inputs"][name] = value
            changed[key].add(node_id)
    return changed


def parse_set(text):
    """'NODE.INPUT=VALUE' (NODE: a node id or a class_type; VALUE: JSON, else a string) -> (node, input, value)."""
    left, sep, raw = text.partition("=")
    node, dot, name = left.strip().rpartition(".")
    if not sep or not dot or not node or not name:
        raise UsageError(f"--set {text!r}: expected NODE.INPUT=VALUE, e.g. --set FoleySampler.cfg=5 or "
                         "--set 12.steps=8")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return node, name, value


def apply_sets(prompt, sets):
    for node, name, value in sets:
        ids = [node] if node in prompt else [i for i, n in prompt.items() if n.get("class_type") == node]
        if not ids:
            raise OverrideError(f"--set {node}.{name}: the workflow has no node with id or class {node!r}")
        for node_id in ids:
            prompt[node_id]["inputs"][name] = value


def tag_file_prefixes(prompt, tag):
    """`<prefix>-<tag>` for every filename_prefix: servers that share an output folder could otherwise pick the
    same file number at the same moment and write over each other's result before it is downloaded."""
    for node in prompt.values():
        prefix = node.get("inputs", {}).get("filename_prefix")
        if isinstance(prefix, str):
            node["inputs"]["filename_prefix"] = f"{prefix}-{tag}"


def effective_values(prompt, video=None):
    """What a run used, for the report: the value of each override's first target (the workflow's or ours)."""
    result = {}
    for key in TARGETS:
        try:
            node_id, name = targets(prompt, key)[0]
            result[key] = prompt[node_id]["inputs"].get(name)
        except OverrideError:
            result[key] = None
    result["video"] = video
    return result


# --- results ------------------------------------------------------------------------------------------------

def output_items(outputs, previews=False):
    """Files in a /history entry's node outputs: those saved to the output folder (SaveVideo, SaveAudio ...);
    with `previews`, or when there are none, also the previews (type temp, e.g. PreviewAudio)."""
    items = [item for ui in outputs.values() for value in ui.values() if isinstance(value, list)
             for item in value if isinstance(item, dict) and "filename" in item]
    saved = [item for item in items if item.get("type", "output") == "output"]
    return items if previews or not saved else saved


def _numeric(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, dict):
        kept = {k: v for k, v in ((k, _numeric(v)) for k, v in value.items()) if v is not None}
        return kept or None
    if isinstance(value, (list, tuple)):
        kept = [v for v in (_numeric(v) for v in value) if v is not None]
        return kept or None
    return None


def scores(outputs):
    """The numbers of node outputs whose key names scores or candidates (e.g. FoleyScore's DeSync and CLAP per
    candidate) -> {key: numbers} or None. Strings and file references are left out."""
    found = {}
    for node_id, ui in outputs.items():
        for key, value in ui.items():
            if not SCORE_KEY.search(str(key)):
                continue
            numbers = _numeric(value)
            if numbers is None:
                continue
            if isinstance(numbers, list) and len(numbers) == 1:  # ui values are lists, usually of one
                numbers = numbers[0]
            found[key if key not in found else f"{key}@{node_id}"] = numbers
    return found or None


def destinations(items, base):
    """Local paths for downloaded files: `base` + the file's extension; `_0`, `_1` ... when several share one."""
    exts = [os.path.splitext(item["filename"])[1] for item in items]
    counts, seen, paths = collections.Counter(exts), collections.Counter(), []
    for ext in exts:
        if counts[ext] > 1:
            paths.append(f"{base}_{seen[ext]}{ext}")
            seen[ext] += 1
        else:
            paths.append(f"{base}{ext}")
    return paths


# --- jobs ---------------------------------------------------------------------------------------------------

class Job:
    def __init__(self, index, values, row_keys, base, error=None, label=None):
        self.index, self.values, self.row_keys, self.base = index, values, set(row_keys), base
        self.label = label or f"row {index}"
        self.error = error  # a problem found before running (e.g. a CSV cell that is not a number)
        self.status, self.message, self.outputs, self.scores = None, "", [], None
        self.server, self.prompt_id, self.seconds, self.used = "", "", None, {}

    def report_row(self):
        used = {**{k: v for k, v in self.values.items() if v is not None}, **{k: v for k, v in self.used.items()
                                                                           if v is not None}}
        return {"row": self.index, "path": self.values.get("video") or "", "prompt": used.get("prompt", ""),
                "negative_prompt": used.get("negative", ""), "seed": used.get("seed", ""),
                "start": used.get("start", ""), "duration": used.get("duration", ""), "status": self.status,
                "message": self.message, "outputs": self.outputs, "server": self.server, "prompt_id": self.prompt_id,
                "seconds": None if self.seconds is None else round(self.seconds, 2), "scores": self.scores}


class Server:
    def __init__(self, client, api_prompt):
        self.client, self.api_prompt = client, api_prompt
        self.current = None  # prompt id being waited for
        self.done = 0


class Batch:
    def __init__(self, servers, jobs, sets, previews=False, timeout=None, report=None, meta=None, log=None,
                 progress=None):
        self.servers, self.jobs, self.sets = servers, jobs, sets
        self.previews, self.timeout, self.report, self.meta = previews, timeout, report, meta or {}
        self.log, self.progress = log or (lambda msg: print(msg, file=sys.stderr)), progress
        self.pending = queue.Queue()
        for job in jobs:
            self.pending.put(job)
        self.lock = threading.Lock()
        self.stopped = None  # why the batch stopped
        self.interrupted = False
        self.started = time.time()
        self.written = 0.0  # when the report was last written
        self.batch_id = uuid.uuid4().hex[:6]

    # a row on a server --------------------------------------------------------------------------------------

    def run_job(self, server, job):
        job.server, job.prompt_id = server.client.url, ""
        if job.error:
            raise RowError(job.error)
        values = dict(job.values)
        video = values.get("video")
        if video is not None:
            if not os.path.isfile(video):
                raise RowError(f"video file not found: {video}")
            values["video"] = server.client.upload(video, UPLOAD_SUBFOLDER)
        prompt = copy.deepcopy(server.api_prompt)
        try:
            changed = apply_overrides(prompt, values)
            apply_sets(prompt, self.sets)
        except OverrideError as e:
            raise RowError(str(e)) from e
        tag_file_prefixes(prompt, f"{self.batch_id}-{job.index:04d}")
        job.used = effective_values(prompt, video)
        row_nodes = set().union(*(changed.get(k, set()) for k in job.row_keys))
        try:
            job.prompt_id = server.client.queue(prompt)
        except PromptRejected as e:
            failing = set(e.node_errors)
            if failing and failing <= row_nodes:  # only what this row set is wrong: the others can run
                raise RowError(str(e)) from e
            raise Fatal(str(e)) from e
        server.current = job.prompt_id
        try:
            entry = server.client.wait(job.prompt_id, timeout=self.timeout)
        finally:
            server.current = None
        outputs = entry.get("outputs") or {}
        items = output_items(outputs, self.previews)
        paths = destinations(items, job.base)
        if video is not None and any(os.path.exists(p) and os.path.samefile(p, video) for p in paths):
            raise RowError(f"an output would replace the input video {video}: choose another --output")
        for item, path in zip(items, paths):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            server.client.download(item, path)
        job.outputs, job.scores = paths, scores(outputs)
        if not items:
            job.message = "the workflow saved no files"

    def worker(self, server):
        while self.stopped is None:
            try:
                job = self.pending.get_nowait()
            except queue.Empty:
                return
            start = time.monotonic()
            try:
                self.run_job(server, job)
                job.status = "ok"
            except ServerUnreachable as e:
                if not job.prompt_id:  # never queued: another server can take it
                    self.pending.put(job)
                    self.log(f"{server.client.url} stopped answering ({e}); it takes no more rows")
                    return
                job.status, job.message = "error", str(e)
            except (RowError, ExecutionFailed, ComfyError, OSError) as e:
                job.status, job.message = "error", str(e)
            except Fatal as e:
                job.status, job.message = "error", str(e)
                self.stop(f"{server.client.url} rejected the workflow at {job.label}, so no row can run")
            except Exception as e:  # noqa: BLE001 - a bug must not hang the batch
                job.status, job.message = "error", f"{type(e).__name__}: {e}"
            job.seconds = time.monotonic() - start
            server.done += 1
            self.finished(job)

    # bookkeeping --------------------------------------------------------------------------------------------

    def stop(self, reason):
        with self.lock:
            if self.stopped is None:
                self.stopped = reason

    def finished(self, job):
        with self.lock:
            where = f" on {job.server}" if job.server else ""
            if job.status == "ok":
                files = ", ".join(job.outputs) or "no files"
                self.log(f"{job.label}: ok -> {files} ({job.seconds:.1f} s{where})")
            else:
                self.log(f"{job.label}: error{where}: {job.message}")
            if self.progress is not None:
                self.progress.update(1)
            if time.monotonic() - self.written > 2:  # kept current during a long batch, at most every 2 s
                self.write_report()

    def write_report(self):
        if not self.report:
            return
        rows = [job.report_row() for job in self.jobs]
        ok = sum(r["status"] == "ok" for r in rows)
        failed = sum(r["status"] == "error" for r in rows)
        data = {**self.meta, "started": datetime.datetime.fromtimestamp(self.started).isoformat(timespec="seconds"),
                "seconds": round(time.time() - self.started, 2), "rows_total": len(rows), "ok": ok, "failed": failed,
                "stopped": self.stopped, "rows": rows}
        base, self.written = self.report, time.monotonic()
        os.makedirs(os.path.dirname(os.path.abspath(base)) or ".", exist_ok=True)
        with open(base + ".json.part", "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(base + ".json.part", base + ".json")
        with open(base + ".csv.part", "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, REPORT_FIELDS)
            writer.writeheader()
            for r in rows:
                writer.writerow({**r, "status": r["status"] or "", "outputs": ";".join(r["outputs"]),
                                 "seconds": "" if r["seconds"] is None else r["seconds"],
                                 "scores": json.dumps(r["scores"], separators=(",", ":")) if r["scores"] else ""})
        os.replace(base + ".csv.part", base + ".csv")

    def run(self):
        threads = [threading.Thread(target=self.worker, args=(s,), daemon=True, name=s.client.url)
                   for s in self.servers]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(0.2)
        except KeyboardInterrupt:
            self.interrupted = True
            self.stop("interrupted (Ctrl-C)")
            for s in self.servers:
                if s.current:
                    s.client.cancel(s.current)
            for t in threads:
                t.join(10)
        reason = self.stopped or "no server left to run it"
        for job in self.jobs:
            if job.status is None:  # never taken, or still running when the batch was interrupted
                job.status = "error"
                job.message = f"{'cancelled' if job.prompt_id else 'not run'}: {reason.splitlines()[0]}"
        with self.lock:
            self.write_report()
        return self.jobs


# --- command line -------------------------------------------------------------------------------------------

def resolve_workflow(name):
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (HERE / "workflows" / name, HERE / "workflows" / f"{name}.json"):
        if candidate.is_file():
            return candidate
    raise UsageError(f"workflow not found: {name} (a file, or the name of one in {HERE / 'workflows'})")


def read_csv(path):
    """-> [(row number, {override: text})] and the unknown columns; blank rows are skipped (but counted)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise UsageError(f"{path}: empty CSV (expected a header row: path,prompt,negative_prompt,seed,start,"
                             "duration)")
        keys = [CSV_COLUMNS.get(h.strip().lower().replace(" ", "_")) for h in header]
        if not any(keys):
            raise UsageError(f"{path}: no known column in the header {header} (expected path, prompt, "
                             "negative_prompt, seed, start, duration)")
        unknown = [h for h, k in zip(header, keys) if k is None]
        rows = []
        for number, cells in enumerate(reader, 1):
            if not any(c.strip() for c in cells):
                continue
            values = {k: c.strip() for k, c in zip(keys, cells) if k and c.strip() != ""}
            rows.append((number, values))
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
               "paths are taken from the CSV file's folder (else from the current folder).\n"
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
    p.add_argument("--csv", metavar="FILE", help="run once per row of this CSV file")
    p.add_argument("--report", metavar="PATH", help="write PATH.csv and PATH.json with each row's status, files, "
                                                    "time and scores (CSV mode default: <output>/report)")
    p.add_argument("--previews", action="store_true",
                   help="also download preview files (e.g. every candidate's audio from PreviewAudio)")
    p.add_argument("--timeout", type=float, default=0, metavar="S",
                   help="cancel a run that takes longer (default 0: no limit)")
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
        stem = Path(values["video"]).stem if values.get("video") else workflow_path.stem
        jobs.append(Job(number, values, cells.keys(), str(out_dir / f"{number:0{width}d}_{stem}"), error))
    return jobs, str(out_dir)


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
                         "ci/start_comfyui.sh`, or ComfyUI's `python main.py`) or pass --server URL.")
    return servers


def check_overrides(servers, jobs, sets):
    """Overrides the workflow cannot take stop here, before anything runs."""
    used = {key for job in jobs for key, value in job.values.items() if value is not None}
    probe = copy.deepcopy(servers[0].api_prompt)
    for key in sorted(used):
        hits = collections.defaultdict(list)
        for node_id, _ in targets(probe, key):
            hits[probe[node_id]["class_type"]].append(node_id)
        for kind, ids in hits.items():
            if len(ids) > 1:
                print(f"warning: {OPTION_NAMES[key]} sets all {len(ids)} {kind} nodes ({', '.join(ids)}); to set "
                      f"one, use --set ID.INPUT=VALUE", file=sys.stderr)
    apply_overrides(probe, {key: 0 for key in used})
    apply_sets(probe, sets)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        workflow_path = resolve_workflow(args.workflow)
        try:
            workflow = load_workflow(workflow_path)
        except (ValueError, OSError) as e:
            raise UsageError(f"cannot read the workflow {workflow_path}: {e}") from e
        sets = [parse_set(s) for s in args.sets]
        jobs, out_dir = make_jobs(args, workflow_path)
        urls = args.server or [DEFAULT_SERVER]
        servers = connect(urls, workflow)
        check_overrides(servers, jobs, sets)
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

    report = _strip_report_suffix(args.report) if args.report else (
        str(Path(out_dir) / "report") if args.csv else None)
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
                  meta=meta, log=log, progress=progress)
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
