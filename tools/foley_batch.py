#!/usr/bin/env python3
"""Batch runner: a workflow of this pack through running ComfyUI servers, once or for every row of a CSV file.

    python tools/foley_batch.py video_to_foley --video clip.mp4 --prompt "glass shatters" --output out/

A development tool of the git repository, not part of the installed node pack: it needs only Python 3.10+ and
talks to ComfyUI over HTTP (see tools/batch/cli.py and "Batch runs" in README.md).
"""
import sys
from pathlib import Path

# run as a script, its folder is sys.path[0]; the package is imported as tools.batch so that the checkout's
# root, not tools/, is the import root (as in the tests)
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tools.batch.cli import main

if __name__ == "__main__":
    sys.exit(main())
