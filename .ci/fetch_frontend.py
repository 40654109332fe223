"""Unpack a ComfyUI front end from the registry's `comfyui-frontend-package` wheel, for `main.py --front-end-root`.

usage: python .ci/fetch_frontend.py VERSION DEST     (DEST gets the wheel's static/ folder: index.html and its assets)
Idempotent: does nothing when DEST already holds that version. Lets the browser tests run a front end other than the one
the ComfyUI under test pins (set COMFYUI_FRONT_END_ROOT=DEST for pytest).
"""
import os
import shutil
import sys

from fetch_comfyui import unpack_wheel_folder  # this folder is on sys.path when run as a script

PREFIX = "comfyui_frontend_package/static/"


def main(version, dest):
    stamp = os.path.join(dest, ".frontend-version")
    if os.path.exists(stamp) and open(stamp).read().strip() == version:
        print(f"front end {version} already at {dest}")
        return
    staging = dest + ".partial"
    unpack_wheel_folder([f"comfyui-frontend-package=={version}"], "comfyui_frontend_package-*.whl", PREFIX, staging)
    if not os.path.isfile(os.path.join(staging, "index.html")):
        sys.exit(f"comfyui-frontend-package {version} has no static/index.html")
    with open(os.path.join(staging, ".frontend-version"), "w") as f:
        f.write(version)
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(staging, dest)
    print(f"front end {version} unpacked to {dest}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], os.path.abspath(sys.argv[2]))
