"""Speed and memory of every stage, with full-size random models built on the device (no files needed).

    .venv/bin/python benchmarks/gpu_bench.py                      # "full" on CUDA, "mid" without it
    .venv/bin/python benchmarks/gpu_bench.py --config mid --out benchmarks/results
    python3 benchmarks/gpu_bench.py --config full --comfy-flags=--use-sage-attention

Stages: SigLIP2 (8 fps), Synchformer (25 fps, fp16 autocast on CUDA as official), CLAP (77 tokens), the
denoising loop (Euler, CFG as one batch of 2B, `steps` steps) and the DAC decode (chunked, as the nodes run
it). Each model is built on the device only for its own stage and freed after it, so a stage's peak memory
is its own (as when ComfyUI evicts the encoders while the MMDiT runs). For each stage: the median wall time
over `repeats` timed runs after a warm-up (the device synchronised around each), the peak allocated and
reserved device memory over the stage, and for the denoising loop the achieved TFLOP/s and the fraction of
the GPU's dense bf16 peak; FLOPs are counted from the shapes (benchmarks/flops.py, formula in the report).

The same denoising loop also runs through ComfyUI's sampler (the KSampler node's common_ksampler on a MODEL
from FoleyModelConfig, ComfyUI's own loading) in a child process, so that ComfyUI's flags are its own
(--comfy-flags, e.g. --reserve-vram, --use-sage-attention), next to the engine loop on that same module.

Configs: "full" (XXL and XL, 5/10/15 s, batch 1 and 4, 50 steps, cfg 4.5, a 60 s clip through the windowed
path, bf16) is meant for one CUDA GPU; "mid" (hidden 512, 2 + 4 blocks, small encoders, fp32) runs on a CPU
in a few minutes for development. Output: DIR/gpu_bench_<config>.json and .md.
"""
import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COMFY = ROOT / ".cache" / "comfyui-0.3.75"
sys.path.insert(0, str(ROOT))

from benchmarks.flops import sampling_flops  # noqa: E402
from foley_models import media  # noqa: E402
from foley_models.mmdit import MMDIT_CONFIGS, HunyuanVideoFoley  # noqa: E402

TEXT_TOKENS = 77  # CLAP features are cut to 77 tokens; the worst case (shorter prompts give fewer)
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32, "fp8_e4m3fn": torch.float8_e4m3fn}

# dense bf16 tensor-core peaks from the datasheets (TFLOP/s, no sparsity); --peak-tflops overrides
BF16_PEAK_TFLOPS = [("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.4), ("H200", 989.4), ("H20", 148.0),
                    ("B200", 2250.0), ("A100", 312.0), ("A800", 312.0), ("L40S", 362.0), ("L40", 181.0),
                    ("L4", 121.0), ("A10G", 70.0), ("A10", 125.0), ("RTX 4090", 165.2), ("RTX 3090", 71.0)]

# encoder configs: the real ones (google/siglip2-base-patch16-512, laion/larger_clap_general's text tower,
# the Synchformer visual branch, the DAC VAE) and small ones for a CPU
SIGLIP2 = {"full": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                        image_size=512, patch_size=16),
           "mid": dict(hidden_size=192, intermediate_size=768, num_hidden_layers=2, num_attention_heads=3,
                       image_size=224, patch_size=16)}
CLAP = {"full": dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                     intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1, projection_dim=512),
        "mid": dict(vocab_size=1000, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=1024, max_position_embeddings=130, type_vocab_size=1, projection_dim=64)}
SYNCHFORMER = {"full": dict(embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0),
               "mid": dict(embed_dim=96, depth=2, num_heads=12, mlp_ratio=4.0)}
DAC = {"full": dict(decoder_dim=2048), "mid": dict(decoder_dim=128)}
MID_MMDIT = dict(hidden_size=512, num_heads=8, depth_triple=2, depth_single=4, mlp_ratio=4.0, latent_channels=128,
                 text_dim=CLAP["mid"]["hidden_size"], clip_dim=SIGLIP2["mid"]["hidden_size"],
                 sync_dim=SYNCHFORMER["mid"]["embed_dim"])

CONFIGS = {
    "full": dict(encoders="full", models=["xxl", "xl"], seconds=[5, 10, 15], batches=[1, 4], steps=50, cfg=4.5,
                 long_seconds=60, long_model="xxl", repeats=3, long_repeats=1, warmup_steps=2, dtype="bf16",
                 comfy=[dict(model="xxl", seconds=10, batch=1, weight_dtype="bf16"),
                        dict(model="xxl", seconds=10, batch=1, weight_dtype="fp8_e4m3fn")],
                 headline=dict(model="xxl", seconds=10, batch=1)),
    "mid": dict(encoders="mid", models=["mid"], seconds=[5, 10], batches=[1, 2], steps=2, cfg=4.5,
                long_seconds=20, long_model="mid", repeats=2, long_repeats=1, warmup_steps=1, dtype="fp32",
                comfy=[dict(model="mid", seconds=10, batch=1, weight_dtype="fp32")],
                headline=dict(model="mid", seconds=10, batch=1)),
}


def mmdit_config(name):
    return MID_MMDIT if name == "mid" else MMDIT_CONFIGS[name]


# --- measuring ----------------------------------------------------------------------------------------------------

def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free_device(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


class DeviceMemory:
    """Peak allocated / reserved device memory (GB) over a `with` block; None off CUDA."""

    def __init__(self, device):
        self.device = device
        self.allocated_gb = self.reserved_gb = None

    def __enter__(self):
        if self.device.type == "cuda":
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            synchronize(self.device)
            self.allocated_gb = round(torch.cuda.max_memory_allocated(self.device) / 1e9, 3)
            self.reserved_gb = round(torch.cuda.max_memory_reserved(self.device) / 1e9, 3)


class Times(list):
    """Wall-clock seconds of the timed runs; .cpu: the process's CPU seconds of each (all threads): on a GPU,
    host time near the wall time means the loop is bound by launching work; on a busy CPU it is steadier."""

    def __init__(self):
        super().__init__()
        self.cpu = []


def timed(run, device, repeats, warmup):
    """run() `warmup` times untimed, then `repeats` times each between two synchronisations -> Times."""
    for _ in range(warmup):
        run(warm=True)
    times = Times()
    for _ in range(repeats):
        synchronize(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        run(warm=False)
        synchronize(device)
        times.append(time.perf_counter() - start)
        times.cpu.append(time.process_time() - start_cpu)
    return times


def stage_row(stage, times, memory, **extra):
    row = dict(stage=stage, **extra, median_s=round(statistics.median(times), 4),
               times_s=[round(t, 4) for t in times], host_cpu_s=round(statistics.median(times.cpu), 4),
               peak_allocated_gb=memory.allocated_gb,
               peak_reserved_gb=memory.reserved_gb)
    print(json.dumps(row), flush=True)
    return row


@torch.no_grad()
def randomize(module, seed=0):
    """Random weights in place, scaled like a trained network's (1/sqrt(fan_in) matrices, norms near 1), so
    activations stay finite over the full depth; works for fp8 storage (drawn in bf16, then rounded)."""
    generator = torch.Generator(device=next(module.parameters()).device).manual_seed(seed)
    for name, p in module.named_parameters():
        draw = torch.empty(p.shape, dtype=torch.float32 if p.dtype == torch.float32 else torch.bfloat16,
                           device=p.device)
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("alpha", "weight_g") or (p.ndim == 1 and "norm" in name and leaf == "weight"):
            draw.normal_(1.0, 0.02, generator=generator)
        elif p.ndim >= 2:
            draw.normal_(0.0, p[0].numel() ** -0.5, generator=generator)
        else:
            draw.normal_(0.0, 0.02, generator=generator)
        p.copy_(draw.to(p.dtype))


def build_on(cls, config, device, dtype):
    model = cls(**config, dtype=dtype, device="meta").to_empty(device=device).requires_grad_(False).eval()
    randomize(model)
    return model


def peak_tflops(device, override):
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in BF16_PEAK_TFLOPS if key in name), None)


def matmul_ceiling(device, size=8192, repeats=10):
    """Achieved bf16 TFLOP/s of one large matrix product (the realistic ceiling; METHOD.md)."""
    if device.type != "cuda":
        return None
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    times = timed(lambda warm: a @ b, device, repeats, warmup=3)
    return round(2 * size ** 3 / statistics.median(times) / 1e12, 1)


# --- inputs -------------------------------------------------------------------------------------------------------

def clip_shapes(seconds):
    n25 = round(seconds * media.SYNCHFORMER_FPS)
    return dict(n25=n25, latent=media.latent_length(n25), visual=round(seconds * media.SIGLIP2_FPS),
                sync=8 * ((n25 - 16) // 8 + 1))


def features(config, shapes, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    make = lambda *s: torch.randn(*s, generator=g).to(device)  # noqa: E731
    return (make(1, TEXT_TOKENS, config["text_dim"]), make(1, TEXT_TOKENS, config["text_dim"]),
            make(1, shapes["visual"], config["clip_dim"]), make(1, shapes["sync"], config["sync_dim"]))


# --- stages -------------------------------------------------------------------------------------------------------

def time_frame_encoder(encode, fps, image_size, seconds_list, device, repeats, generator):
    """[(seconds, frames, times)] of encode(random uint8 frames [n, size, size, 3]) for clips of each length."""
    results = []
    for seconds in seconds_list:
        n = round(seconds * fps)
        frames = torch.randint(0, 256, (n, image_size, image_size, 3), dtype=torch.uint8, generator=generator)
        times = timed(lambda warm: encode(frames), device, 1 if seconds > 30 else repeats, warmup=1)
        results.append((seconds, n, times))
    return results


def bench_encoders(cfg, seconds_list, device, rows):
    from transformers import ClapTextConfig, ClapTextModelWithProjection, SiglipVisionConfig, SiglipVisionModel

    from foley_models.clap import ClapTextEncoder
    from foley_models.siglip2 import SigLIP2Encoder
    from foley_models.synchformer import IMG_SIZE, Synchformer

    size = cfg["encoders"]
    repeats = cfg["repeats"]
    g = torch.Generator().manual_seed(1)

    free_device(device)
    with DeviceMemory(device) as memory:
        siglip_config = SiglipVisionConfig(**SIGLIP2[size], attn_implementation="sdpa")
        with torch.device(device):
            torch.manual_seed(0)
            siglip = SigLIP2Encoder(SiglipVisionModel(siglip_config).eval().requires_grad_(False),
                                    siglip_config.image_size)
        results = time_frame_encoder(lambda frames, encode=siglip.encode_frames: encode(frames.numpy()),
                                     media.SIGLIP2_FPS,
                                     siglip.image_size, seconds_list, device, repeats, g)
    for seconds, n, times in results:
        rows.append(stage_row("siglip2", times, memory, seconds=seconds, frames=n))
    del siglip
    free_device(device)

    with DeviceMemory(device) as memory:
        synchformer = build_on(Synchformer, SYNCHFORMER[size], device, torch.float32)
        results = time_frame_encoder(synchformer.encode_frames, media.SYNCHFORMER_FPS, IMG_SIZE, seconds_list,
                                     device, repeats, g)
    for seconds, n, times in results:
        rows.append(stage_row("synchformer", times, memory, seconds=seconds, frames=n))
    del synchformer
    free_device(device)

    with DeviceMemory(device) as memory:
        clap_config = ClapTextConfig(**CLAP[size], pad_token_id=1, bos_token_id=0, eos_token_id=2)
        with torch.device(device):
            torch.manual_seed(0)
            clap = ClapTextEncoder(ClapTextModelWithProjection(clap_config).eval().requires_grad_(False))
        ids = torch.randint(3, clap_config.vocab_size, (2, TEXT_TOKENS), generator=g)
        mask = torch.ones_like(ids)
        times = timed(lambda warm, encode=clap.encode_ids: encode(ids, mask), device, repeats, warmup=1)
    rows.append(stage_row("clap", times, memory, tokens=TEXT_TOKENS))
    del clap
    free_device(device)


def bench_denoise(cfg, name, device, dtype, rows, peak):
    from foley_models.sampling import sample_euler_cfg
    from foley_models.windows import WindowedMMDiT

    config = mmdit_config(name)
    free_device(device)
    model = build_on(HunyuanVideoFoley, config, device, dtype)
    steps, cfg_scale = cfg["steps"], cfg["cfg"]
    cases = [(s, b, False) for s in cfg["seconds"] for b in cfg["batches"]]
    if name == cfg["long_model"] and cfg["long_seconds"]:
        cases.append((cfg["long_seconds"], 1, True))
    for seconds, batch, long in cases:
        shapes = clip_shapes(seconds)
        text, neg, clip, sync = features(config, shapes, device)
        noise = torch.randn(batch, config["latent_channels"], shapes["latent"],
                            generator=torch.Generator().manual_seed(2)).to(device)
        windowed = WindowedMMDiT(model) if long else model
        out = {}

        def run(warm):
            out["x"] = sample_euler_cfg(windowed, noise, text, neg, clip, sync,
                                        steps=cfg["warmup_steps"] if warm else steps, cfg=cfg_scale)

        free_device(device)
        with DeviceMemory(device) as memory:
            times = timed(run, device, cfg["long_repeats"] if long else cfg["repeats"], warmup=1)
        window = (windowed.window, windowed.overlap) if long else (None, None)
        flops = sampling_flops(config, batch, shapes["latent"], shapes["visual"], TEXT_TOKENS, shapes["sync"],
                               steps, cfg_scale, *window)
        median = statistics.median(times)
        rows.append(stage_row(
            "denoise", times, memory, model=name, seconds=seconds, batch=batch, steps=steps, cfg=cfg_scale,
            windowed=long, dtype=cfg["dtype"], per_step_ms=round(1000 * median / steps, 2),
            tflop=round(flops / 1e12, 3), tflops_per_s=round(flops / median / 1e12, 2),
            peak_fraction=round(flops / median / 1e12 / peak, 3) if peak else None,
            finite=bool(out["x"].isfinite().all())))
        del out
    del model
    free_device(device)


def bench_decode(cfg, device, rows):
    from foley_models.dac_vae import DAC_CONFIG, DacVAE

    free_device(device)
    vae = build_on(DacVAE, dict(DAC_CONFIG, **DAC[cfg["encoders"]]), device, torch.float32)
    cases = [(s, b) for s in cfg["seconds"] for b in cfg["batches"]]
    if cfg["long_seconds"]:
        cases.append((cfg["long_seconds"], 1))
    for seconds, batch in cases:
        latent = torch.randn(batch, 128, clip_shapes(seconds)["latent"],
                             generator=torch.Generator().manual_seed(3)).to(device)
        free_device(device)
        with DeviceMemory(device) as memory:
            times = timed(lambda warm: vae.decode_chunked(latent), device,
                          1 if seconds > 30 else cfg["repeats"], warmup=1)
        rows.append(stage_row("dac_decode", times, memory, seconds=seconds, batch=batch))
    del vae
    free_device(device)


# --- ComfyUI (child process) --------------------------------------------------------------------------------------

def boot_comfy(comfy_root, flags, cpu):
    """Import ComfyUI with `flags` as its command line, then this checkout as the package `foley_pack`."""
    import importlib.util

    sys.path.insert(0, str(comfy_root))
    from comfy import cli_args

    parsed = cli_args.parser.parse_args(flags)
    # what cli_args does after parsing its own command line
    parsed.fast = set() if parsed.fast is None else set(parsed.fast or cli_args.PerformanceFeature)
    parsed.fp16_unet = parsed.fp16_unet or parsed.force_fp16
    vars(cli_args.args).update(vars(parsed))
    if cpu:
        cli_args.args.cpu = True
    cli_args.args.disable_api_nodes = True
    import folder_paths  # noqa: F401
    import utils.extra_config  # noqa: F401  (binds ComfyUI's utils/ before comfy/ goes first on sys.path)
    import comfy.model_management  # noqa: F401
    import nodes  # noqa: F401

    spec = importlib.util.spec_from_file_location("foley_pack", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    pack = importlib.util.module_from_spec(spec)
    sys.modules["foley_pack"] = pack
    spec.loader.exec_module(pack)
    return sys.modules["foley_pack.nodes.comfy_model"]


def comfy_child(spec):
    """One ComfyUI case: the engine loop on ComfyUI's MODEL module, then KSampler's path on it."""
    cpu = not torch.cuda.is_available()
    torch.set_num_threads(spec["threads"])
    comfy_model = boot_comfy(spec["comfy_root"], spec["flags"], cpu)
    import comfy.model_management as mm
    import comfy.model_patcher
    import nodes as comfy_nodes

    from foley_models.sampling import sample_euler_cfg

    device = mm.get_torch_device()
    config = mmdit_config(spec["model"])
    storage = DTYPES[spec["weight_dtype"]]
    compute = None if storage in (torch.float32, torch.bfloat16) else torch.bfloat16
    if cpu and storage != torch.float32:
        compute = torch.float32
    model_config = comfy_model.FoleyModelConfig(dict(config))
    model_config.set_inference_dtype(storage, compute)
    offload = mm.unet_offload_device()
    model = comfy_model.FoleyModel(model_config, device=offload)
    # drawn on the GPU (seconds, not minutes, for 5 B parameters), then handed to ComfyUI on its offload
    # device like a loaded file, so that its own loading (partial too, e.g. with --reserve-vram) is measured
    model.diffusion_model.to(device)
    randomize(model.diffusion_model)
    model.diffusion_model.requires_grad_(False).to(offload)
    free_device(torch.device(device))
    model.device = offload
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=device, offload_device=offload)
    comfy_model.add_sampling_wrappers(patcher)  # as load_foley_model does

    shapes = clip_shapes(spec["seconds"])
    text, neg, clip, sync = features(config, shapes, torch.device("cpu"))
    batch, steps, cfg_scale = spec["batch"], spec["steps"], spec["cfg"]
    noise = torch.randn(batch, config["latent_channels"], shapes["latent"], generator=torch.Generator().manual_seed(2))
    flags = torch.zeros(1)
    positive = [[text, {"clip_feat": clip, "sync_feat": sync, "clip_empty": flags, "sync_empty": flags}]]
    negative = [[neg, {"clip_feat": torch.zeros_like(clip), "sync_feat": torch.zeros_like(sync),
                       "clip_empty": flags + 1, "sync_empty": flags + 1}]]
    latent = {"samples": torch.zeros_like(noise)}
    rows = []
    device_t = torch.device(device)

    def ksampler(warm):
        comfy_nodes.common_ksampler(patcher, 0, spec["warmup_steps"] if warm else steps, cfg_scale, "euler",
                                    "simple", positive, negative, latent, denoise=1.0, disable_noise=False)

    with DeviceMemory(device_t) as memory:
        times = timed(ksampler, device_t, spec["repeats"], warmup=1)
    rows.append(dict(path="comfy_ksampler", times_s=times, cpu_s=times.cpu, peak_allocated_gb=memory.allocated_gb,
                     peak_reserved_gb=memory.reserved_gb,
                     loaded_gb=round(patcher.loaded_size() / 1e9, 3), model_gb=round(patcher.model_size() / 1e9, 3)))

    # the engine's loop on the very same module (ComfyUI's layers and attention) with the weights ComfyUI loaded
    mm.load_models_gpu([patcher])
    dit = patcher.model.diffusion_model

    class Engine(torch.nn.Module):
        def forward(self, x, t, text, clip, sync):
            return HunyuanVideoFoley.forward(dit, x, t, text, clip, sync)

        def cached_conditions(self):
            return dit.cached_conditions()

        def empty_clip(self, b, n):
            return dit.empty_clip(b, n)

        def empty_sync(self, b, n):
            return dit.empty_sync(b, n)

    engine = Engine()
    args = [t.to(device) for t in (noise, text, neg, clip, sync)]

    def engine_loop(warm):
        sample_euler_cfg(engine, *args, steps=spec["warmup_steps"] if warm else steps, cfg=cfg_scale)

    with DeviceMemory(device_t) as memory:
        times = timed(engine_loop, device_t, spec["repeats"], warmup=1)
    rows.append(dict(path="engine_loop_on_comfy_module", times_s=times, cpu_s=times.cpu,
                     peak_allocated_gb=memory.allocated_gb,
                     peak_reserved_gb=memory.reserved_gb))
    import comfy.ldm.modules.attention as comfy_attention

    return dict(rows=rows, attention=comfy_attention.optimized_attention.__name__,
                engine_backend=dit.triple_blocks[0].attention_fn.__name__,
                compute_dtype=str(dit.compute_dtype), weight_dtype=spec["weight_dtype"])


def bench_comfy(cfg, args, rows, engine_rows, peak):
    for case in cfg["comfy"]:
        if case["weight_dtype"].startswith("fp8") and not torch.cuda.is_available():
            continue
        spec = dict(case, steps=cfg["steps"], cfg=cfg["cfg"], repeats=cfg["repeats"], threads=torch.get_num_threads(),
                    warmup_steps=cfg["warmup_steps"], comfy_root=str(args.comfy_root), flags=args.comfy_flags)
        proc = subprocess.run([sys.executable, __file__, "--comfy-child", json.dumps(spec)], capture_output=True,
                              text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            print(proc.stdout[-3000:], proc.stderr[-6000:], file=sys.stderr)
            rows.append(dict(stage="comfy", **case, error=(proc.stderr.strip().splitlines() or ["?"])[-1]))
            continue
        result = json.loads(lines[-1])
        shapes = clip_shapes(case["seconds"])
        flops = sampling_flops(mmdit_config(case["model"]), case["batch"], shapes["latent"], shapes["visual"],
                               TEXT_TOKENS, shapes["sync"], cfg["steps"], cfg["cfg"])
        engine = next((r for r in engine_rows if r["stage"] == "denoise" and r["model"] == case["model"]
                       and r["seconds"] == case["seconds"] and r["batch"] == case["batch"]
                       and not r["windowed"]), None)
        by_path = {r["path"]: r for r in result["rows"]}
        same_module = statistics.median(by_path["engine_loop_on_comfy_module"]["times_s"])
        for row in result["rows"]:
            median = statistics.median(row["times_s"])
            out = dict(stage="denoise_" + row["path"], **case, steps=cfg["steps"], cfg=cfg["cfg"],
                       median_s=round(median, 4), times_s=[round(t, 4) for t in row["times_s"]],
                       host_cpu_s=round(statistics.median(row["cpu_s"]), 4),
                       per_step_ms=round(1000 * median / cfg["steps"], 2), tflop=round(flops / 1e12, 3),
                       tflops_per_s=round(flops / median / 1e12, 2),
                       peak_fraction=round(flops / median / 1e12 / peak, 3) if peak else None,
                       peak_allocated_gb=row["peak_allocated_gb"], peak_reserved_gb=row["peak_reserved_gb"],
                       comfy_attention=result["attention"], compute_dtype=result["compute_dtype"],
                       comfy_flags=" ".join(args.comfy_flags))
            for key in ("loaded_gb", "model_gb"):
                if key in row:
                    out[key] = row[key]
            if row["path"] == "comfy_ksampler":
                out["vs_engine_same_module"] = round(median / same_module - 1, 4)
                if engine is not None and case["weight_dtype"] == cfg["dtype"]:
                    out["vs_engine"] = round(median / engine["median_s"] - 1, 4)
                    out["overhead_ms_per_step"] = round(1000 * (median - engine["median_s"]) / cfg["steps"], 2)
            print(json.dumps(out), flush=True)
            rows.append(out)


# --- report -------------------------------------------------------------------------------------------------------

FORMULA = """FLOPs counted from the shapes (benchmarks/flops.py): matrix product 2·M·N·K, convolution
2·outputs·(inputs per output), attention 4·Lq·Lk·head_dim per head; elementwise work not counted. B = model batch
(2 × batch with CFG), H hidden, F = 4H, Fc conv-MLP width, L latent frames, Lv SigLIP2 frames, Lt = 77 text tokens,
Ls Synchformer tokens, C = 128, Dt = Dc = Ds = 768:

    triple block  B·[36H² + 12(L+Lv)H² + 4·Lt·H² + 4(L+Lv)²H + 4(L+Lv)·Lt·H + 4(L+Lv)·H·F]   (last one: visual
                  projections/MLP skipped: B·[36H² + 6(L+Lv)H² + 6LH² + 4LtH² + 4L(L+Lv)H + 4L·Lt·H + 4LHF])
    single block  B·[24·L·H² + 4L²H + 18·L·H·Fc]
    embeddings    B·[2(256H + H²) + 2·Ls·Ds·H + 6·Ls·H·Fc + 2·Lt(Dt·H + H²) + 4·L·C·H + 2Lv(2·Dc·H + H²)]
    loop          steps × (embeddings + (n3 - 1)·triple + last triple + n1·single); windows summed on the long clip

XXL, 10 s (L 500, Lv 80, Ls 240), batch 1, CFG, 50 steps: {xxl10:.1f} TFLOP."""


def fmt(value, digits=3):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def markdown(report):
    rows, meta = report["rows"], report["meta"]
    lines = [f"# gpu_bench: config `{meta['config']}` on {meta['device_name']}", "",
             f"torch {meta['torch']}, MMDiT {meta['dtype']}, {meta['steps']} steps, cfg {meta['cfg']}; "
             f"dense bf16 peak {fmt(meta['peak_tflops'])} TFLOP/s, measured bf16 matmul "
             f"{fmt(meta['matmul_tflops'])} TFLOP/s; wall time of the whole run {meta['wall_s']:.0f} s. "
             "Times are medians of the timed runs after a warm-up (host CPU s: the process's CPU time, all "
             "threads); memory is the peak over the stage (weights included, other models freed).", "",
             "| stage | model | clip s | batch | median s | host CPU s | ms/step | TFLOP | TFLOP/s | % peak | "
             "peak alloc GB | peak reserved GB | notes |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['stage']} | {r.get('model', '')} | {r.get('seconds', '')} | {r.get('batch', '')} | "
                         f"failed: {r['error']} ||||||||| ")
            continue
        notes = []
        if r.get("windowed"):
            notes.append("windowed")
        if "frames" in r:
            notes.append(f"{r['frames']} frames")
        if "tokens" in r:
            notes.append(f"{r['tokens']} tokens")
        if r.get("weight_dtype"):
            notes.append(f"weights {r['weight_dtype']}, compute {r.get('compute_dtype', '')}")
        if r.get("comfy_attention"):
            notes.append(f"attention {r['comfy_attention']}")
        if "vs_engine" in r:
            notes.append(f"{100 * r['vs_engine']:+.1f}% vs engine ({r['overhead_ms_per_step']:+.1f} ms/step)")
        if "vs_engine_same_module" in r:
            notes.append(f"{100 * r['vs_engine_same_module']:+.1f}% vs engine loop on this module")
        if "loaded_gb" in r:
            notes.append(f"loaded {r['loaded_gb']}/{r['model_gb']} GB")
        if r.get("finite") is False:
            notes.append("NOT FINITE")
        pct = r.get("peak_fraction")
        lines.append("| " + " | ".join([
            r["stage"], r.get("model", ""), fmt(r.get("seconds")), fmt(r.get("batch")), fmt(r["median_s"], 4),
            fmt(r.get("host_cpu_s"), 4), fmt(r.get("per_step_ms"), 4), fmt(r.get("tflop"), 4), fmt(r.get("tflops_per_s"), 4),
            fmt(100 * pct if pct is not None else None, 3), fmt(r.get("peak_allocated_gb"), 4),
            fmt(r.get("peak_reserved_gb"), 4), "; ".join(notes)]) + " |")
    head = report.get("headline")
    if head:
        lines += ["", "Headline ({model}, {seconds:g} s, batch {batch}, {steps} steps, cfg {cfg}): ".format(**head)
                  + "; ".join(f"{k.replace('_', ' ')} {fmt(v, 4)}" for k, v in head["values"].items())]
    if report.get("pipeline"):
        lines += ["", "Whole pipeline (sum of the stage medians; encoders once, MMDiT and decode at the batch):", "",
                  "| model | clip s | batch | SigLIP2 | Synchformer | CLAP | denoise | decode | total s | peak alloc GB |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for p in report["pipeline"]:
            lines.append("| " + " | ".join(fmt(p[k], 4) for k in (
                "model", "seconds", "batch", "siglip2", "synchformer", "clap", "denoise", "dac_decode", "total_s",
                "peak_allocated_gb")) + " |")
    lines += ["", FORMULA.format(xxl10=report["meta"]["xxl_10s_tflop"]), ""]
    return "\n".join(lines)


def pipeline_rows(rows):
    def find(stage, **match):
        return next((r for r in rows if r["stage"] == stage and all(r.get(k) == v for k, v in match.items())), None)

    out = []
    for d in (r for r in rows if r["stage"] == "denoise"):
        parts = dict(siglip2=find("siglip2", seconds=d["seconds"]), synchformer=find("synchformer", seconds=d["seconds"]),
                     clap=find("clap"), denoise=d, dac_decode=find("dac_decode", seconds=d["seconds"], batch=d["batch"]))
        if any(v is None for v in parts.values()):
            continue
        peaks = [v["peak_allocated_gb"] for v in parts.values() if v["peak_allocated_gb"] is not None]
        out.append(dict(model=d["model"], seconds=d["seconds"], batch=d["batch"],
                        **{k: v["median_s"] for k, v in parts.items()},
                        total_s=round(sum(v["median_s"] for v in parts.values()), 4),
                        peak_allocated_gb=max(peaks) if peaks else None))
    return out


def headline(cfg, rows):
    """The figures the targets are stated in, for the config's headline case."""
    case = cfg["headline"]
    match = lambda r: all(r.get(k) == v for k, v in case.items()) and not r.get("windowed")  # noqa: E731
    values = {}
    denoise = next((r for r in rows if r["stage"] == "denoise" and match(r)), None)
    if denoise:
        values.update(denoise_s=denoise["median_s"], tflops_per_s=denoise["tflops_per_s"],
                      peak_fraction=denoise["peak_fraction"], denoise_peak_allocated_gb=denoise["peak_allocated_gb"])
    for r in rows:
        if r["stage"] == "denoise_comfy_ksampler" and match(r) and "vs_engine" in r:
            values[f"comfy_{r['weight_dtype']}_vs_engine"] = r["vs_engine"]
        if r["stage"] == "denoise_comfy_ksampler" and match(r):
            values[f"comfy_{r['weight_dtype']}_peak_allocated_gb"] = r["peak_allocated_gb"]
    pipe = next((p for p in pipeline_rows(rows) if all(p.get(k) == v for k, v in case.items())), None)
    if pipe:
        values.update(pipeline_s=pipe["total_s"], pipeline_peak_allocated_gb=pipe["peak_allocated_gb"])
    return dict(case, steps=cfg["steps"], cfg=cfg["cfg"], values=values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=["auto", *CONFIGS], default="auto")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--stages", nargs="+", default=["encoders", "denoise", "decode", "comfy"],
                        choices=["encoders", "denoise", "decode", "comfy"])
    parser.add_argument("--models", nargs="+", help="override the config's MMDiT sizes (xxl, xl, mid)")
    parser.add_argument("--seconds", type=float, nargs="+", help="override the clip lengths")
    parser.add_argument("--batches", type=int, nargs="+", help="override the batch sizes")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--long-seconds", type=float, help="the windowed clip (0: none)")
    parser.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], help="MMDiT compute dtype of the engine runs")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, if not in the table")
    parser.add_argument("--comfy-root", type=Path, default=Path(os.environ.get("COMFYUI_ROOT", DEFAULT_COMFY)))
    parser.add_argument("--comfy-flags", type=lambda s: s.split(), default=[],
                        help='ComfyUI command-line flags for the ComfyUI runs, e.g. "--reserve-vram 74"')
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--comfy-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.comfy_child:
        result = comfy_child(json.loads(args.comfy_child))
        print(json.dumps(result))
        return

    started = time.perf_counter()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = args.config if args.config != "auto" else ("full" if device.type == "cuda" else "mid")
    cfg = dict(CONFIGS[name])
    for key in ("models", "seconds", "batches", "steps", "repeats", "dtype", "long_seconds"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if args.models or args.seconds or args.batches:  # the ComfyUI cases follow the overrides
        cfg["headline"] = dict(model=cfg["models"][0], seconds=cfg["seconds"][-1], batch=cfg["batches"][0])
        cfg["comfy"] = [dict(case, **cfg["headline"]) for case in cfg["comfy"]]
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 stages as PyTorch's default precision computes them
    peak = peak_tflops(device, args.peak_tflops)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    meta = dict(config=name, device_name=device_name, torch=torch.__version__, dtype=cfg["dtype"], steps=cfg["steps"],
                cfg=cfg["cfg"], peak_tflops=peak, matmul_tflops=matmul_ceiling(device),
                xxl_10s_tflop=sampling_flops("xxl", 1, 500, 80, TEXT_TOKENS, 240, 50, 4.5) / 1e12,
                settings={k: v for k, v in cfg.items() if k != "comfy"}, comfy_cases=cfg["comfy"],
                comfy_flags=args.comfy_flags)
    print(json.dumps(meta), flush=True)
    rows = []
    seconds_all = sorted(set(cfg["seconds"]) | ({cfg["long_seconds"]} if cfg["long_seconds"] else set()))
    if "encoders" in args.stages:
        bench_encoders(cfg, seconds_all, device, rows)
    if "denoise" in args.stages:
        for model_name in cfg["models"]:
            bench_denoise(cfg, model_name, device, DTYPES[cfg["dtype"]], rows, peak)
    if "decode" in args.stages:
        bench_decode(cfg, device, rows)
    if "comfy" in args.stages:
        bench_comfy(cfg, args, rows, rows, peak)
    meta["wall_s"] = time.perf_counter() - started
    report = dict(meta=meta, rows=rows, pipeline=pipeline_rows(rows), headline=headline(cfg, rows))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"gpu_bench_{name}.json").write_text(json.dumps(report, indent=1))
    text = markdown(report)
    (args.out / f"gpu_bench_{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
