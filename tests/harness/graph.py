"""Small helpers for tests that drive the pack's nodes inside the in-process ComfyUI."""

CLIP = "clip_24fps_2s.mp4"  # 48 frames at 24 fps, 64x48, written into the input folder by the `comfyui` fixture


def node(comfyui, node_id, **inputs):
    """Run one node's execute directly (in-process) and return its outputs."""
    return comfyui.nodes.NODE_CLASS_MAPPINGS[node_id].execute(**inputs).result


def pack_module(comfyui, name):
    """A module of the pack as ComfyUI imported it (under its own package name), e.g. "nodes.scoring"."""
    import importlib

    loader_module = comfyui.nodes.NODE_CLASS_MAPPINGS["FoleyModelLoader"].__module__  # <package>.nodes.loaders
    return importlib.import_module(f"{loader_module.rsplit('.nodes.', 1)[0]}.{name}")


def with_ksampler(graph, node_id="11"):
    """The graph with its FoleySampler replaced by core KSampler (same inputs, `latent` named `latent_image`)."""
    inputs = dict(graph[node_id]["inputs"])
    inputs["latent_image"] = inputs.pop("latent")
    return {**graph, node_id: {"class_type": "KSampler", "inputs": inputs}}
