"""CLAP text tower (laion/larger_clap_general) through transformers: per-token text features."""
import torch

from .hf_folder import quiet_transformers, require_folder

CLAP_HUB_ID = "laion/larger_clap_general"
DEFAULT_NEGATIVE_PROMPT = "noisy, harsh"
MAX_TEXT_TOKENS = 77


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
        tokens = self.tokenizer([negative_prompt, prompt], padding=True, return_tensors="pt")
        return self.encode_ids(tokens["input_ids"], tokens["attention_mask"])


def load_clap(folder, device="cpu", dtype=torch.float32):
    """The CLAP text tower and tokenizer from a local copy of laion/larger_clap_general."""
    from transformers import AutoTokenizer, ClapTextModelWithProjection

    folder = require_folder(folder, "CLAP", CLAP_HUB_ID)
    with quiet_transformers():
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError, TypeError) as e:
            raise FileNotFoundError(f"CLAP folder {folder} has no usable tokenizer files (vocab.json + merges.txt "
                                    f"or tokenizer.json) from {CLAP_HUB_ID}: {e}") from e
        model = ClapTextModelWithProjection.from_pretrained(folder, local_files_only=True)
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return ClapTextEncoder(model, tokenizer)
