"""The example clips copied into ComfyUI's input folder: at start-up (nodes/__init__.py) and by install.py.

The copy must never cost the pack its nodes, never follow a link out of the input folder and never leave half a
clip. The tests run as root, for whom a chmod'ed folder is still writable, so a folder that cannot be written is a
file in the folder's place (mkdir and open fail for root too).
"""
import errno
import importlib.util
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from comfy_server import ComfyServer

ROOT = Path(__file__).resolve().parent.parent
PACK_NAME = "ComfyUI-HunyuanVideo-Foley"
CLIPS = ("foley_example.mp4", "foley_example_6s.mp4", "foley_example_start.jpg",  # what the shared workflows load
         "foley_reference_metal.flac", "foley_two_sources.mp4")


def load_example_clips():
    spec = importlib.util.spec_from_file_location("example_clips_under_test", ROOT / "nodes" / "example_clips.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def official(name):
    return (ROOT / "example_media" / name).read_bytes()


def test_copies_the_missing_clips_and_leaves_present_ones(tmp_path):
    clips = load_example_clips()
    inputs = tmp_path / "input"
    copied = clips.copy_example_clips(str(inputs))
    assert sorted(Path(p).name for p in copied) == sorted(CLIPS)
    for name in CLIPS:
        assert (inputs / name).read_bytes() == official(name)
    (inputs / CLIPS[0]).write_bytes(b"the user's own file under that name")
    (inputs / CLIPS[1]).unlink()
    assert [Path(p).name for p in clips.copy_example_clips(str(inputs))] == [CLIPS[1]]  # only the missing one
    assert (inputs / CLIPS[0]).read_bytes() == b"the user's own file under that name"


def test_a_dangling_link_is_not_followed(tmp_path, caplog):
    clips = load_example_clips()
    inputs, outside = tmp_path / "input", tmp_path / "outside"
    inputs.mkdir()
    outside.mkdir()
    os.symlink(outside / CLIPS[0], inputs / CLIPS[0])
    with caplog.at_level(logging.WARNING):
        copied = clips.copy_example_clips(str(inputs))
    assert sorted(Path(p).name for p in copied) == sorted(CLIPS[1:])
    assert list(outside.iterdir()) == []
    assert os.path.islink(inputs / CLIPS[0]) and not (inputs / CLIPS[0]).exists()
    assert str(inputs / CLIPS[0]) in caplog.text and "link" in caplog.text


def test_an_unwritable_folder_is_logged_not_raised(tmp_path, caplog):
    clips = load_example_clips()
    not_a_folder = tmp_path / "input"
    not_a_folder.write_text("a file where the input folder should be")
    with caplog.at_level(logging.WARNING):
        assert clips.copy_example_clips(str(not_a_folder)) == []
    assert str(not_a_folder / CLIPS[0]) in caplog.text and "could not copy" in caplog.text
    assert not_a_folder.read_text() == "a file where the input folder should be"


def test_a_full_disk_leaves_no_half_clip(tmp_path, caplog, monkeypatch):
    clips = load_example_clips()

    def write_some_then_fail(src, dst):
        dst.write(src.read(1000))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(clips.shutil, "copyfileobj", write_some_then_fail)
    with caplog.at_level(logging.WARNING):
        assert clips.copy_example_clips(str(tmp_path)) == []
    assert list(tmp_path.iterdir()) == []
    assert os.strerror(errno.ENOSPC) in caplog.text and str(tmp_path / CLIPS[0]) in caplog.text


@pytest.mark.parametrize("case", ["file_in_place_of_the_input_folder", "dangling_link_in_the_input_folder"])
def test_nodes_register_whatever_the_input_folder(comfy_root, tmp_path, case):
    base = tmp_path / "base"
    (base / "custom_nodes").mkdir(parents=True)
    os.symlink(ROOT, base / "custom_nodes" / PACK_NAME, target_is_directory=True)
    inputs, outside = tmp_path / "input", tmp_path / "outside"
    outside.mkdir()
    if case == "file_in_place_of_the_input_folder":
        inputs.write_text("not a folder")
        named = inputs / CLIPS[0]
    else:
        inputs.mkdir()
        named = inputs / CLIPS[0]
        os.symlink(outside / CLIPS[0], named)
    server = ComfyServer(comfy_root, base, input_dir=inputs)
    try:
        log = server.log()
        # (a file for the input folder also fails ComfyUI's own nodes_video.py: only this pack is checked)
        assert re.search(r"IMPORT FAILED.*" + re.escape(PACK_NAME), log) is None, log
        assert re.search(r"[\d.]+ seconds: .*" + re.escape(PACK_NAME), log), log  # listed as imported
        assert "FoleyModelLoader" in server.get("/object_info/FoleyModelLoader")
        assert "FoleySelectBest" in server.get("/object_info/FoleySelectBest")
        assert str(named) in log, log  # the warning names the path
    finally:
        server.stop()
    assert list(outside.iterdir()) == []
    if case == "dangling_link_in_the_input_folder":
        assert (inputs / CLIPS[1]).read_bytes() == official(CLIPS[1])


def fake_comfyui(tmp_path):
    home = tmp_path / "ComfyUI"
    (home / "custom_nodes").mkdir(parents=True)
    pack = home / "custom_nodes" / PACK_NAME
    os.symlink(ROOT, pack, target_is_directory=True)
    return home, pack


def run_install(pack):
    # as ComfyUI-Manager runs it: the pack's folder as the working directory
    return subprocess.run([sys.executable, str(pack / "install.py")], cwd=pack, capture_output=True, text=True,
                          timeout=60)


def test_install_prepares_the_folders_without_pip(tmp_path):
    home, pack = fake_comfyui(tmp_path)
    result = run_install(pack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (home / "models" / "foley").is_dir()
    for name in CLIPS:
        assert (home / "input" / name).read_bytes() == official(name)
    assert "download_models.py" in result.stdout
    again = run_install(pack)
    assert again.returncode == 0 and "copied" not in again.stdout


def test_install_reports_an_unwritable_input_folder(tmp_path):
    home, pack = fake_comfyui(tmp_path)
    (home / "input").write_text("not a folder")
    result = run_install(pack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(home / "input" / CLIPS[0]) in result.stdout and "could not copy" in result.stdout
    assert (home / "models" / "foley").is_dir()
