"""A small client of ComfyUI's HTTP API (what the web front end uses): /object_info, /upload/image, /prompt,
/history, /view, /queue, /interrupt. Standard library only."""
import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

# what a server may send: a JSON answer (the /object_info of a ComfyUI with many node packs and model files is
# tens of MB; the other answers are small) and a downloaded file (a long video with its audio)
MAX_JSON_BYTES = 64 << 20
MAX_OBJECT_INFO_BYTES = 256 << 20
MAX_FILE_BYTES = 8 << 30


class ComfyError(RuntimeError):
    pass


class TooLarge(ComfyError):
    """A server's answer over the limit set for it: not read further."""


def _size_text(n):
    return f"{n / (1 << 30):g} GiB" if n >= 1 << 30 else f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n} bytes"


def _check_length(response, url, limit, what="the answer", hint=""):
    """Refuse an answer whose announced length is over `limit` before reading any of it."""
    length = response.headers.get("Content-Length")
    if length and length.strip().isdigit() and int(length) > limit:
        raise TooLarge(f"{url}: {what} is {_size_text(int(length))}, more than the {_size_text(limit)} this client "
                       f"reads{hint}")


def _read_limited(response, url, limit):
    """The body of `response`, at most `limit` bytes: a longer one (whatever its Content-Length says) raises."""
    _check_length(response, url, limit)
    chunks, total = [], 0
    while chunk := response.read(min(1 << 20, limit + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"{url}: the answer is larger than the {_size_text(limit)} this client reads")
    return b"".join(chunks)


class ServerUnreachable(ComfyError):
    """No answer from the server (not running, wrong address, connection lost)."""


class PromptRejected(ComfyError):
    """POST /prompt refused the prompt: `node_errors` {node id: {...}} and `error` as the server sent them."""

    def __init__(self, response, server=""):
        self.response = response if isinstance(response, dict) else {"error": str(response)}
        self.error = self.response.get("error")
        self.node_errors = self.response.get("node_errors") or {}
        super().__init__(format_prompt_error(self.response, server))


class ExecutionFailed(ComfyError):
    """The prompt ran and failed (or was interrupted): the node and the exception as the server reported them."""


def format_prompt_error(response, server=""):
    """The server's validation answer as lines a person reads: one per failing node and input."""
    lines = []
    for node_id, entry in sorted((response.get("node_errors") or {}).items(), key=lambda kv: str(kv[0])):
        name = f"{entry.get('class_type', '?')} (node {node_id})"
        for err in entry.get("errors") or [{}]:
            message, details = err.get("message", ""), err.get("details", "")
            if err.get("type") == "custom_validation_failed" and details:
                input_name = (err.get("extra_info") or {}).get("input_name")
                # details is "<input> - <the node's own message>": show the node's message as it wrote it
                if input_name and details.startswith(f"{input_name} - "):
                    details = details[len(input_name) + 3:]
                lines.append(f"{name}: {details}")
            else:
                lines.append(f"{name}: {message}" + (f": {details}" if details else ""))
    error = response.get("error")
    if not lines:
        if isinstance(error, dict):
            lines.append(error.get("message", "") + (f": {error['details']}" if error.get("details") else ""))
        elif error:
            lines.append(str(error))
    head = f"{server} rejected the prompt" if server else "the server rejected the prompt"
    unique = list(dict.fromkeys(lines))
    return head + ":\n" + "\n".join(f"  {line}" for line in unique)


def execution_error(entry):
    """The message of a failed /history entry, or None when it succeeded."""
    status = entry.get("status") or {}
    for event, data in status.get("messages") or []:
        if event == "execution_error":
            return (f"{data.get('node_type', '?')} (node {data.get('node_id', '?')}): "
                    f"{data.get('exception_type', 'error')}: {str(data.get('exception_message', '')).strip()}")
        if event == "execution_interrupted":
            return f"interrupted at {data.get('node_type', '?')} (node {data.get('node_id', '?')})"
    if status.get("status_str") == "error":
        return "the prompt failed (no message from the server)"
    return None


def _safe_name(name):
    stem, ext = os.path.splitext(os.path.basename(name))
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "file"
    return stem[:80] + re.sub(r"[^A-Za-z0-9.]+", "", ext)


class _MultipartFile:
    """A multipart/form-data body that streams a file (so large videos are not read into memory)."""

    def __init__(self, fields, file_field, path, filename):
        self.boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items())
        head += (f'--{self.boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
                 f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
        self.head, self.tail, self.path = head, f"\r\n--{self.boundary}--\r\n".encode(), path
        self.length = len(head) + os.path.getsize(path) + len(self.tail)

    def __iter__(self):
        yield self.head
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk
        yield self.tail


class ComfyClient:
    def __init__(self, url, timeout=60, client_id=None):
        url = url.strip().rstrip("/")
        if "://" not in url:
            url = "http://" + url
        self.url, self.timeout = url, timeout
        self.client_id = client_id or f"foley_batch-{uuid.uuid4().hex[:12]}"
        self._uploads = {}  # (path, size, mtime) -> name on the server

    def __repr__(self):
        return f"ComfyClient({self.url})"

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def _open(self, path, data=None, headers=None, method=None, timeout=None):
        request = urllib.request.Request(self.url + path, data=data, headers=headers or {}, method=method)
        try:
            return urllib.request.urlopen(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ServerUnreachable(f"ComfyUI at {self.url} does not answer ({reason})") from e

    def get_json(self, path, timeout=None, max_bytes=MAX_JSON_BYTES):
        try:
            with self._open(path, timeout=timeout) as r:
                return json.loads(_read_limited(r, self.url + path, max_bytes))
        except urllib.error.HTTPError as e:
            raise ComfyError(f"GET {self.url}{path}: HTTP {e.code} {e.reason}") from e

    def post_json(self, path, payload, timeout=None):
        """-> (HTTP status, decoded JSON body or {})."""
        body = json.dumps(payload).encode()
        try:
            with self._open(path, body, {"Content-Type": "application/json"}, "POST", timeout) as r:
                raw = _read_limited(r, self.url + path, MAX_JSON_BYTES)
                status = r.status
        except urllib.error.HTTPError as e:
            raw, status = _read_limited(e, self.url + path, MAX_JSON_BYTES), e.code
        try:
            return status, json.loads(raw) if raw else {}
        except ValueError:
            return status, {"error": raw.decode(errors="replace").strip() or f"HTTP {status}"}

    # --- API ----------------------------------------------------------------------------------------------------

    def object_info(self):
        return self.get_json("/object_info", timeout=max(self.timeout, 120), max_bytes=MAX_OBJECT_INFO_BYTES)

    def upload(self, path, subfolder="foley_batch"):
        """Put a local file into the server's input folder -> the name to give LoadVideo / LoadImage / LoadAudio.

        The name carries a hash of the content (`<stem>-<hash><ext>` in `subfolder`), so different files with
        the same name do not replace each other. The file is sent once per server and client; the server keeps
        a file it already has with that content (no overwrite: servers that share an input folder never
        rewrite a video another one may be reading)."""
        stat = os.stat(path)
        key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
        if key in self._uploads:
            return self._uploads[key]
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        stem, ext = os.path.splitext(_safe_name(path))
        name = f"{stem}-{digest.hexdigest()[:12]}{ext}"
        body = _MultipartFile({"type": "input", "subfolder": subfolder}, "image", path, name)
        headers = {"Content-Type": f"multipart/form-data; boundary={body.boundary}", "Content-Length": str(body.length)}
        try:
            with self._open("/upload/image", body, headers, "POST", timeout=max(self.timeout, 600)) as r:
                answer = json.loads(_read_limited(r, self.url + "/upload/image", MAX_JSON_BYTES))
        except urllib.error.HTTPError as e:
            if e.code == 413:
                raise ComfyError(f"{self.url} refused the upload of {path} ({stat.st_size / 1e6:.0f} MB): larger than "
                                 "its --max-upload-size (100 MB by default); start ComfyUI with a larger one") from e
            raise ComfyError(f"upload of {path} to {self.url}: HTTP {e.code} {e.reason}") from e
        stored = "/".join(p for p in (answer.get("subfolder"), answer.get("name", name)) if p)
        self._uploads[key] = stored
        return stored

    def queue(self, prompt, extra_data=None):
        """POST /prompt -> prompt id; raises PromptRejected with the server's node errors."""
        payload = {"prompt": prompt, "client_id": self.client_id}
        if extra_data:
            payload["extra_data"] = extra_data
        status, answer = self.post_json("/prompt", payload)
        if status != 200 or answer.get("node_errors") or "prompt_id" not in answer:
            if status == 200 and answer.get("prompt_id"):  # the outputs that did validate were queued: not wanted
                self.cancel(answer["prompt_id"])
            raise PromptRejected(answer)
        return answer["prompt_id"]

    def history(self, prompt_id):
        """The /history entry of a finished prompt, or None while it is queued or running."""
        entry = self.get_json(f"/history/{urllib.parse.quote(prompt_id)}").get(prompt_id)
        status = (entry or {}).get("status") or {}
        if entry is not None and (status.get("completed") or status.get("status_str") in ("success", "error")):
            return entry
        return None

    def wait(self, prompt_id, timeout=None, poll=0.25):
        """Poll /history until the prompt finished -> its entry; raises ExecutionFailed on an error."""
        start = time.monotonic()
        while True:
            entry = self.history(prompt_id)
            if entry is not None:
                message = execution_error(entry)
                if message:
                    raise ExecutionFailed(message)
                return entry
            if timeout and time.monotonic() - start > timeout:
                self.cancel(prompt_id)
                raise ExecutionFailed(f"not finished after {timeout:g} s: cancelled")
            time.sleep(poll)

    def cancel(self, prompt_id):
        """Remove the prompt from the queue, or interrupt it if it is running. Never raises."""
        try:
            self.post_json("/queue", {"delete": [prompt_id]}, timeout=10)
            self.post_json("/interrupt", {"prompt_id": prompt_id}, timeout=10)
        except ComfyError:
            pass

    def download(self, item, dest, max_bytes=None):
        """Save a file of a node's ui output ({filename, subfolder, type}) from /view to `dest`, at most
        `max_bytes` (default MAX_FILE_BYTES): a larger file raises TooLarge and nothing is left at `dest`."""
        limit = max_bytes or MAX_FILE_BYTES
        query = urllib.parse.urlencode({"filename": item["filename"], "subfolder": item.get("subfolder", ""),
                                        "type": item.get("type", "output")})
        url = f"{self.url}/view?{query}"
        tmp = f"{dest}.part"
        try:
            with self._open(f"/view?{query}", timeout=max(self.timeout, 600)) as r:
                _check_length(r, url, limit, "the file", " (--max-file-mb)")
                with open(tmp, "wb") as f:
                    total = 0
                    while chunk := r.read(min(1 << 20, limit + 1 - total)):
                        total += len(chunk)
                        if total > limit:
                            raise TooLarge(f"{url}: the file is larger than the {_size_text(limit)} this client "
                                           "reads (--max-file-mb)")
                        f.write(chunk)
            os.replace(tmp, dest)
        except urllib.error.HTTPError as e:
            raise ComfyError(f"GET /view {item['filename']} from {self.url}: HTTP {e.code}") from e
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return dest
