"""CLAP (laion/larger_clap_general) through transformers: per-token text features for the pipeline (text tower),
and the CLAP score (text-audio cosine similarity, both towers)."""
import logging
import os

import torch

from .dsp import mono_mix
from .hf_folder import quiet_transformers, require_folder

CLAP_HUB_ID = "laion/larger_clap_general"
DEFAULT_NEGATIVE_PROMPT = "noisy, harsh"
MAX_TEXT_TOKENS = 77

log = logging.getLogger(__name__)


class ClapTextEncoder(torch.nn.Module):
    def __init__(self, model, tokenizer=None, max_tokens=MAX_TEXT_TOKENS):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens

    @torch.no_grad()
    def encode_ids(self, input_ids, attention_mask):
        """[negative; prompt] token ids -> (cond [1, Lt, D], uncond [1, Lt, D]).

        The official pipeline keeps the padding positions (the DiT attends to them, quirk P1) and cuts to
        77 tokens only after encoding (quirk P2).
        """
        device = next(self.model.parameters()).device
        out = self.model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device))
        hidden = out.last_hidden_state.float()[:, : self.max_tokens]
        return hidden[1:2], hidden[0:1]

    def encode(self, prompt, negative_prompt=DEFAULT_NEGATIVE_PROMPT):
        """Both prompts are tokenised together with shared padding, as the official features depend on it."""
        if self.tokenizer is None:
            raise RuntimeError("this CLAP encoder was built without a tokenizer")
        prompts = [negative_prompt, prompt]
        limit = self.max_positions()
        lengths = [len(ids) for ids in self.tokenizer(prompts)["input_ids"]]
        for which, text, n in zip(("negative prompt", "prompt"), prompts, lengths):
            if n > limit:
                log.warning("HunyuanVideo-Foley: the %s has %d tokens, CLAP reads at most %d: it is cut to its first "
                            "%d tokens, as CLAP's tokenizer truncates (the model only ever sees the first %d): %r",
                            which, n, limit, limit, self.max_tokens, text[:80] + "...")
        tokens = self.tokenizer(prompts, padding=True, truncation=True, max_length=limit, return_tensors="pt")
        return self.encode_ids(tokens["input_ids"], tokens["attention_mask"])

    def max_positions(self):
        """Tokens the text tower has positions for: RoBERTa-style positions start after the padding index."""
        config = self.model.config
        return min(config.max_position_embeddings - config.pad_token_id - 1, self.tokenizer.model_max_length)


def _tokenizer(folder):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, TypeError) as e:
        raise FileNotFoundError(f"CLAP folder {folder} has no usable tokenizer files (vocab.json + merges.txt "
                                f"or tokenizer.json) from {CLAP_HUB_ID}: {e}") from e


# either file set makes the tokenizer; without both, transformers builds an empty one from tokenizer_config.json
# alone, which turns every prompt into the same two tokens
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))


def require_clap_folder(folder, scoring=False):
    """The folder, or FileNotFoundError naming what is missing; reads no weights (queue-time checks use it).
    scoring: the CLAP score also needs the audio tower's preprocessor_config.json."""
    needed = ("config.json", "preprocessor_config.json") if scoring else ("config.json",)
    folder = require_folder(folder, "CLAP", CLAP_HUB_ID, needed=needed)
    if not any(all(os.path.isfile(os.path.join(folder, name)) for name in names) for names in TOKENIZER_FILES):
        raise FileNotFoundError(f"CLAP folder {folder} has no tokenizer files (tokenizer.json, or vocab.json and "
                                f"merges.txt): without them every prompt would read the same. Download them from "
                                f"the Hugging Face repository {CLAP_HUB_ID}.")
    return folder


def load_clap(folder, device="cpu", dtype=torch.float32):
    """The CLAP text tower and tokenizer from a local copy of laion/larger_clap_general."""
    from transformers import ClapTextModelWithProjection

    folder = require_clap_folder(folder)
    with quiet_transformers():
        tokenizer = _tokenizer(folder)
        model = ClapTextModelWithProjection.from_pretrained(folder, local_files_only=True)
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return ClapTextEncoder(model, tokenizer)


def _mono_clip(waveform):
    wave = mono_mix(waveform)
    if wave.shape[0] == 0:
        raise ValueError("the audio has 0 samples")
    return wave


class ClapScorer(torch.nn.Module):
    """CLAP score: cosine similarity of CLAP's projected text embedding of a prompt and its projected audio
    embedding of a clip (laion/larger_clap_general through transformers' ClapModel).

    Audio is mixed to mono and resampled to the feature extractor's rate (48 kHz) with the windowed-sinc
    resampler of the sync score. Clips up to the extractor's 10 s are embedded as the extractor prepares
    them (repeat-padding). Longer clips would be randomly cropped by the extractor; instead they are cut
    into the fewest 10 s pieces, evenly spaced from start to end, and the normalised piece embeddings are
    averaged (and normalised again), so the score is deterministic and covers the whole clip.
    """

    def __init__(self, model, tokenizer, feature_extractor):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.feature_extractor = feature_extractor
        self.sample_rate = int(feature_extractor.sampling_rate)
        self.max_samples = int(feature_extractor.nb_max_samples)
        fusion = getattr(model.config.audio_config, "enable_fusion", False)
        self.truncation = "fusion" if fusion else "rand_trunc"  # never truncates: pieces are <= max_samples

    def _param_device(self):
        # not a `device` attribute: ComfyUI's ModelPatcher sets model.device itself
        return next(self.model.parameters()).device

    @staticmethod
    def _features(output):
        # transformers 4.x returns the projected embedding, 5.x an output object whose pooler_output holds it
        return output if isinstance(output, torch.Tensor) else output.pooler_output

    @torch.no_grad()
    def text_embeddings(self, prompts):
        """list of prompts -> L2-normalised [B, P] float32 (CPU)."""
        tokens = self.tokenizer(list(prompts), padding=True, truncation=True, return_tensors="pt")
        device = self._param_device()
        out = self.model.get_text_features(input_ids=tokens["input_ids"].to(device),
                                           attention_mask=tokens["attention_mask"].to(device))
        return torch.nn.functional.normalize(self._features(out).float(), dim=-1).cpu()

    def _pieces(self, wave):
        length, size = wave.shape[0], self.max_samples
        if length <= size:
            return [wave]
        count = -(-length // size)
        starts = torch.linspace(0, length - size, count).round().long().tolist()
        return [wave[s:s + size] for s in starts]

    @torch.no_grad()
    def audio_embeddings(self, waveforms, sample_rate):
        """list of waveforms ([N] or [channels, N], float) at `sample_rate` -> L2-normalised [B, P] float32 (CPU)."""
        from .dsp import require_finite_audio, resample_sinc

        pieces, owner = [], []
        for i, waveform in enumerate(waveforms):
            wave = resample_sinc(require_finite_audio(_mono_clip(waveform), f"CLAP score of candidate {i}"),
                                 int(sample_rate), self.sample_rate)
            for piece in self._pieces(wave):
                pieces.append(piece.numpy())
                owner.append(i)
        inputs = self.feature_extractor(pieces, sampling_rate=self.sample_rate, truncation=self.truncation,
                                        return_tensors="pt")
        device = self._param_device()
        out = self.model.get_audio_features(input_features=inputs["input_features"].to(device, self.model.dtype),
                                            is_longer=inputs["is_longer"].to(device))
        embeds = torch.nn.functional.normalize(self._features(out).float(), dim=-1).cpu()
        owner = torch.tensor(owner)
        clips = torch.stack([embeds[owner == i].mean(0) for i in range(len(waveforms))])
        return torch.nn.functional.normalize(clips, dim=-1)

    def scores(self, prompts, waveforms, sample_rate):
        """Per-pair CLAP scores [B] (float32) of prompts[i] and waveforms[i]."""
        prompts, waveforms = list(prompts), list(waveforms)
        if len(prompts) != len(waveforms):
            raise ValueError(f"{len(prompts)} prompts for {len(waveforms)} waveforms")
        return (self.text_embeddings(prompts) * self.audio_embeddings(waveforms, sample_rate)).sum(-1)

    def score(self, prompt, waveform, sample_rate):
        """Cosine similarity (in [-1, 1]) of the prompt's and the audio's CLAP embeddings."""
        return float(self.scores([prompt], [waveform], sample_rate)[0])


def load_clap_scorer(folder, device="cpu", dtype=torch.float32):
    """Both CLAP towers, the tokenizer and the 48 kHz audio feature extractor from a local copy of
    laion/larger_clap_general (needs preprocessor_config.json besides the text-only files)."""
    from transformers import ClapFeatureExtractor, ClapModel

    folder = require_clap_folder(folder, scoring=True)
    with quiet_transformers():
        tokenizer = _tokenizer(folder)
        feature_extractor = ClapFeatureExtractor.from_pretrained(folder, local_files_only=True)
        model = ClapModel.from_pretrained(folder, local_files_only=True)
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return ClapScorer(model, tokenizer, feature_extractor)
