"""Run ComfyUI (0.3.75) inside the test process: its own validate_prompt + PromptExecutor, no server, no sockets.

One instance per process: ComfyUI keeps args, folder paths, the node registry and loaded models in module
globals, so a second boot (other base dir, other flags) in the same process is not possible.
"""
import asyncio
import importlib.util
import inspect
import logging
import os
import sys
import uuid

from ui_outputs import ui_output_files

# top-level names ComfyUI imports from its root; a same-named module imported earlier from elsewhere
# (e.g. the pack's own `nodes/` package reached through the checkout on sys.path) would shadow it
_COMFY_TOP_LEVEL = ("comfy", "nodes", "utils", "server", "execution", "folder_paths", "app", "comfy_api",
                    "comfy_execution", "comfy_extras", "node_helpers", "latent_preview", "protocol", "middleware")


class FakeServer:
    """The PromptServer surface that PromptExecutor, the progress handlers and node code touch."""

    def __init__(self):
        from aiohttp import web

        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets_metadata = {}
        self.messages = []
        self.routes = web.RouteTableDef()  # packs may register HTTP routes at import time; they are just ignored
        try:  # ComfyUI >= 0.14: core's node replacements (comfy_extras/nodes_replacements.py) register through it
            from app.node_replace_manager import NodeReplaceManager
        except ImportError:
            NodeReplaceManager = None
        self.node_replace_manager = NodeReplaceManager() if NodeReplaceManager else None

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))

    def send_progress_text(self, text, node_id, sid=None):
        self.messages.append(("progress_text", {"text": text, "node": node_id}))

    def queue_updated(self):
        pass


class _LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


class InProcessComfy:
    """Boot ComfyUI from COMFY_ROOT with --cpu semantics and BASE_DIR as --base-directory.

    extra_model_paths: yaml files applied like --extra-model-paths-config (before any custom node loads);
    input_dir: like --input-directory. After boot: `import_failed` (comfy_extras modules that failed),
    `custom_node_results` ({module_path: loaded ok}), `log` (ComfyUI's log lines during boot, INFO and up).
    """

    def __init__(self, comfy_root, base_dir, extra_model_paths=(), input_dir=None):
        comfy_root = os.path.abspath(comfy_root)
        for name in _COMFY_TOP_LEVEL:
            mod = sys.modules.get(name)
            where = getattr(mod, "__file__", None) or next(iter(getattr(mod, "__path__", []) or []), None)
            if mod is not None and not (where and os.path.abspath(where).startswith(comfy_root + os.sep)):
                raise RuntimeError(f"module {name!r} was already imported from {where}, not from ComfyUI at {comfy_root}:"
                                   " it would shadow ComfyUI's own module (import the pack relatively, not by top-level name)")
        if sys.path[:1] != [comfy_root]:
            sys.path.insert(0, comfy_root)
        self.comfy_root, self.base_dir = comfy_root, os.path.abspath(base_dir)

        capture = _LogCapture()
        root_logger = logging.getLogger()
        old_level = root_logger.level
        root_logger.addHandler(capture)
        root_logger.setLevel(logging.INFO)
        try:
            self._boot(extra_model_paths, input_dir)
        finally:
            root_logger.removeHandler(capture)
            root_logger.setLevel(old_level)
        self.log = capture.lines

    def _boot(self, extra_model_paths, input_dir):
        import comfy.options  # noqa: F401  arg parsing stays off: cli_args parses [] (never pytest's argv)
        from comfy.cli_args import args

        args.cpu = True  # else model_management calls torch.cuda.current_device() and dies on CPU torch
        args.base_directory = self.base_dir
        args.disable_api_nodes = True
        args.database_url = "sqlite:///:memory:"
        import folder_paths  # reads args.base_directory at import time
        import utils.extra_config  # binds `utils` to ComfyUI's utils/ package before nodes.py puts ComfyUI/comfy
        #                            first on sys.path (where comfy/utils.py would shadow it): main.py's order

        for cfg in extra_model_paths:
            utils.extra_config.load_extra_path_config(str(cfg))
        if input_dir is not None:
            folder_paths.set_input_directory(os.path.abspath(input_dir))
        self._run_prestartup_scripts(folder_paths)

        import comfy.model_management
        import comfy.utils
        import execution
        import server  # some comfy_extras do `from server import PromptServer` at import time
        import nodes
        from comfy_execution.utils import get_executing_context

        self.fake_server = FakeServer()
        if getattr(server.PromptServer, "instance", None) is None:
            server.PromptServer.instance = self.fake_server
        self.folder_paths, self.execution, self.nodes = folder_paths, execution, nodes
        self.model_management, self.comfy_utils = comfy.model_management, comfy.utils
        self._get_executing_context = get_executing_context

        self.custom_node_results = {}
        original_load = nodes.load_custom_node

        async def recording_load(module_path, *a, **kw):
            ok = await original_load(module_path, *a, **kw)
            self.custom_node_results[module_path] = ok
            return ok

        nodes.load_custom_node = recording_load
        try:
            self.import_failed = asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
        finally:
            nodes.load_custom_node = original_load

        kw = {"cache_type": execution.CacheType.CLASSIC}
        if "cache_args" in inspect.signature(execution.PromptExecutor.__init__).parameters:  # 0.3.75 (0.3.64: cache_size)
            kw["cache_args"] = {"lru": 0, "ram": 0, "ram_inactive": 0}  # ram_inactive: ComfyUI >= 0.2x
        self.executor = execution.PromptExecutor(self.fake_server, **kw)
        self.progress = []
        self.comfy_utils.set_progress_bar_global_hook(self._progress_hook)

    def _run_prestartup_scripts(self, folder_paths):
        """main.py runs each custom node's prestartup_script.py before anything else is imported."""
        for custom_nodes_dir in folder_paths.get_folder_paths("custom_nodes"):
            if not os.path.isdir(custom_nodes_dir):
                continue
            for name in sorted(os.listdir(custom_nodes_dir)):
                script = os.path.join(custom_nodes_dir, name, "prestartup_script.py")
                if os.path.isfile(script):
                    spec = importlib.util.spec_from_file_location(os.path.splitext(script)[0], script)
                    spec.loader.exec_module(importlib.util.module_from_spec(spec))

    # --- progress & interruption -----------------------------------------------------------------------------

    def _progress_hook(self, value, total, preview_image, prompt_id=None, node_id=None):
        """main.py's hook: every progress update is an interrupt point; events are recorded and 'sent'."""
        ctx = self._get_executing_context()
        if node_id is None and ctx is not None:
            node_id = ctx.node_id
        if prompt_id is None and ctx is not None:
            prompt_id = ctx.prompt_id
        self.model_management.throw_exception_if_processing_interrupted()
        event = {"value": value, "max": total, "prompt_id": prompt_id, "node": node_id}
        self.progress.append(event)
        self.fake_server.send_sync("progress", event, self.fake_server.client_id)

    def interrupt(self, value=True):
        """What POST /interrupt does: the next interrupt point raises InterruptProcessingException."""
        self.nodes.interrupt_processing(value)

    def run_with_interrupt_after(self, prompt, n_progress_updates, extra_data=None, keep_cache=False):
        """Run PROMPT and press Cancel (nodes.interrupt_processing(True)) at the N-th progress update a node makes
        (counted before ComfyUI's throttling of the hook, which since 0.9 passes on only some of them); expect
        success False and an 'execution_interrupted' message when the workflow makes >= N updates."""
        return self.run(prompt, extra_data=extra_data, keep_cache=keep_cache, interrupt_after=n_progress_updates)

    def _recording_updates(self, interrupt_after=None):
        """ProgressBar.update_absolute wrapped: every update a node makes lands in self.updates."""
        original = self.comfy_utils.ProgressBar.update_absolute
        harness = self

        def update_absolute(bar, value, total=None, preview=None):
            ctx = harness._get_executing_context()
            node_id = bar.node_id if bar.node_id is not None else (ctx.node_id if ctx is not None else None)
            harness.updates.append({"value": min(value, total or bar.total), "max": total or bar.total, "node": node_id})
            if interrupt_after is not None and len(harness.updates) >= interrupt_after:
                harness.interrupt(True)
            return original(bar, value, total, preview)

        return original, update_absolute

    # --- running prompts -------------------------------------------------------------------------------------

    def validate(self, prompt):
        """execution.validate_prompt -> (ok, error, output node ids, node_errors)."""
        return asyncio.run(self.execution.validate_prompt(str(uuid.uuid4()), prompt, None))

    def run(self, prompt, extra_data=None, keep_cache=False, progress_hook=None, interrupt_after=None):
        """Validate and execute an API-format prompt.

        Returns dict(valid, success, outputs, messages, events, progress, node_errors, error, prompt_id):
        outputs = {node_id: ui dict} as in /history; messages = executor status messages [(event, data)]
        (execution_start/cached/success/error/interrupted); events = everything sent to the fake server;
        progress = [{"value", "max", "prompt_id", "node"}] as the hook got them (throttled since ComfyUI 0.9);
        updates = [{"value", "max", "node"}], every ProgressBar update the nodes made. The executor's output cache is dropped before
        each run unless keep_cache (then unchanged nodes are served from cache, as in the server).
        """
        prompt_id = str(uuid.uuid4())
        ok, err, outputs, node_errors = asyncio.run(self.execution.validate_prompt(prompt_id, prompt, None))
        if not ok:
            return {"valid": False, "success": False, "outputs": {}, "messages": [], "events": [], "progress": [], "updates": [],
                    "node_errors": node_errors, "error": err, "prompt_id": prompt_id}
        if not keep_cache:
            self.executor.reset()
        self.fake_server.messages.clear()
        self.fake_server.last_prompt_id = prompt_id
        self.progress, self.updates = [], []
        self.comfy_utils.set_progress_bar_global_hook(progress_hook or self._progress_hook)
        original, recording = self._recording_updates(interrupt_after)
        self.comfy_utils.ProgressBar.update_absolute = recording
        try:
            self.executor.execute(prompt, prompt_id, extra_data or {}, outputs)
        finally:
            self.comfy_utils.ProgressBar.update_absolute = original
            self.comfy_utils.set_progress_bar_global_hook(self._progress_hook)
            self.nodes.interrupt_processing(False)
        messages = list(self.executor.status_messages)
        return {"valid": True, "success": any(ev == "execution_success" for ev, _ in messages),
                "outputs": self.executor.history_result["outputs"], "messages": messages,
                "events": list(self.fake_server.messages), "progress": list(self.progress), "updates": list(self.updates),
                "node_errors": node_errors, "error": None, "prompt_id": prompt_id}

    # --- helpers ----------------------------------------------------------------------------------------------

    @property
    def input_dir(self):
        return self.folder_paths.get_input_directory()

    @property
    def output_dir(self):
        return self.folder_paths.get_output_directory()

    def node_ids_from(self, relative_python_module):
        """Registered node ids whose class came from e.g. 'custom_nodes.<dir name>'."""
        return sorted(k for k, cls in self.nodes.NODE_CLASS_MAPPINGS.items()
                      if getattr(cls, "RELATIVE_PYTHON_MODULE", None) == relative_python_module)

    def output_files(self, result, kind=None):
        """Absolute paths of files listed in a run's ui outputs."""
        return ui_output_files(result["outputs"], self.folder_paths.get_directory_by_type, kind)
