"""Spatial and layered Foley through the real ComfyUI: object-focus masks on the encoders, and the graph
"two sources, two prompts, one stereo mix" on the example clip, its masks made by core nodes only."""
import importlib.util
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from graph import node
from make_media import probe_media, read_audio
from foley_models import media

ROOT = Path(__file__).resolve().parent.parent
TWO_SOURCES = "foley_two_sources.mp4"  # 100 frames at 25 fps, 320x180: a red ball and a blue block


def load_scene():
    """The example clip's generator: where each source truly is at each time."""
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "example_media" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def clip(comfyui, comfy_input_dir):
    path = comfy_input_dir / TWO_SOURCES
    if not path.exists():
        shutil.copy(ROOT / "example_media" / TWO_SOURCES, path)
    return path


@pytest.fixture(scope="module")
def encoders(comfyui):
    (synchformer,) = node(comfyui, "FoleySynchformerLoader", file="synchformer_state_dict.pth")
    (siglip2,) = node(comfyui, "FoleySigLIP2Loader", folder="siglip2-base-patch16-512")
    return {"FoleyVisualEncode": ("siglip2", siglip2), "FoleySyncEncode": ("synchformer", synchformer)}


def encode(comfyui, encoders, node_id, **inputs):
    key, model = encoders[node_id]
    (features,) = node(comfyui, node_id, **{key: model}, **inputs)
    return features["features"]


def video_and_images(comfyui, clip):
    from comfy_api.latest import InputImpl

    video = InputImpl.VideoFromFile(str(clip))
    components = video.get_components()  # what GetVideoComponents outputs (its output count varies by version)
    return video, components.images, float(components.frame_rate)


WINDOW = dict(start_time=1.0, duration=1.2)  # source frames 25..54: two Synchformer segments, quick on a CPU


@pytest.mark.parametrize("node_id", ["FoleyVisualEncode", "FoleySyncEncode"])
def test_no_mask_or_a_full_mask_gives_the_features_without_one(comfyui, encoders, clip, node_id):
    video, images, fps = video_and_images(comfyui, clip)
    for source in (dict(video=video, **WINDOW), dict(images=images, fps=fps, **WINDOW)):
        plain = encode(comfyui, encoders, node_id, **source)
        for full in (torch.ones(1, 180, 320), torch.ones(images.shape[0], 180, 320), torch.ones(1, 9, 16)):
            masked = encode(comfyui, encoders, node_id, **source, mask=full)
            torch.testing.assert_close(masked, plain, rtol=0, atol=0)


def rows_changed(a, b, group=1):
    """Indices of the groups of `group` feature rows where a and b differ."""
    diff = (a[0] != b[0]).any(dim=-1).reshape(-1, group).any(dim=-1)
    return set(torch.nonzero(diff).flatten().tolist())


@pytest.mark.parametrize("source_kind", ["video", "images"])
def test_a_mask_changes_only_the_features_of_the_frames_it_masks(comfyui, encoders, clip, source_kind):
    """Masks on source frames 40..44 only (1.6 s .. 1.76 s, inside the window from 1.0 s): SigLIP2 (one feature
    per frame at 8 fps) changes exactly at the picks of those frames; Synchformer exactly in the 16-frame
    segments that hold one of them."""
    video, images, fps = video_and_images(comfyui, clip)
    source = dict(video=video, **WINDOW) if source_kind == "video" else dict(images=images, fps=fps, **WINDOW)
    mask = torch.ones(images.shape[:3])
    masked_frames = range(40, 45)
    mask[list(masked_frames)] = (images[list(masked_frames), ..., 0] > 0.5).float()  # the red ball only
    n = images.shape[0]
    for node_id, rate, group in (("FoleyVisualEncode", media.SIGLIP2_FPS, 1), ("FoleySyncEncode", 25, 8)):
        plain = encode(comfyui, encoders, node_id, **source)
        focused = encode(comfyui, encoders, node_id, **source, mask=mask)
        picks = media.image_sequence_indices(n, fps, rate, start=WINDOW["start_time"], duration=WINDOW["duration"],
                                             max_seconds=math.inf)
        hit = [i for i, p in enumerate(picks) if p in masked_frames]
        expected = set(hit) if group == 1 else {s for s in range(plain.shape[1] // 8)
                                                  if any(8 * s <= i < 8 * s + 16 for i in hit)}
        assert expected and rows_changed(plain, focused, group) == expected, node_id


@pytest.mark.parametrize("source_kind", ["video", "images"])
def test_a_mask_batch_of_another_length_is_refused_naming_both_counts(comfyui, encoders, clip, source_kind):
    video, images, fps = video_and_images(comfyui, clip)
    source = dict(video=video) if source_kind == "video" else dict(images=images, fps=fps)
    with pytest.raises(ValueError, match="the mask batch has 7 masks but the video has 100 frames"):
        encode(comfyui, encoders, "FoleyVisualEncode", **source, mask=torch.ones(7, 180, 320))


def layer_nodes(prefix, channel, prompt, start, duration):
    """One source's branch: its mask from core nodes, focused features, 2 sampling steps, audio, pan, layer."""
    p = prefix
    return {
        f"{p}1": {"class_type": "ImageToMask", "inputs": {"image": ["30", 0], "channel": channel}},
        f"{p}2": {"class_type": "ThresholdMask", "inputs": {"mask": [f"{p}1", 0], "value": 0.5}},
        f"{p}3": {"class_type": "FoleyTextEncode", "inputs": {"clap": ["2", 0], "prompt": prompt,
                                                               "negative_prompt": "noisy, harsh"}},
        f"{p}4": {"class_type": "FoleyVisualEncode", "inputs": {"siglip2": ["3", 0], "video": ["1", 0], "fps": 24.0,
                                                                 "start_time": start, "duration": duration,
                                                                 "mask": [f"{p}2", 0]}},
        f"{p}5": {"class_type": "FoleySyncEncode", "inputs": {"synchformer": ["4", 0], "video": ["1", 0], "fps": 24.0,
                                                               "start_time": start, "duration": duration,
                                                               "mask": [f"{p}2", 0]}},
        f"{p}6": {"class_type": "FoleyConditioning", "inputs": {"text": [f"{p}3", 0], "visual": [f"{p}4", 0],
                                                                 "sync": [f"{p}5", 0], "duration": 5.0,
                                                                 "batch_size": 1}},
        f"{p}7": {"class_type": "FoleySampler", "inputs": {"model": ["5", 0], "positive": [f"{p}6", 0],
                                                            "negative": [f"{p}6", 1], "latent": [f"{p}6", 2],
                                                            "seed": 1, "steps": 2, "cfg": 4.5, "sampler_name": "euler",
                                                            "scheduler": "simple", "denoise": 1.0}},
        f"{p}8": {"class_type": "FoleyVAEDecode", "inputs": {"vae": ["6", 0], "latent": [f"{p}7", 0]}},
        f"{p}9": {"class_type": "FoleyPositionFromMask", "inputs": {"mask": [f"{p}2", 0], "fps": ["30", 2],
                                                                     "smoothing": 0.1}},
        f"{p}10": {"class_type": "FoleyPan", "inputs": {"audio": [f"{p}8", 0], "position": [f"{p}9", 0],
                                                         "width": 1.0, "interaural_delay_ms": 0.0,
                                                         "closeness_db": 0.0}},
    }


RED_WINDOW, BLUE_WINDOW = (0.2, 1.4), (2.2, 1.4)  # (start_time, duration) in seconds of the clip


def two_sources_graph():
    graph = {
        "1": {"class_type": "LoadVideo", "inputs": {"file": TWO_SOURCES}},
        "2": {"class_type": "FoleyCLAPLoader", "inputs": {"folder": "larger_clap_general"}},
        "3": {"class_type": "FoleySigLIP2Loader", "inputs": {"folder": "siglip2-base-patch16-512"}},
        "4": {"class_type": "FoleySynchformerLoader", "inputs": {"file": "synchformer_state_dict.pth"}},
        "5": {"class_type": "FoleyModelLoader", "inputs": {"file": "hunyuanvideo_foley.pth",
                                                           "weight_dtype": "default"}},
        "6": {"class_type": "FoleyVAELoader", "inputs": {"file": "vae_128d_48k.pth"}},
        "30": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
        **layer_nodes("r", "red", "a ball bounces on wood", *RED_WINDOW),
        **layer_nodes("b", "blue", "a heavy box thuds", *BLUE_WINDOW),
        "40": {"class_type": "FoleyAddLayer", "inputs": {"audio": ["r10", 0], "batch_index": 0, "gain_db": 0.0,
                                                         "pan": 0.0}},
        "41": {"class_type": "FoleyAddLayer", "inputs": {"layers": ["40", 0], "audio": ["b10", 0], "batch_index": 0,
                                                         "gain_db": -3.0, "pan": 0.0}},
        "42": {"class_type": "FoleyMixLayers", "inputs": {"layers": ["41", 0], "target_lufs": -23.0,
                                                          "true_peak_db": -1.0}},
        "43": {"class_type": "FoleyMuxVideo", "inputs": {"video": ["1", 0], "audio": ["42", 0], "batch_index": 0,
                                                         "audio_codec": "flac", "video_range": "whole video"}},
        "44": {"class_type": "SaveVideo", "inputs": {"video": ["43", 0], "filename_prefix": "foley/two_sources",
                                                     "format": "auto", "codec": "auto"}},
    }
    return graph


def test_two_sources_two_prompts_one_stereo_mix(comfyui, clip):
    result = comfyui.run(two_sources_graph())
    assert result["success"], result["messages"]
    (saved,) = comfyui.output_files(result)
    info = probe_media(saved)
    assert info["audio"]["channels"] == 2 and info["video"]["frames"] == 100
    wave, rate = read_audio(saved)
    loud = np.abs(wave).max(axis=0) > 1e-4
    scene = load_scene()
    seconds = media.latent_length(35) * 960 / 48000  # 1.4 s at 25 fps -> 35 frames
    for name, (start, _) in (("red ball", RED_WINDOW), ("blue block", BLUE_WINDOW)):
        inside = slice(int((start + 0.02) * rate), int((start + seconds - 0.02) * rate))
        assert loud[inside].mean() > 0.9, name  # the layer sounds throughout its window
        # and sounds where its own source is: left/right follows the constant-power law at the source's true x
        for t in np.arange(start + 0.2, start + seconds - 0.2, 0.2):
            part = slice(int(t * rate), int((t + 0.02) * rate))
            left, right = np.sqrt(np.mean(wave[:, part].astype(np.float64) ** 2, axis=1))
            x = scene.source_x(name, t + 0.01) / scene.TWO_W * 2 - 1
            angle = (x + 1) * math.pi / 4
            assert 20 * math.log10(left / right) == pytest.approx(20 * math.log10(math.cos(angle) / math.sin(angle)),
                                                                  abs=1.0), (name, t)
    before, between = slice(0, int((RED_WINDOW[0] - 0.01) * rate)), slice(
        int((RED_WINDOW[0] + seconds + 0.01) * rate), int((BLUE_WINDOW[0] - 0.01) * rate))
    assert np.abs(wave[:, before]).max() < 1e-4 and np.abs(wave[:, between]).max() < 1e-4  # each layer at its time


def write_offset_clip(path, first_frame=0, n_frames=50, fps=25):
    """MKV of n_frames random 64x48 frames at fps whose first frame is shown at first_frame / fps s (a file whose
    timestamps do not start at 0, as MPEG-TS and some WebM/MP4 files are)."""
    from fractions import Fraction

    import av

    rng = np.random.default_rng(7)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), format="rgb24")
            frame.pts, frame.time_base = first_frame + i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def shown_frame_times(path, trim_start=None):
    """Times in seconds of the file of the frames a VIDEO of it shows, in order: all of them, or from the first
    whose timestamp is at or after trim_start (core Trim Video's rule, in the stream's time base)."""
    import av

    with av.open(str(path)) as container:
        return [float(f.time) for f in container.decode(video=0)
                if trim_start is None or f.pts >= int(trim_start / f.time_base)]


def assert_masks_land_on_the_frames_components_number(comfyui, encoders, video, times, window_start):
    """A mask made from GetVideoComponents' image k (the rest full) changes exactly the SigLIP2 features of the
    picks of frame k, the frame shown at times[k]; picks are counted on the frames read from window_start."""
    images = node(comfyui, "GetVideoComponents", video=video)[0]
    assert images.shape[0] == len(times)
    read = [t - window_start for t in times if t >= window_start]
    first_read = len(times) - len(read)
    picks = [first_read + i for i in media.frame_indices(read, media.SIGLIP2_FPS, math.inf)]
    k = picks[len(picks) // 2]
    mask = torch.ones(images.shape[:3])
    mask[k] = (images[k, ..., 0] > 0.5).float()
    plain = encode(comfyui, encoders, "FoleyVisualEncode", video=video)
    focused = encode(comfyui, encoders, "FoleyVisualEncode", video=video, mask=mask)
    assert rows_changed(plain, focused) == {j for j, p in enumerate(picks) if p == k}


def test_masks_index_a_video_from_its_first_frame_when_its_timestamps_do_not_start_at_0(comfyui, encoders,
                                                                                          tmp_path):
    from comfy_api.latest import InputImpl

    path = write_offset_clip(tmp_path / "offset.mkv", first_frame=10)  # the first frame at 0.4 s
    times = shown_frame_times(path)
    assert times[0] == pytest.approx(0.4)
    assert_masks_land_on_the_frames_components_number(comfyui, encoders, InputImpl.VideoFromFile(str(path)), times,
                                                      0.0)


@pytest.mark.parametrize("first_frame", [0, 10])
def test_masks_index_a_trimmed_video_from_the_first_frame_of_its_trim(comfyui, encoders, tmp_path, first_frame):
    """Core Trim Video from 1.01 s, between two frames: GetVideoComponents starts at the frame shown at 1.04 s."""
    if "Video Slice" not in comfyui.nodes.NODE_CLASS_MAPPINGS:
        pytest.skip("core Trim Video (ComfyUI 0.14 and later)")
    from comfy_api.latest import InputImpl

    path = write_offset_clip(tmp_path / f"trim_{first_frame}.mkv", first_frame=first_frame)
    (video,) = node(comfyui, "Video Slice", video=InputImpl.VideoFromFile(str(path)), start_time=1.01, duration=0.0,
                    strict_duration=False)
    times = shown_frame_times(path, trim_start=1.01)
    assert times[0] == pytest.approx(1.04)
    assert_masks_land_on_the_frames_components_number(comfyui, encoders, video, times, 1.01)


def test_a_2d_mask_is_one_mask_for_all_frames(comfyui, encoders, clip):
    video, images, fps = video_and_images(comfyui, clip)
    mask = (images[0, ..., 0] > 0.5).float()  # [H, W]: the red ball where it is in the first frame
    for source in (dict(video=video, **WINDOW), dict(images=images, fps=fps, **WINDOW)):
        batch = encode(comfyui, encoders, "FoleyVisualEncode", **source, mask=mask[None])
        flat = encode(comfyui, encoders, "FoleyVisualEncode", **source, mask=mask)
        torch.testing.assert_close(flat, batch, rtol=0, atol=0)
    position, _ = node(comfyui, "FoleyPositionFromMask", mask=mask, fps=fps, smoothing=0.1)
    reference, _ = node(comfyui, "FoleyPositionFromMask", mask=mask[None], fps=fps, smoothing=0.1)
    assert position.times.shape == (1,) and position.x.tolist() == reference.x.tolist()
