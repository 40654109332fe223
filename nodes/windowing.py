"""FoleyWindowing: how the MMDiT covers a latent longer than it was trained for (any length, one graph)."""
from comfy_api.latest import io

from ..foley_models import windows
from ..foley_models.media import LATENT_RATE
from .comfy_model import MAX_WINDOW, WINDOW_OPTION
from .vocabulary import CATEGORY


class FoleyWindowing(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FoleyWindowing", display_name="Foley Windowing", category=CATEGORY,
            description="Sets the windows the model is evaluated on at every sampling step for audio longer than "
                        "one window: their predictions are blended with smooth weights across each overlap, so one "
                        "continuous latent is sampled. Without this node: 10 s windows, 2 s overlap. A clip that "
                        "fits one window is sampled exactly as without windows.",
            inputs=[
                io.Model.Input("model", tooltip="The Foley MODEL, from Load Foley Model."),
                io.Float.Input("window_seconds", default=windows.DEFAULT_WINDOW_SECONDS, min=0.64,
                               max=MAX_WINDOW / LATENT_RATE, step=0.32, round=0.01,
                               tooltip="Window length; the model was trained on clips of about 8-10 s. 15.04 s "
                                       "reproduces the official single pass for every clip it accepts."),
                io.Float.Input("overlap_seconds", default=windows.DEFAULT_OVERLAP_SECONDS, min=0.0, max=7.5,
                               step=0.32, round=0.01, tooltip="Overlap of neighbouring windows (at most half a window), "
                                                  "blended across."),
            ],
            outputs=[io.Model.Output()],
        )

    @classmethod
    def execute(cls, model, window_seconds, overlap_seconds):
        window = round(window_seconds * LATENT_RATE)
        overlap = round(overlap_seconds * LATENT_RATE)
        windows.window_spans(window + 1, window, overlap)  # the same checks as at sampling time, now
        patched = model.clone()
        patched.model_options.setdefault("transformer_options", {})[WINDOW_OPTION] = (window, overlap)
        return io.NodeOutput(patched)


NODES = [FoleyWindowing]
