"""The batch runner behind tools/foley_batch.py: a ComfyUI HTTP client (comfy_client), the UI -> API workflow
converter (workflow_api), the command line (cli), the overrides of node inputs (overrides), the scheduler of rows
over servers (scheduler) and the report (report). Standard library only (tqdm optional): no ComfyUI or torch import."""
