"""The pack's words in ComfyUI: its category, the types its nodes pass between them, and the keys they carry
in core LATENT / AUDIO dicts. Every node file imports these from here, so no role file depends on another
for a name."""
from comfy_api.latest import io

CATEGORY = "audio/foley"
# the longest input, in seconds, a time widget accepts: any length runs, on windows (FoleyWindowing)
LONGEST_INPUT_SECONDS = 100000.0

# models
FoleyVAE = io.Custom("FOLEY_VAE")
FoleyCLAP = io.Custom("FOLEY_CLAP")
FoleySigLIP2 = io.Custom("FOLEY_SIGLIP2")
FoleySynchformer = io.Custom("FOLEY_SYNCHFORMER")
FoleyScorer = io.Custom("FOLEY_SCORER")
# features and results
FoleyText = io.Custom("FOLEY_TEXT")
FoleyVisual = io.Custom("FOLEY_VISUAL")
FoleySync = io.Custom("FOLEY_SYNC")
FoleyScores = io.Custom("FOLEY_SCORES")
# spatial Foley: where a source is on screen over time (spatial.PositionTrack), and the layers of a mix
FoleyPosition = io.Custom("FOLEY_POSITION")
FoleyLayers = io.Custom("FOLEY_LAYERS")

# Seconds into the video where the window a feature, latent or audio was made for starts: set by the
# encoders, carried by FoleyConditioning into the LATENT (the samplers copy that dict), passed on by decode
# and encode, read by FoleyMuxVideo: the sound of a window plays at the window's time without typing it twice.
START_TIME = "start_time"
# latent frames of the clip a conditioning was made for: FoleyConditioningTimeRange builds its masks from it
LATENT_LENGTH = "latent_length"


def with_start_time(output, source):
    """`output` with the start time of `source` (a feature, LATENT or AUDIO dict), if it has one."""
    if START_TIME in source:
        output[START_TIME] = source[START_TIME]
    return output
