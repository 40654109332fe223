"""Rows of a batch run on several ComfyUI servers: each server takes the next row when it is free; a row a
server could not queue (it stopped answering) goes to another one while any still answers. Standard library
only."""
import collections
import copy
import datetime
import os
import sys
import threading
import time
import uuid

from .comfy_client import ComfyError, ExecutionFailed, PromptRejected, ServerUnreachable
from .overrides import (
    OverrideError,
    apply_overrides,
    apply_sets,
    effective_values,
    tag_file_prefixes,
)
from .report import scores, write_report

UPLOAD_SUBFOLDER = "foley_batch"


class RowError(Exception):
    """This row cannot run (the others can)."""


class NotRun(RowError):
    """This row was never given to a server (e.g. its video is missing): no server is named for it."""


class Fatal(Exception):
    """No row can run: the batch stops."""


def output_items(outputs, previews=False):
    """Files in a /history entry's node outputs: those saved to the output folder (SaveVideo, SaveAudio ...);
    with `previews`, or when there are none, also the previews (type temp, e.g. PreviewAudio)."""
    items = [item for ui in outputs.values() for value in ui.values() if isinstance(value, list)
             for item in value if isinstance(item, dict) and "filename" in item]
    saved = [item for item in items if item.get("type", "output") == "output"]
    return items if previews or not saved else saved


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


class Job:
    def __init__(self, index, values, row_keys, base, error=None, label=None):
        self.index, self.values, self.row_keys, self.base = index, values, set(row_keys), base
        self.label = label or f"row {index}"
        self.error = error  # why it cannot run, found before running (a missing video, a cell that is no number)
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
                 progress=None, max_file_bytes=None):
        self.servers, self.jobs, self.sets = servers, jobs, sets
        self.previews, self.timeout, self.report, self.meta = previews, timeout, report, meta or {}
        self.max_file_bytes = max_file_bytes
        self.log, self.progress = log or (lambda msg: print(msg, file=sys.stderr)), progress
        self.pending = collections.deque(job for job in jobs if not job.error)
        # taking a row, handing one back and finishing one happen under `turn`: a worker with nothing to take
        # waits while rows are out on other servers, since a server that stops answering hands its row back
        self.turn = threading.Condition()
        self.out = 0  # rows taken and not yet finished or handed back
        self.lock = threading.Lock()
        self.stopped = None  # why the batch stopped
        self.interrupted = False
        self.started = time.time()
        self.written = 0.0  # when the report was last written
        self.batch_id = uuid.uuid4().hex[:6]

    # a row on a server --------------------------------------------------------------------------------------

    def run_job(self, server, job):
        values = dict(job.values)
        video = values.get("video")
        if video is not None and not os.path.isfile(video):  # removed since the batch started
            raise NotRun(f"video not found: {video}")
        job.server, job.prompt_id = server.client.url, ""
        if video is not None:
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
            server.client.download(item, path, max_bytes=self.max_file_bytes)
        job.outputs, job.scores = paths, scores(outputs)
        if not items:
            job.message = "the workflow saved no files"

    def take(self):
        """The next row for a worker, or None when there is none left to take (or the batch stopped)."""
        with self.turn:
            while self.stopped is None:
                if self.pending:
                    self.out += 1
                    return self.pending.popleft()
                if not self.out:
                    return None
                self.turn.wait()
            return None

    def hand_back(self, job):
        with self.turn:
            self.pending.appendleft(job)
            self.out -= 1
            self.turn.notify_all()

    def settle(self):
        with self.turn:
            self.out -= 1
            self.turn.notify_all()

    def worker(self, server):
        while (job := self.take()) is not None:
            start = time.monotonic()
            try:
                self.run_job(server, job)
                job.status = "ok"
            except ServerUnreachable as e:
                if not job.prompt_id:  # never queued: another server can take it
                    job.server = ""
                    self.hand_back(job)
                    self.log(f"{server.client.url} stopped answering ({e}); it takes no more rows")
                    return
                job.status, job.message = "error", str(e)
            except NotRun as e:
                job.status, job.message = "error", f"not run: {e}"
            except (RowError, ExecutionFailed, ComfyError, OSError) as e:
                job.status, job.message = "error", str(e)
            except Fatal as e:
                job.status, job.message = "error", str(e)
                self.stop(f"{server.client.url} rejected the workflow at {job.label}, so no row can run")
            except Exception as e:  # noqa: BLE001 - a bug must not hang the batch
                job.status, job.message = "error", f"{type(e).__name__}: {e}"
            job.seconds = time.monotonic() - start
            if job.server:
                server.done += 1
            self.finished(job)
            self.settle()

    # bookkeeping --------------------------------------------------------------------------------------------

    def stop(self, reason):
        with self.lock:
            if self.stopped is None:
                self.stopped = reason
        with self.turn:
            self.turn.notify_all()

    def finished(self, job):
        with self.lock:
            where = f" on {job.server}" if job.server else ""
            if job.status == "ok":
                files = ", ".join(job.outputs) or "no files"
                self.log(f"{job.label}: ok -> {files} ({job.seconds:.1f} s{where})")
            elif job.message.startswith("not run:"):
                self.log(f"{job.label}: {job.message}")
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
        self.written = time.monotonic()
        write_report(self.report, data)

    def run(self):
        for job in self.jobs:
            if job.error:
                job.status, job.message = "error", f"not run: {job.error}"
                self.finished(job)
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
