"""Start a real ComfyUI server (main.py subprocess, 127.0.0.1, free port), talk to its HTTP API, stop it by PID."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from ui_outputs import ui_output_files


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    """main.py --cpu with BASE_DIR as --base-directory; extra_model_paths -> --extra-model-paths-config,
    input_dir -> --input-directory. `log()` returns the server's combined stdout/stderr so far."""

    def __init__(self, comfy_root, base_dir, extra_model_paths=(), input_dir=None, extra_args=(), ready_timeout=120,
                 python=sys.executable):
        self.comfy_root, self.base_dir = os.path.abspath(comfy_root), os.path.abspath(base_dir)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.input_dir = os.path.abspath(input_dir) if input_dir else os.path.join(self.base_dir, "input")
        self.output_dir = os.path.join(self.base_dir, "output")
        self.log_path = os.path.join(self.base_dir, "server.log")
        cmd = [python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
               "--base-directory", self.base_dir, "--disable-api-nodes", "--database-url", "sqlite:///:memory:",
               "--input-directory", self.input_dir]
        for cfg in extra_model_paths:
            cmd += ["--extra-model-paths-config", str(cfg)]
        cmd += list(extra_args)
        env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
        self._log = open(self.log_path, "w")
        t0 = time.time()
        self.proc = subprocess.Popen(cmd, cwd=self.comfy_root, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"ComfyUI exited with rc={self.proc.returncode} during start-up:\n{self.log()}")
                try:
                    self.get("/system_stats", timeout=2)
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    if time.time() - t0 > ready_timeout:
                        raise RuntimeError(f"ComfyUI not ready after {ready_timeout} s:\n{self.log()}")
                    time.sleep(0.25)
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.time() - t0

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    # --- HTTP -------------------------------------------------------------------------------------------------

    def get(self, path, timeout=30):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.loads(r.read())

    def get_bytes(self, path, timeout=30):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return r.read()

    def post(self, path, payload, timeout=30):
        """-> (HTTP status, decoded JSON body or {})."""
        req = urllib.request.Request(self.url + path, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                body = r.read()
                return r.status, json.loads(body) if body else {}
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                return e.code, json.loads(body) if body else {}
            except ValueError:
                return e.code, {"raw": body.decode(errors="replace")}

    def object_info(self, node_class=None):
        return self.get("/object_info" + (f"/{urllib.parse.quote(node_class)}" if node_class else ""))

    def node_ids_from(self, relative_python_module):
        """Node ids that /object_info attributes to e.g. 'custom_nodes.<dir name>'."""
        return sorted(k for k, v in self.object_info().items() if v.get("python_module") == relative_python_module)

    def interrupt(self):
        return self.post("/interrupt", {})

    def queue(self, prompt, client_id="tests"):
        """POST /prompt -> (status, response). 200 with non-empty node_errors = partly invalid (valid outputs
        still queued); 400 = nothing valid."""
        return self.post("/prompt", {"prompt": prompt, "client_id": client_id})

    def wait(self, prompt_id, timeout=300):
        """Poll /history until the prompt finished -> its history entry."""
        t0 = time.time()
        while time.time() - t0 < timeout:
            h = self.get(f"/history/{prompt_id}")
            st = h.get(prompt_id, {}).get("status") or {}
            if st.get("completed") or st.get("status_str") == "error":
                return h[prompt_id]
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI died (rc={self.proc.returncode}):\n{self.log()}")
            time.sleep(0.1)
        self.interrupt()
        raise TimeoutError(f"prompt {prompt_id} not finished in {timeout} s")

    def run(self, prompt, timeout=300):
        """Queue an API-format prompt and wait -> dict(valid, success, outputs, messages, status, response)."""
        code, resp = self.queue(prompt)
        if code != 200 or resp.get("node_errors"):
            return {"valid": False, "success": False, "status": code, "response": resp, "outputs": {}, "messages": []}
        entry = self.wait(resp["prompt_id"], timeout)
        st = entry["status"]
        return {"valid": True, "success": st["status_str"] == "success", "outputs": entry.get("outputs", {}),
                "messages": st.get("messages", []), "status": code, "response": resp}

    def output_files(self, result, kind=None):
        directories = {"output": self.output_dir, "input": self.input_dir, "temp": os.path.join(self.base_dir, "temp")}
        return ui_output_files(result["outputs"], directories.__getitem__, kind)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # main.py catches KeyboardInterrupt, cleans its temp dir, exits 0
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._log.closed:
            self._log.close()
