"""Media for the Foley pipeline, all through PyAV: the model's clock (clock.py), video decoding (video.py) and
audio files (audio.py). Muxing audio into video is muxing.py."""
from .audio import as_channels_first, channel_layout, check_sample_rate, load_audio, resample_audio, write_audio
from .clock import (LATENT_RATE, OFFICIAL_MAX_FRAMES_25, OFFICIAL_MAX_SECONDS, SAMPLE_RATE, SIGLIP2_FPS,
                    SYNCHFORMER_FPS, frame_indices, image_sequence_indices, latent_length, window_end)
from .video import (VideoFrames, VideoFrameStream, decoded_frames_from, first_video_stream, open_input,
                    read_video_frames, source_name, upright, video_info)

__all__ = [
    "LATENT_RATE", "OFFICIAL_MAX_FRAMES_25", "OFFICIAL_MAX_SECONDS", "SAMPLE_RATE", "SIGLIP2_FPS", "SYNCHFORMER_FPS",
    "VideoFrameStream", "VideoFrames", "as_channels_first", "channel_layout", "check_sample_rate",
    "decoded_frames_from", "first_video_stream", "frame_indices", "image_sequence_indices", "latent_length",
    "load_audio", "open_input", "read_video_frames", "resample_audio", "source_name", "upright", "video_info",
    "window_end", "write_audio",
]
