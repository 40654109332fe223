"""The pack installed the way a user installs it from its git URL: through ComfyUI-Manager's cm-cli, into a fresh
ComfyUI, from a git server on 127.0.0.1; then started, checked and uninstalled through the Manager again.

The served repository is one commit of the checkout as it is now (committed files plus the working tree's
changes and new files that git does not ignore), so what is tested is what would be pushed. ComfyUI runs from a
copy of the tree under test, so the Manager's custom_nodes/ and user/__manager/ are temporary. The Manager's
network_mode is `offline` and every server binds 127.0.0.1. On ComfyUIs with `--enable-manager` (0.33 and newer)
the restarted server also runs the Manager itself; 0.3.75 has no such flag and starts without it.
"""
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from comfy_server import ComfyServer
from conftest import PACK_MODULE, PACK_NAME, PACK_NODE_PREFIX, ROOT

CLI_TIMEOUT = 300  # a cm-cli run: the clone is local; the requirements are already installed
# copied into input/ at start-up (see README, Workflows): user data by then, so an uninstall keeps them
EXAMPLE_CLIPS = ("foley_example.mp4", "foley_example_6s.mp4", "foley_example_start.jpg")


def _git(*args, cwd):
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True,
                          timeout=120).stdout


def checkout_files():
    """Paths (relative) of the checkout as it would be committed now: tracked and not deleted, plus untracked
    files that git does not ignore."""
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    return sorted({p for p in listed if p and os.path.lexists(ROOT / p)})


def make_served_repository(work, name):
    """-> (a bare repository `<work>/served/<name>.git` holding one commit of the checkout's current state, ready
    for git's dumb HTTP protocol; the folder that commit was made from, the reference for what gets installed)."""
    source = work / "source"
    source.mkdir()
    for rel in checkout_files():
        target = source / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target, follow_symlinks=False)
    head = _git("rev-parse", "HEAD", cwd=ROOT).strip()
    _git("init", "--quiet", "--initial-branch=main", cwd=source)
    _git("add", "--all", cwd=source)
    _git("-c", "user.name=tests", "-c", "user.email=tests@localhost", "commit", "--quiet", "--no-verify",
         "-m", f"checkout at {head} with its working tree changes", cwd=source)
    bare = work / "served" / f"{name}.git"
    _git("clone", "--quiet", "--bare", str(source), str(bare), cwd=work)
    _git("update-server-info", cwd=bare)  # the info/refs file that dumb HTTP clients read
    return bare, source


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_folder(folder):
    """A static HTTP server for `folder` on 127.0.0.1 (free port), in a thread -> (server, base URL)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def make_comfy_home(comfy_root, home):
    """A copy of the ComfyUI tree (code only) with empty custom_nodes/ and user/, and the Manager offline."""
    ignore = shutil.ignore_patterns("__pycache__", ".git")
    shutil.copytree(comfy_root, home, symlinks=True, ignore=ignore)
    for data in ("custom_nodes", "user", "input", "output", "temp"):
        shutil.rmtree(home / data, ignore_errors=True)
        (home / data).mkdir()
    manager_dir = home / "user" / "__manager"
    manager_dir.mkdir()
    (manager_dir / "config.ini").write_text("[default]\nnetwork_mode = offline\nfile_logging = False\n")
    (home / "user" / "default").mkdir()
    return home


def cm_cli(home, *args):
    """Run ComfyUI-Manager's command line on the ComfyUI copy `home` -> its output; fails on a non-zero exit."""
    env = dict(os.environ, COMFYUI_PATH=str(home), PYTHONUNBUFFERED="1", GIT_TERMINAL_PROMPT="0",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, HF_HUB_OFFLINE="1")
    env.pop("COMFYUI_FOLDERS_BASE_PATH", None)
    run = subprocess.run([sys.executable, "-m", "cm_cli", *args], cwd=home, env=env, capture_output=True,
                         text=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"cm-cli {' '.join(args)} exited with {run.returncode}:\n{output}"
    return output


def has_enable_manager(comfy_root):
    return "--enable-manager" in (comfy_root / "comfy" / "cli_args.py").read_text()


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def served_pack(tmp_path):
    bare, source = make_served_repository(tmp_path, PACK_NAME)
    httpd, url = serve_folder(bare.parent)
    try:
        yield f"{url}/{bare.name}", source
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_manager_installs_the_pack_from_its_git_url_and_uninstalls_it(comfy_root, comfy_server, served_pack,
                                                                       tmp_path):
    url, source = served_pack
    home = make_comfy_home(comfy_root, tmp_path / "ComfyUI")
    installed = home / "custom_nodes" / PACK_NAME

    output = cm_cli(home, "install", url, "--exit-on-fail")
    assert installed.is_dir(), f"cm-cli did not clone into {installed}:\n{output}"
    assert "[INSTALLED]" in output, output
    assert files_under(home / "custom_nodes") == [PACK_NAME] + [f"{PACK_NAME}/{p}" for p in files_under(installed)]
    # the clone is exactly the checkout's state that was committed (other files may change meanwhile)
    expected = [p for p in files_under(source) if p != ".git" and not p.startswith(".git/")
                and ((source / p).is_symlink() or (source / p).is_file())]
    cloned = [p for p in files_under(installed) if p != ".git" and not p.startswith(".git/")
              and ((installed / p).is_symlink() or (installed / p).is_file())]
    assert cloned == expected
    for rel in ("__init__.py", "requirements.txt", "nodes/__init__.py"):
        assert (installed / rel).read_bytes() == (source / rel).read_bytes(), rel

    extra = ["--enable-manager"] if has_enable_manager(comfy_root) else []
    server = ComfyServer(home, home, extra_args=extra)
    try:
        log = server.log()
        assert "IMPORT FAILED" not in log, log
        node_ids = server.node_ids_from(PACK_MODULE)
        assert node_ids == comfy_server.pack_node_ids, "the installed pack registers other nodes than the checkout"
        assert all(n.startswith(PACK_NODE_PREFIX) for n in node_ids), node_ids
        if extra:
            assert "ComfyUI-Manager" in log, f"--enable-manager given but the Manager did not start:\n{log}"
        templates = server.get("/api/workflow_templates")
        assert sorted(templates.get(PACK_NAME, [])) == sorted(p.stem for p in (source / "workflows").glob("*.json"))
        name = sorted(templates[PACK_NAME])[0]
        assert server.get_bytes(f"/api/workflow_templates/{PACK_NAME}/{name}.json") == \
            (source / "workflows" / f"{name}.json").read_bytes()
        for clip in EXAMPLE_CLIPS:
            assert (home / "input" / clip).is_file(), f"{clip} not copied into the fresh input/ folder"
    finally:
        server.stop()

    output = cm_cli(home, "uninstall", PACK_NAME)
    assert "[UNINSTALLED]" in output, output
    assert files_under(home / "custom_nodes") == [], f"left in custom_nodes/ after uninstall:\n{output}"
    # What stays: the Manager's own records and the example clips, which are the user's input files by now.
    manager_records = files_under(home / "user" / "__manager")
    assert not [p for p in manager_records if PACK_NAME in Path(p).name], manager_records
    left_inputs = {p.name for p in (home / "input").iterdir() if p.is_file()}
    assert left_inputs <= {p.name for p in (source / "example_media").iterdir()}, left_inputs
