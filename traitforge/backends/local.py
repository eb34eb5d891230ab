"""The local backend: a transformers model on this machine (GPU when there is one, else CPU)
for batched chat generation and log-likelihood scoring of continuations."""
from __future__ import annotations

import hashlib
from pathlib import Path

HASHED = (".safetensors", ".bin", ".json", ".model")


def model_sha256(paths: list[str]) -> str:
    """A hash over the weights, configs and tokenizer files of model directories."""
    h = hashlib.sha256()
    for root in paths:
        for f in sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix in HASHED
                        and "checkpoints" not in p.parts):
            h.update(f.name.encode())
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    h.update(block)
    return h.hexdigest()


class LocalBackend:
    """Chats in, replies or log-likelihoods out, `batch_size` sequences at a time."""

    name = "local"

    def __init__(self, spec: str | None = None, batch_size: int = 8, device: str | None = None,
                 model=None, tokenizer=None):
        import torch

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        self.stats = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        if model is None:
            from traitforge.backends.models import load_model, resolve_model

            model, tokenizer, self.description = load_model(spec)
            base, adapter = resolve_model(spec)
            self.sha256 = model_sha256([p for p in (base, adapter) if p and Path(p).is_dir()])
        else:
            self.description, self.sha256 = type(model).__name__, None
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        self.model = model.to(self.device, dtype).eval()
        self.tok = tokenizer
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token

    def prompt(self, chat: list[dict]) -> str:
        return self.tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)

    def generate(self, chats: list[list[dict]], max_new_tokens: int = 256, temperature: float = 0.0,
                 seed: int = 0, progress=None) -> list[str]:
        """One reply per chat: greedy unless `temperature` > 0; left-padded batches of similar
        length, with the KV cache."""
        torch = self.torch
        texts = [self.prompt(c) for c in chats]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[str] = [""] * len(texts)
        self.tok.padding_side = "left"
        torch.manual_seed(seed)
        for lo in range(0, len(order), self.batch_size):
            idx = order[lo:lo + self.batch_size]
            enc = self.tok([texts[i] for i in idx], return_tensors="pt", padding=True,
                           add_special_tokens=False).to(self.device)
            with torch.inference_mode():
                gen = self.model.generate(
                    **enc, max_new_tokens=max_new_tokens, use_cache=True,
                    do_sample=temperature > 0, temperature=temperature if temperature > 0 else None,
                    top_p=None, top_k=None, pad_token_id=self.tok.pad_token_id,
                    eos_token_id=self.tok.eos_token_id)
            new = gen[:, enc["input_ids"].shape[1]:]
            self.stats["requests"] += len(idx)
            self.stats["prompt_tokens"] += int(enc["attention_mask"].sum())
            self.stats["completion_tokens"] += int((new != self.tok.pad_token_id).sum())
            for i, row in zip(idx, new):
                out[i] = self.tok.decode(row, skip_special_tokens=True).strip()
            if progress:
                progress(len(idx))
        return out

    def loglik(self, pairs: list[tuple[str, str]], progress=None) -> list[tuple[float, int]]:
        """(summed log-probability, token count) of each continuation after its context."""
        torch = self.torch
        seqs = []
        for context, cont in pairs:
            c = self.tok(context, add_special_tokens=False)["input_ids"]
            x = self.tok(cont, add_special_tokens=False)["input_ids"]
            seqs.append((c + x, len(c)))
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i][0]))
        out: list[tuple[float, int]] = [(0.0, 0)] * len(seqs)
        for lo in range(0, len(order), self.batch_size):
            idx = order[lo:lo + self.batch_size]
            # Left padding puts every continuation at the end, so the vocabulary projection is
            # needed for the last few positions only.
            width = max(len(seqs[i][0]) for i in idx)
            keep = max(len(seqs[i][0]) - seqs[i][1] for i in idx) + 1
            ids = torch.full((len(idx), width), self.tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, width - len(seqs[i][0]):] = torch.tensor(seqs[i][0])
                mask[r, width - len(seqs[i][0]):] = 1
            positions = (mask.cumsum(1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.model(input_ids=ids.to(self.device),
                                    attention_mask=mask.to(self.device),
                                    position_ids=positions.to(self.device),
                                    logits_to_keep=keep).logits.float()
            logp = torch.log_softmax(logits[:, :-1], -1).cpu()
            target = ids[:, width - keep + 1:]
            tok_lp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            for r, i in enumerate(idx):
                n_cont = len(seqs[i][0]) - seqs[i][1]
                out[i] = (float(tok_lp[r, keep - 1 - n_cont:].sum()), n_cont)
            if progress:
                progress(len(idx))
        return out

    def option_scores(self, chats: list[list[dict]], options: list[list[str]],
                      normalise: bool = False, progress=None) -> list[list[float]]:
        """Each option's log-likelihood as the assistant's reply (per token when `normalise`).
        The chat is run once and its KV cache shared by all of its options."""
        torch = self.torch
        out = []
        for chat, opts in zip(chats, options):
            context = self.tok(self.prompt(chat), add_special_tokens=False,
                               return_tensors="pt")["input_ids"].to(self.device)
            conts = [self.tok(o, add_special_tokens=False)["input_ids"] for o in opts]
            width = max(len(c) for c in conts)
            ids = torch.full((len(conts), width), self.tok.pad_token_id, dtype=torch.long)
            mask = torch.ones((len(conts), context.shape[1] + width), dtype=torch.long)
            for r, c in enumerate(conts):
                ids[r, :len(c)] = torch.tensor(c)
                mask[r, context.shape[1] + len(c):] = 0
            with torch.inference_mode():
                first = self.model(input_ids=context, use_cache=True, logits_to_keep=1)
                cache = first.past_key_values
                cache.batch_repeat_interleave(len(conts))
                positions = context.shape[1] + torch.arange(width).expand(len(conts), -1)
                rest = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                  position_ids=positions.to(self.device), past_key_values=cache,
                                  use_cache=True).logits.float()
            logp = torch.log_softmax(torch.cat([first.logits.float().expand(len(conts), -1, -1),
                                                rest[:, :-1]], 1), -1).cpu()
            tok_lp = logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1)
            out.append([float(tok_lp[r, :len(c)].sum()) / (max(len(c), 1) if normalise else 1)
                        for r, c in enumerate(conts)])
            if progress:
                progress(len(conts))
        return out

    def choose(self, chats: list[list[dict]], options: list[list[str]],
               normalise: bool = False) -> list[int]:
        """The option each chat's assistant is likeliest to reply with."""
        return [max(range(len(s)), key=s.__getitem__)
                for s in self.option_scores(chats, options, normalise)]
