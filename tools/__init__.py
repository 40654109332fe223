"""Development tools of the repository (not shipped in the registry archive): tools/foley_batch.py runs workflows
through ComfyUI servers over HTTP; tools/make_icon.py draws the pack's icon."""
