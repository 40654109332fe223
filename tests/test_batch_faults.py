"""tools/foley_batch.py when things go wrong: a server that stops answering mid-batch, report cells that a
spreadsheet would run as formulas, a report path that is an input, unreadable CSV files, oversized server
answers and missing videos.

The servers are stand-ins (an HTTP server in a thread of the test, on 127.0.0.1) for the few ComfyUI endpoints
the batch client uses: they can stop answering, answer with an error, or send more than any real answer,
which a real ComfyUI cannot be made to do on cue. The command itself runs as a subprocess, as a user runs it.
"""
import csv
import json
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# the checkout's root is on pytest's path
from tools.batch.report import spreadsheet_cell

ROOT = Path(__file__).resolve().parent.parent
BATCH = ROOT / "tools" / "foley_batch.py"
MIB = 1 << 20
# an API-format graph with a node for every override the tests use; the stand-ins never run it
WORKFLOW = {
    "1": {"class_type": "LoadVideo", "inputs": {"file": "x.mp4"}},
    "2": {"class_type": "FoleyTextEncode", "inputs": {"prompt": "-2+3", "negative_prompt": "-7"}},
    "3": {"class_type": "FoleySampler", "inputs": {"seed": 1, "steps": 50}},
    "4": {"class_type": "FoleyVisualEncode", "inputs": {"start_time": 0.0, "duration": 0.0}},
    "5": {"class_type": "SaveVideo", "inputs": {"filename_prefix": "foley/clip", "video": ["1", 0]}},
}
RESULT = b"the bytes of a result file"


class StandIn:
    """ComfyUI's /object_info, /upload/image, /prompt, /history/ID, /view, /queue and /interrupt, answering as
    ComfyUI does for a graph that ran and saved one file. Hooks change that:
    before_upload()            runs before an upload is answered (e.g. waits, then sets `dead`);
    history(prompt_id, prompt) -> a /history entry, or (headers, byte chunks) sent as they are;
    view()                     -> (headers, byte chunks) of /view.
    `dead`: every request from then on is dropped without an answer."""

    def __init__(self):
        self.prompts = {}  # prompt id -> the prompt queued
        self.uploads = 0
        self.dead = False
        self.sent = 0  # body bytes of oversized answers that reached the socket
        self.downloaded = threading.Event()
        self.before_upload = self.history = self.view = None
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                stand_in.answer(self, "GET")

            def do_POST(self):
                stand_in.answer(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, handler, method):
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) if method == "POST" else b""
        path = handler.path
        if path == "/upload/image":
            self.uploads += 1
            if self.before_upload:
                self.before_upload()
        if self.dead:
            handler.close_connection = True  # no status line: the client sees the connection drop
            return
        if path == "/object_info":
            return self.send_json(handler, {})
        if path == "/upload/image":
            return self.send_json(handler, {"name": f"clip-{self.uploads}.mp4", "subfolder": "foley_batch",
                                            "type": "input"})
        if path == "/prompt":
            prompt_id = uuid.uuid4().hex
            self.prompts[prompt_id] = json.loads(body)["prompt"]
            return self.send_json(handler, {"prompt_id": prompt_id, "number": len(self.prompts), "node_errors": {}})
        if path.startswith("/history/"):
            prompt_id = path.rsplit("/", 1)[1]
            entry = (self.history or ran_and_saved)(prompt_id, self.prompts[prompt_id])
            if isinstance(entry, dict):
                return self.send_json(handler, {prompt_id: entry})
            return self.send_stream(handler, *entry)
        if path.startswith("/view?"):
            self.send_stream(handler, *(self.view() if self.view else ({"Content-Length": len(RESULT)}, [RESULT])))
            self.downloaded.set()
            return
        if path in ("/queue", "/interrupt"):
            return self.send_json(handler, {})
        handler.send_error(404)

    def send_json(self, handler, data):
        raw = json.dumps(data).encode()
        self.send_stream(handler, {"Content-Type": "application/json", "Content-Length": len(raw)}, [raw])

    def send_stream(self, handler, headers, chunks):
        handler.send_response(200)
        for name, value in headers.items():
            handler.send_header(name, str(value))
        handler.end_headers()
        try:
            for chunk in chunks:
                handler.wfile.write(chunk)
                self.sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: what the tests want
            pass


def ran_and_saved(prompt_id, prompt):
    return {"status": {"status_str": "success", "completed": True, "messages": []},
            "outputs": {"5": {"images": [{"filename": f"{prompt_id}.mp4", "subfolder": "foley", "type": "output"}]}}}


def failed_at(node_type):
    return {"status": {"status_str": "error", "completed": False, "messages": [
        ["execution_error", {"node_id": "2", "node_type": node_type, "exception_type": "ValueError",
                             "exception_message": "bad"}]]}, "outputs": {}}


def mebibytes(count, size=MIB):
    for _ in range(count):
        yield b"x" * size


@pytest.fixture
def stand_ins():
    made = []

    def make():
        made.append(StandIn())
        return made[-1]

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def work(tmp_path):
    """A folder with the workflow and two (pretend) clips."""
    (tmp_path / "workflow.json").write_text(json.dumps(WORKFLOW))
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"not decoded by the stand-ins")
    return tmp_path


def batch(cwd, *args):
    return subprocess.run([sys.executable, str(BATCH), "workflow.json", "--quiet", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def write_rows(path, rows, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as f:
        csv.writer(f).writerows(rows)


def read_report(folder):
    with open(folder / "report.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f)), json.loads((folder / "report.json").read_text())


# --- a server that stops answering ----------------------------------------------------------------------------

def test_a_row_handed_back_by_a_dying_server_runs_on_the_live_one(stand_ins, work):
    """The dying server holds its row until the other one has finished its own and has nothing left in the
    queue, then drops the upload: the live server must still take that row."""
    dying, live = stand_ins(), stand_ins()

    def die_late():
        if not live.downloaded.wait(60):
            raise AssertionError("the live stand-in never served a download")
        time.sleep(1)  # the live server's worker meanwhile finds the queue empty
        dying.dead = True

    dying.before_upload = die_late
    write_rows(work / "rows.csv", [["path", "prompt"], ["a.mp4", "first"], ["b.mp4", "second"]])
    proc = batch(work, "--server", dying.url, "--server", live.url, "--csv", "rows.csv", "--output", "out")
    _, report = read_report(work / "out")
    assert dying.uploads == 1 and not dying.prompts  # the scenario happened: it dropped a row before queuing
    assert proc.returncode == 0, proc.stderr
    assert f"{dying.url} stopped answering" in proc.stderr
    assert [(r["status"], r["server"]) for r in report["rows"]] == [("ok", live.url), ("ok", live.url)]
    assert sorted(p["2"]["inputs"]["prompt"] for p in live.prompts.values()) == ["first", "second"]
    assert [(work / p).read_bytes() for r in report["rows"] for p in r["outputs"]] == [RESULT, RESULT]
    assert f"2 of 2 rows ok ({dying.url}: 0, {live.url}: 2)" in proc.stderr


def test_rows_left_when_every_server_stopped_answering_are_not_run(stand_ins, work):
    only = stand_ins()

    def die_now():
        only.dead = True

    only.before_upload = die_now
    write_rows(work / "rows.csv", [["path", "prompt"], ["a.mp4", "first"], ["b.mp4", "second"]])
    proc = batch(work, "--server", only.url, "--csv", "rows.csv", "--output", "out")
    _, report = read_report(work / "out")
    assert proc.returncode == 1, proc.stderr
    assert [r["message"] for r in report["rows"]] == ["not run: no server left to run it"] * 2
    assert [r["server"] for r in report["rows"]] == ["", ""]


# --- report cells in a spreadsheet -----------------------------------------------------------------------------

def test_spreadsheet_cells_starting_like_a_formula_are_neutralised():
    assert spreadsheet_cell("=1+1") == "'=1+1"
    assert spreadsheet_cell("+1+1") == "'+1+1"
    assert spreadsheet_cell("-1+1") == "'-1+1"
    assert spreadsheet_cell("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_cell("\t=1") == "'\t=1" and spreadsheet_cell("\r=1") == "'\r=1"
    # numbers stay numbers
    assert [spreadsheet_cell(v) for v in (-5, -0.5, "-3", "+2", "-1.5e3", 7, None)] == [
        "-5", "-0.5", "-3", "+2", "-1.5e3", "7", ""]
    assert spreadsheet_cell("a=1") == "a=1" and spreadsheet_cell("rain, -3 dB") == "rain, -3 dB"


def test_report_csv_neutralises_formulas_from_the_csv_the_workflow_and_the_server(stand_ins, work):
    server = stand_ins()
    hostile = '=HYPERLINK("http://example.invalid","x")'

    def history(prompt_id, prompt):
        if prompt["2"]["inputs"]["prompt"] == "fails":
            return failed_at("@FoleyTextEncode")
        return ran_and_saved(prompt_id, prompt)

    server.history = history
    write_rows(work / "rows.csv", [
        ["path", "prompt", "negative_prompt", "seed", "start"],
        ["a.mp4", hostile, "+cmd", "-5", "-0.5"],   # from the CSV; negative numbers stay numbers
        ["b.mp4", "", "", "", ""],                  # the workflow's prompt "-2+3" and negative "-7"
        ["a.mp4", "fails", "", "", ""],              # the server's error text
        ["=missing.mp4", "x", "", "", ""],          # a path that is no file
    ])
    proc = batch(work, "--server", server.url, "--csv", "rows.csv", "--output", "out")
    assert proc.returncode == 1, proc.stderr
    table, report = read_report(work / "out")
    assert table[0]["prompt"] == "'" + hostile and table[0]["negative_prompt"] == "'+cmd"
    assert table[0]["seed"] == "-5" and table[0]["start"] == "-0.5"
    assert table[1]["prompt"] == "'-2+3" and table[1]["negative_prompt"] == "-7"
    assert table[2]["status"] == "error" and table[2]["message"].startswith("'@FoleyTextEncode (node 2): ValueError")
    assert table[3]["path"] == "'=missing.mp4"
    # the JSON report keeps the values as they are
    rows = report["rows"]
    assert rows[0]["prompt"] == hostile and rows[0]["seed"] == -5 and rows[1]["prompt"] == "-2+3"
    assert rows[2]["message"].startswith("@FoleyTextEncode") and rows[3]["path"] == "=missing.mp4"


# --- never overwrite an input --------------------------------------------------------------------------------

@pytest.mark.parametrize("args, overwritten", [
    (["--csv", "rows.csv", "--report", "rows"], "rows.csv"),
    (["--csv", "rows.csv", "--report", "rows.csv"], "rows.csv"),
    (["--csv", "out/report.csv", "--output", "out"], "out/report.csv"),
    (["--csv", "rows.csv", "--report", "workflow.json"], "workflow.json"),
    (["--csv", "rows.csv", "--report", "a.mp4.json"], None),  # a.mp4.json is no input: allowed
    (["--video", "a.mp4", "--save-api", "workflow.json"], "workflow.json"),
], ids=["report-stem", "report-csv", "report-in-output", "report-workflow", "not-an-input", "save-api"])
def test_a_report_or_prompt_file_never_overwrites_an_input(work, args, overwritten):
    (work / "out").mkdir()
    write_rows(work / "rows.csv", [["path", "prompt"], ["a.mp4", "x"]])
    write_rows(work / "out" / "report.csv", [["path", "prompt"], ["a.mp4", "x"]])
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    proc = batch(work, "--server", "http://127.0.0.1:9", *args)  # no server there: nothing can run anyway
    assert proc.returncode == 2
    if overwritten is None:
        assert "no ComfyUI server answers" in proc.stderr, proc.stderr
    else:
        assert "would be overwritten" in proc.stderr and f"is the {'workflow' if 'workflow' in overwritten else 'CSV file'}" \
            in proc.stderr, proc.stderr
        assert overwritten in proc.stderr and "Traceback" not in proc.stderr
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before


# --- unreadable CSV files -------------------------------------------------------------------------------------

def test_a_csv_in_another_encoding_is_refused_naming_it(work):
    write_rows(work / "rows.csv", [["path", "prompt"], ["a.mp4", "café crème"]], encoding="cp1252")
    proc = batch(work, "--server", "http://127.0.0.1:9", "--csv", "rows.csv", "--output", "out")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "rows.csv: the file is not UTF-8 but looks like Windows-1252 (Latin-1) (byte 0xe9 on line 2)" \
        in proc.stderr, proc.stderr
    (work / "rows.csv").write_bytes("path,prompt\na.mp4,x\n".encode("utf-16"))
    proc = batch(work, "--server", "http://127.0.0.1:9", "--csv", "rows.csv", "--output", "out")
    assert proc.returncode == 2 and "looks like UTF-16" in proc.stderr, proc.stderr


def test_an_oversized_csv_cell_is_refused_with_its_row_and_column(work):
    write_rows(work / "rows.csv", [["path", "prompt"], ["a.mp4", "x"], ["b.mp4", "y" * 131073]])
    proc = batch(work, "--server", "http://127.0.0.1:9", "--csv", "rows.csv", "--output", "out")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "rows.csv: row 2 (line 3), column 2 (prompt): a cell of 131073 characters, more than the 131072" \
        in proc.stderr, proc.stderr
    (work / "rows.csv").write_text('path,prompt\na.mp4,"an unclosed quote\n' + "z" * 140000 + "\n")
    proc = batch(work, "--server", "http://127.0.0.1:9", "--csv", "rows.csv", "--output", "out")
    assert proc.returncode == 2 and "row 1 (line 3), column 2 (prompt): a cell of 140019 characters" \
        in proc.stderr, proc.stderr


def test_a_cell_at_the_limit_is_read(stand_ins, work):
    server = stand_ins()
    write_rows(work / "rows.csv", [["path", "prompt"], ["a.mp4", "y" * 131072]])
    proc = batch(work, "--server", server.url, "--csv", "rows.csv", "--output", "out")
    assert proc.returncode == 0, proc.stderr
    assert [len(p["2"]["inputs"]["prompt"]) for p in server.prompts.values()] == [131072]


# --- oversized answers ------------------------------------------------------------------------------------------

def test_an_endless_history_answer_is_cut_at_the_json_limit(stand_ins, work):
    server = stand_ins()
    server.history = lambda prompt_id, prompt: ({"Content-Type": "application/json"}, mebibytes(300))
    proc = batch(work, "--server", server.url, "--video", "a.mp4", "--output", "out")
    assert proc.returncode == 1, proc.stderr
    assert f"{server.url}/history/" in proc.stderr
    assert "the answer is larger than the 64 MiB this client reads" in proc.stderr, proc.stderr
    assert server.sent < 100 * MIB  # it stopped reading at the limit (and what the socket buffers held)


def test_a_history_answer_announced_too_large_is_not_read(stand_ins, work):
    server = stand_ins()
    server.history = lambda prompt_id, prompt: ({"Content-Length": 300 * MIB}, mebibytes(300))
    proc = batch(work, "--server", server.url, "--video", "a.mp4", "--output", "out")
    assert proc.returncode == 1, proc.stderr
    assert "the answer is 300 MiB, more than the 64 MiB this client reads" in proc.stderr, proc.stderr
    assert server.sent < 40 * MIB


def test_a_download_over_the_file_limit_is_refused_and_removed(stand_ins, work):
    server = stand_ins()
    server.view = lambda: ({}, mebibytes(50))  # no Content-Length: the size shows only while reading
    proc = batch(work, "--server", server.url, "--video", "a.mp4", "--output", "out", "--max-file-mb", "2")
    assert proc.returncode == 1, proc.stderr
    assert f"{server.url}/view?filename=" in proc.stderr
    assert "the file is larger than the 2 MiB this client reads (--max-file-mb)" in proc.stderr, proc.stderr
    assert server.sent < 40 * MIB
    assert not (work / "out").exists() or not list((work / "out").iterdir())  # neither the file nor a .part


def test_a_download_announced_over_the_default_limit_is_refused(stand_ins, work):
    server = stand_ins()
    server.view = lambda: ({"Content-Length": 9 << 30}, mebibytes(1))
    proc = batch(work, "--server", server.url, "--video", "a.mp4", "--output", "out")
    assert proc.returncode == 1, proc.stderr
    assert "the file is 9 GiB, more than the 8 GiB this client reads (--max-file-mb)" in proc.stderr, proc.stderr


# --- missing videos -------------------------------------------------------------------------------------------

def test_a_row_without_its_video_is_not_run_and_names_no_server(stand_ins, work):
    server = stand_ins()
    write_rows(work / "rows.csv", [["path", "prompt"], ["a.mp4", "x"], ["gone.mp4", "y"], ["b.mp4", "z"]])
    proc = batch(work, "--server", server.url, "--csv", "rows.csv", "--output", "out")
    assert proc.returncode == 1, proc.stderr
    table, report = read_report(work / "out")
    missing = "gone.mp4"  # as the CSV names it, from the CSV file's folder (here the current one)
    assert [r["status"] for r in report["rows"]] == ["ok", "error", "ok"]
    assert report["rows"][1]["message"] == f"not run: video not found: {missing}"
    assert (report["rows"][1]["server"], report["rows"][1]["prompt_id"], report["rows"][1]["seconds"]) == ("", "", None)
    assert table[1]["message"] == f"not run: video not found: {missing}" and table[1]["server"] == ""
    assert f"row 2: not run: video not found: {missing}" in proc.stderr
    assert server.uploads == 2 and len(server.prompts) == 2
    assert f"2 of 3 rows ok ({server.url}: 2)" in proc.stderr


def test_a_single_run_without_its_video_stops_before_anything_runs(stand_ins, work):
    server = stand_ins()
    proc = batch(work, "--server", server.url, "--video", "gone.mp4", "--output", "out")
    assert proc.returncode == 2 and "error: video not found: gone.mp4" in proc.stderr, proc.stderr
    assert server.uploads == 0 and not server.prompts


def test_a_video_removed_during_the_batch_is_not_run_and_names_no_server(stand_ins, work):
    server = stand_ins()
    server.before_upload = lambda: (work / "b.mp4").unlink(missing_ok=True)  # while row 1 uploads
    write_rows(work / "rows.csv", [["path", "prompt"], ["a.mp4", "x"], ["b.mp4", "y"]])
    proc = batch(work, "--server", server.url, "--csv", "rows.csv", "--output", "out")
    assert proc.returncode == 1, proc.stderr
    _, report = read_report(work / "out")
    assert [(r["status"], r["message"], r["server"]) for r in report["rows"]] == [
        ("ok", "", server.url), ("error", "not run: video not found: b.mp4", "")]
    assert f"1 of 2 rows ok ({server.url}: 1)" in proc.stderr
