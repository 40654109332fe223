"""What the ComfyUI registry gets: the archive `comfy node pack` builds (git-tracked files minus .comfyignore) and
what `comfy node validate` says about the pack (comfy-cli from .ci/requirements-test.txt).

The checkout's files as they would be committed (tracked and untracked, minus .gitignore) are copied into a fresh
git repository, where the real comfy-cli packs and validates them, offline and without telemetry.

The registry's scanner flags Python files of the archive that import subprocess or network modules or call
eval/exec, and ComfyUI-Manager's default settings do not install a flagged version: none may be in the archive.
"""
import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
COMFY = Path(sys.executable).with_name("comfy")  # comfy-cli's command in the test venv
FLAGGED_MODULES = {"subprocess", "socket", "urllib", "requests", "http.client"}
FLAGGED_CALLS = {"eval", "exec"}
DEVELOPMENT = ("tests/", ".ci/", "benchmarks/", "tools/")
# what runs inside ComfyUI, and what a user of the registry archive needs besides
REQUIRED = ("__init__.py", "install.py", "download_models.py", "nodes/__init__.py", "nodes/example_clips.py",
            "foley_models/__init__.py", "foley_models/model_catalog.py", "js/foley_candidates.js",
            "example_media/foley_example.mp4", "example_media/foley_example_6s.mp4",
            "example_media/foley_two_sources.mp4", "example_media/foley_reference_metal.flac", "assets/icon.png",
            "requirements.txt", "pyproject.toml", "README.md", "LICENSE")


def _comfy(args, cwd, home):
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), DO_NOT_TRACK="1", COMFY_NO_TELEMETRY="1",
               NO_COLOR="1", COLUMNS="200")
    return subprocess.run([str(COMFY), "--skip-prompt", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def committed_copy(tmp_path_factory):
    """The files a commit of the checkout would hold, in a fresh git repository (git add, no commit needed:
    comfy-cli lists the index)."""
    assert COMFY.is_file(), f"comfy-cli is not installed in {sys.prefix}: pip install -r .ci/requirements-test.txt"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    copy = tmp_path_factory.mktemp("publish") / "repo"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a file deleted or moved in the working tree is still in the index
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    subprocess.run(["git", "add", "-A"], cwd=copy, check=True)
    return copy


@pytest.fixture(scope="module")
def archive(committed_copy, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    result = _comfy(["node", "pack"], committed_copy, home)
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(committed_copy / "node.zip") as z:
        return {name: z.read(name) for name in z.namelist() if not name.endswith("/")}


def _flagged(source, name):
    """(line, what) for every flagged import or call in one Python file."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FLAGGED_CALLS:
            found.append((node.lineno, f"{node.func.id}()"))
            continue
        else:
            continue
        for module in modules:
            if module in FLAGGED_MODULES or module.split(".")[0] in FLAGGED_MODULES - {"http.client"}:
                found.append((node.lineno, f"import {module}"))
    return found


def test_the_archive_holds_the_pack_and_no_development_files(archive):
    names = set(archive)
    assert not [n for n in names if n.startswith(DEVELOPMENT)], sorted(names)
    assert not [n for n in names if n.startswith(".")], sorted(names)  # .ci/, .gitignore, .comfyignore
    missing = [n for n in REQUIRED if n not in names]
    assert missing == [], f"missing from the archive: {missing}"
    workflows = {f"workflows/{p.name}" for p in (ROOT / "workflows").glob("*.json")}
    assert workflows and workflows <= names
    engine = {f"foley_models/{p.name}" for p in (ROOT / "foley_models").glob("*.py")}
    nodes = {f"nodes/{p.name}" for p in (ROOT / "nodes").glob("*.py")}
    assert engine <= names and nodes <= names


def test_no_python_file_of_the_archive_is_flagged(archive):
    python = {n: data for n, data in archive.items() if n.endswith(".py")}
    assert "download_models.py" in python and "install.py" in python
    flagged = {n: _flagged(data, n) for n, data in python.items()}
    assert {n: f for n, f in flagged.items() if f} == {}


def test_the_scan_finds_what_it_looks_for():
    """The checker above, on code that has each flagged pattern."""
    source = ("import subprocess\nimport urllib.request\nfrom http import client\nimport http.client\n"
              "from socket import socket\nimport requests\neval('1')\nexec('x = 1')\nimport json\n")
    found = [what for _, what in _flagged(source, "sample.py")]
    assert found == ["import subprocess", "import urllib.request", "import http.client", "import http.client",
                     "import socket", "import socket.socket", "import requests", "eval()", "exec()"]


def test_pyproject_meets_the_registry(archive):
    config = tomllib.loads(archive["pyproject.toml"].decode())
    project, comfy = config["project"], config["tool"]["comfy"]
    assert "comfyui" not in project["name"].lower()
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*", project["name"]) and len(project["name"]) < 100
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert comfy["DisplayName"] and comfy["PublisherId"] and comfy["requires-comfyui"].startswith(">=")
    assert project["urls"]["Repository"].startswith("https://github.com/")
    requirements = [line.strip() for line in archive["requirements.txt"].decode().splitlines()
                    if line.strip() and not line.startswith("#")]
    assert sorted(project["dependencies"]) == sorted(requirements)

    # the icon: a URL of the file in the repository, which is in the archive too
    repo_path = project["urls"]["Repository"].removeprefix("https://github.com/")
    prefix = f"https://raw.githubusercontent.com/{repo_path}/main/"
    assert comfy["Icon"].startswith(prefix), comfy["Icon"]
    icon_name = comfy["Icon"].removeprefix(prefix)
    assert icon_name in archive
    with Image.open(ROOT / icon_name) as icon:
        assert icon.format == "PNG" and icon.width == icon.height and icon.width <= 400, (icon.format, icon.size)


def test_the_icon_script_draws_the_committed_icon(tmp_path):
    out = tmp_path / "icon.png"
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_icon.py"), str(out)], check=True, timeout=60,
                   capture_output=True)
    with Image.open(out) as drawn, Image.open(ROOT / "assets" / "icon.png") as committed:
        assert drawn.size == committed.size
        assert drawn.convert("RGBA").tobytes() == committed.convert("RGBA").tobytes()


def test_comfy_node_validate_finds_nothing(committed_copy, tmp_path):
    result = _comfy(["node", "validate"], committed_copy, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower() and "error" not in output.lower(), output
    assert "All validation checks passed" in output, output
