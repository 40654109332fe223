"""ComfyUI-Manager install hook: installs requirements.txt into the running Python, nothing else."""
import os
import subprocess
import sys

REQUIREMENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")

if __name__ == "__main__":
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-r", REQUIREMENTS])
