"""download_models.py against a stand-in of the Hugging Face hub on 127.0.0.1.

The stand-in answers what huggingface_hub's hf_hub_download asks for: HEAD and GET of
/{repo}/resolve/{revision}/{path} with X-Repo-Commit, ETag, Content-Length (X-Linked-Size and X-Linked-Etag for the
large files, as the hub sends for LFS files) and byte ranges, and 404 with X-Error-Code: EntryNotFound. It serves
small stand-in files under the official names; the command runs as a subprocess with HF_ENDPOINT pointing at it.
"""
import hashlib
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "download_models.py"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FOLEY, CLAP, SIGLIP2 = "tencent/HunyuanVideo-Foley", "laion/larger_clap_general", "google/siglip2-base-patch16-512"

# (repository, name there) -> where it must land under models/foley (under its own name; CLAP's and SigLIP2's files in
# a folder of their own): the README's "Model files" table and the files the loaders read (CLAP: weights, config,
# tokenizer, feature extractor; SigLIP2: weights, config)
REQUIRED = {
    **{(FOLEY, name): name for name in ("hunyuanvideo_foley.pth", "vae_128d_48k.pth", "synchformer_state_dict.pth")},
    **{(CLAP, name): f"larger_clap_general/{name}" for name in (
        "config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json",
        "special_tokens_map.json", "tokenizer.json", "preprocessor_config.json")},
    **{(SIGLIP2, name): f"siglip2-base-patch16-512/{name}" for name in ("config.json", "model.safetensors")},
}
XL = {(FOLEY, "hunyuanvideo_foley_xl.pth"): "hunyuanvideo_foley_xl.pth"}
# files the real repositories hold that the pack never reads: fetching them would cost gigabytes for nothing
NOT_READ = {(CLAP, "pytorch_model.bin"), (SIGLIP2, "tokenizer.model"), (SIGLIP2, "preprocessor_config.json")}
LARGE = 40_000  # stand-in weights get "LFS" headers; the rest are served like the hub's small text files
# the interrupted download: huggingface_hub writes what it received in chunks of 10 MiB, so the stand-in of this one
# file is larger than a chunk and the connection drops after more than one chunk
INTERRUPTED = (SIGLIP2, "model.safetensors")
INTERRUPTED_SIZE = 12_000_000
CUT_AFTER = 11_000_000  # bytes sent before the stand-in drops the connection


def stand_in_bytes(repo, name):
    size = 120_000 if name.endswith((".pth", ".safetensors", ".bin")) else 900
    if (repo, name) == INTERRUPTED:
        size = INTERRUPTED_SIZE
    seed = hashlib.sha256(f"{repo}/{name}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class Hub:
    """The stand-in hub: its files, the requests it saw, and its misbehaviours."""

    def __init__(self, files):
        self.files = dict(files)
        self.requests = []  # (method, repo/name, Range header or None)
        self.cut_once = set()  # repo/name: the first GET sends CUT_AFTER bytes, then the connection is closed
        self.refuse = {}  # repo/name -> how many of the next GETs are answered 503 (a hub that went away)
        self.head_size_offset = {}  # repo/name -> bytes added to the size the HEAD reports
        self.lock = threading.Lock()

    def gets(self, key=None):
        return [r for r in self.requests if r[0] == "GET" and (key is None or r[1] == key)]


def make_handler(hub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _lookup(self):
            m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", self.path.split("?")[0])
            if not m:
                return None, None
            key = f"{m.group(1)}/{m.group(3)}"
            return key, hub.files.get((m.group(1), m.group(3)))

        def _headers(self, data, key, length):
            etag = hashlib.sha256(data).hexdigest()
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Accept-Ranges", "bytes")
            if len(data) >= LARGE:
                self.send_header("X-Linked-Etag", f'"{etag}"')
                self.send_header("X-Linked-Size", str(len(data) + hub.head_size_offset.get(key, 0)))
                self.send_header("ETag", f'"{etag[:20]}-pointer"')
            else:
                self.send_header("ETag", f'"{etag[:32]}"')
            self.send_header("Content-Length", str(length))

        def _not_found(self):
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("X-Error-Message", "Entry not found")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self):
            key, data = self._lookup()
            with hub.lock:
                hub.requests.append(("HEAD", key, None))
            if data is None:
                return self._not_found()
            self.send_response(200)
            offset = 0 if len(data) >= LARGE else hub.head_size_offset.get(key, 0)
            self._headers(data, key, len(data) + offset)
            self.end_headers()

        def do_GET(self):
            key, data = self._lookup()
            byte_range = self.headers.get("Range")
            with hub.lock:
                hub.requests.append(("GET", key, byte_range))
                cut = key in hub.cut_once
                hub.cut_once.discard(key)
                refused = hub.refuse.get(key, 0) > 0 and not cut
                if refused:
                    hub.refuse[key] -= 1
            if data is None:
                return self._not_found()
            if refused:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            if byte_range:
                start = int(re.fullmatch(r"bytes=(\d+)-", byte_range).group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self._headers(data, key, len(body))
            self.end_headers()
            if cut:
                self.wfile.write(body[:CUT_AFTER])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def hub():
    files = {key: stand_in_bytes(*key) for key in [*REQUIRED, *XL, *NOT_READ]}
    state = Hub(files)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def comfy_home(tmp_path):
    """A ComfyUI folder layout with the checkout installed as custom_nodes/<pack> (a symlink, as in the tests)."""
    home = tmp_path / "ComfyUI"
    (home / "custom_nodes").mkdir(parents=True)
    os.symlink(ROOT, home / "custom_nodes" / "HunyuanVideo-Foley", target_is_directory=True)
    return home


def run_download(hub, tmp_path, *args, script=ROOT / COMMAND):
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY") and not k.startswith("HF_")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_XET="1", NO_PROXY="127.0.0.1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300,
                          env=env, cwd=tmp_path)


def summary_failures(result):
    """The summary's lines naming a failed file."""
    return [line for line in result.stdout.splitlines() if line.startswith("  FAILED ")]


def assert_files(foley, expected, hub):
    for key, target in expected.items():
        path = foley / target
        assert path.is_file(), f"{target} missing"
        assert path.read_bytes() == hub.files[key], f"{target} differs from what the hub served"


def test_fetches_every_file_to_its_place_and_a_rerun_transfers_nothing(hub, tmp_path, comfy_home):
    script = comfy_home / "custom_nodes" / "HunyuanVideo-Foley" / COMMAND
    first = run_download(hub, tmp_path, script=script)
    assert first.returncode == 0, first.stdout + first.stderr
    foley = comfy_home / "models" / "foley"  # found from custom_nodes/<pack>/.. without --models-dir
    assert_files(foley, REQUIRED, hub)
    assert not (foley / "hunyuanvideo_foley_xl.pth").exists()  # optional: only with --xl
    assert {(r[1]) for r in hub.gets()} == {f"{repo}/{name}" for repo, name in REQUIRED}
    listed = {str(p.relative_to(foley)) for p in foley.rglob("*") if p.is_file()}
    assert listed == set(REQUIRED.values())  # nothing else: no partial files, no cache folders
    assert "hunyuanvideo_foley.pth" in first.stdout and str(foley) in first.stdout

    # the pack's loaders accept the folders as downloaded
    from foley_models.hf_folder import require_folder
    require_folder(foley / "larger_clap_general", "CLAP", CLAP,
                   needed=("config.json", "preprocessor_config.json", "vocab.json", "merges.txt"))
    require_folder(foley / "siglip2-base-patch16-512", "SigLIP2", SIGLIP2)

    hub.requests.clear()
    second = run_download(hub, tmp_path, script=script)
    assert second.returncode == 0, second.stdout + second.stderr
    assert hub.gets() == [], "a re-run downloaded again"
    assert "0 fetched" in second.stdout and f"{len(REQUIRED)} already there" in second.stdout
    assert_files(foley, REQUIRED, hub)


def test_xl_on_request_and_an_interrupted_download_resumes(hub, tmp_path):
    key = "/".join(INTERRUPTED)
    models = tmp_path / "models"
    hub.cut_once.add(key)
    hub.refuse[key] = 1  # the retry after the dropped connection fails too: the run ends with the file unfinished
    first = run_download(hub, tmp_path, "--models-dir", str(models), "--xl")
    assert first.returncode == 1, first.stdout + first.stderr
    failed = summary_failures(first)
    assert len(failed) == 1 and "siglip2-base-patch16-512/model.safetensors" in failed[0], first.stdout
    assert_files(models / "foley", {k: v for k, v in {**REQUIRED, **XL}.items() if k != INTERRUPTED}, hub)
    gets = hub.gets(key)
    assert len(gets) == 2 and gets[0][2] is None, gets
    resumed_at = int(re.fullmatch(r"bytes=(\d+)-", gets[1][2]).group(1))  # within the run: only the rest asked for
    assert 0 < resumed_at <= CUT_AFTER

    hub.requests.clear()
    second = run_download(hub, tmp_path, "--models-dir", str(models), "--xl")
    assert second.returncode == 0, second.stdout + second.stderr
    assert hub.gets(key) == [("GET", key, f"bytes={resumed_at}-")]  # the next run goes on from what was kept
    assert len(hub.gets()) == 1
    assert_files(models / "foley", {**REQUIRED, **XL}, hub)


def test_size_mismatches_are_reported_naming_the_file(hub, tmp_path):
    models = tmp_path / "models"
    hub.head_size_offset[(f"{FOLEY}/vae_128d_48k.pth")] = 7  # the hub announces 7 bytes more than it sends
    bad = run_download(hub, tmp_path, "--models-dir", str(models))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    failed = summary_failures(bad)
    assert len(failed) == 1 and "vae_128d_48k.pth" in failed[0], bad.stdout
    assert_files(models / "foley", {k: v for k, v in REQUIRED.items() if v != "vae_128d_48k.pth"}, hub)

    hub.head_size_offset.clear()
    hub.requests.clear()
    fixed = run_download(hub, tmp_path, "--models-dir", str(models))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert_files(models / "foley", REQUIRED, hub)
    assert hub.gets() == []  # the bytes received before were complete: kept, not fetched again

    # a file of another size under an official name (a copy that lost its end, someone's own repack): reported and
    # left alone, never overwritten
    synchformer = models / "foley" / "synchformer_state_dict.pth"
    short = synchformer.read_bytes()[:-100]
    synchformer.write_bytes(short)
    truncated = run_download(hub, tmp_path, "--models-dir", str(models))
    assert truncated.returncode == 1
    failed = summary_failures(truncated)
    assert len(failed) == 1 and "synchformer_state_dict.pth" in failed[0] and "size mismatch" in failed[0]
    assert synchformer.read_bytes() == short
    synchformer.unlink()
    again = run_download(hub, tmp_path, "--models-dir", str(models))
    assert again.returncode == 0, again.stdout + again.stderr
    assert_files(models / "foley", REQUIRED, hub)


def test_missing_files_in_the_repository(hub, tmp_path):
    del hub.files[(CLAP, "tokenizer.json")]  # transformers rebuilds it from vocab.json + merges.txt
    del hub.files[(CLAP, "preprocessor_config.json")]  # the CLAP score cannot do without it
    result = run_download(hub, tmp_path, "--models-dir", str(tmp_path / "models"))
    assert result.returncode == 1
    failed = summary_failures(result)
    assert len(failed) == 1 and "larger_clap_general/preprocessor_config.json" in failed[0], result.stdout
    assert "skipped larger_clap_general/tokenizer.json" in result.stdout


def test_outside_custom_nodes_the_models_folder_must_be_given(hub, tmp_path):
    result = run_download(hub, tmp_path)  # the checkout itself is not inside custom_nodes/
    assert result.returncode == 2
    assert "--models-dir" in result.stderr and "custom_nodes" in result.stderr
    assert hub.requests == []
