"""Scoring every action string's log-likelihood after a prompt, batched, with key/value caches.

For a batch of prompts (one per row) and the scenario's action strings (candidates), the score of
action a in row r is log p(candidate_a | prompt_r) summed over the candidate's tokens, or divided
by its token count (`normalize="token"`) or word count (`"word"`). Every action is scored in every
row; the policy masks the illegal ones afterwards.

The fast path (`Scorer.score`):
  1. each distinct prompt prefix is encoded once and its key/value cache kept (at inference, across
     calls, until the weights change; when training, once per call, with gradients);
  2. the rows' prefix caches are stacked, left-padded to the longest prefix, and all bodies run in
     one forward on top of them, left-padded so every row's last prompt token is the last
     position: the attention mask hides the pads wherever they fall, and position ids count real
     tokens only, so each row sees exactly its own unpadded sequence;
  3. the first candidate token is read off that last position; longer candidates reuse the
     prompt's cache, repeated once per candidate, in one more forward.
At inference a Llama (the default model, SmolLM2) runs step 2 in `agents.lm.llama_pass`
instead: right-padded, its last layer only where it is read (about twice as fast here).
`Scorer.score_naive` is the reference: one unpadded forward per (row, candidate), no cache.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import DynamicCache

from agents.lm import llama_pass
from agents.lm.llama_pass import BodyPass
from agents.lm.prompt import Prompt, candidate

NORMALIZE = ("sum", "token", "word")
_CACHE_LIMIT = 256  # distinct prefixes kept at inference
_LINE_LIMIT = 200_000  # distinct lines kept by the line-by-line encoder


@dataclass
class Scores:
    scores: torch.Tensor  # float[n, A]: normalized log-likelihood of each action's string
    hidden: torch.Tensor | None  # float[n, d]: final hidden state at each row's last prompt token


@functools.cache
def _cache_arg(forward_type: type) -> str:
    import inspect

    return "cache" if "cache" in inspect.signature(forward_type.forward).parameters else "past_key_values"


def cache_arg(model) -> str:
    """The name a model's forward takes its KV cache by: transformers 5 renamed
    `past_key_values` to `cache` (the old name still works there, but logs a deprecation on
    every run); older versions and other models know only the old name."""
    return _cache_arg(type(model))


def cache_of(out):
    """The KV cache a forward returned, by either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


class Scorer:
    """Scores the action strings `actions` after prompts, with `model` and `tokenizer`."""

    def __init__(self, model, tokenizer, actions: Sequence[str], normalize: str = "sum"):
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be one of {', '.join(NORMALIZE)}, got {normalize!r}")
        self.model, self.tokenizer, self.normalize = model, tokenizer, normalize
        self.actions = tuple(actions)
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
        self._lines: dict[str, list[int]] | None = {} if _line_by_line(tokenizer) else None
        self.candidates = [self.encode([candidate(a)])[0] for a in self.actions]
        for action, ids in zip(self.actions, self.candidates, strict=True):
            if not ids or tokenizer.unk_token_id in ids:
                raise ValueError(f"the tokenizer cannot spell the action {action!r}: got ids {ids}")
        lengths = [len(ids) for ids in self.candidates]
        self.cand_len = torch.tensor(lengths)
        self.cand_words = torch.tensor([len(a.split()) for a in self.actions])
        width = max(lengths)
        self.cand_ids = torch.tensor([ids + [self.pad] * (width - len(ids)) for ids in self.candidates])
        self._prefix_kv: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        if self.device.type == "cpu":
            keep_freed_memory()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def clear_cache(self) -> None:
        """Forget cached prefixes (call after the weights change)."""
        self._prefix_kv.clear()

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (no special tokens). With a tokenizer whose tokens never
        cross a line break (the word-level one), lines are encoded once and remembered: from
        step to step most lines of a prompt (map rows, legal actions) repeat."""
        if self._lines is None:
            return _encode(self.tokenizer, texts)
        cache = self._lines
        split = [["\n" + line if k else line for k, line in enumerate(t.split("\n"))] for t in texts]
        missing = list({line for lines in split for line in lines if line not in cache})
        if missing:
            if len(cache) + len(missing) > _LINE_LIMIT:
                cache.clear()
            cache.update(zip(missing, _encode(self.tokenizer, missing), strict=True))
        return [[i for line in lines for i in cache[line]] for lines in split]

    # -- the fast path ----------------------------------------------------------------------
    def score(self, prompts: Sequence[Prompt], hidden: bool = False, cache: bool = True) -> Scores:
        """Scores of every action in every row. Gradients flow when grad mode is on; the prefix
        cache is then rebuilt for this call (`cache` is ignored)."""
        n, device = len(prompts), self.device
        if n == 0:
            raise ValueError("no prompts to score")
        keep = cache and not torch.is_grad_enabled()
        unique = list(dict.fromkeys(p.prefix for p in prompts))
        row_u = torch.tensor([unique.index(p.prefix) for p in prompts], device=device)
        layers, prefix_len = self._prefixes(unique, keep)
        prefix = [(_rows(k, row_u, n), _rows(v, row_u, n)) for k, v in layers]
        prefix_len, bodies = prefix_len[row_u], self.encode([p.body for p in prompts])
        long_candidates = self.cand_ids.shape[1] > 1
        if llama_pass.fits(self.model):
            ids, length = _padded(bodies, self.pad, left=False, device=device)
            out = llama_pass.run_bodies(self.model, prefix, prefix_len, ids, length, long_candidates)
        else:
            out = self._run_bodies(prefix, prefix_len, bodies, long_candidates, hidden)
        logp = torch.log_softmax(out.logits.float(), -1)
        cand = self.cand_ids.to(device)
        total = logp[:, cand[:, 0]]  # [n, A]
        if long_candidates:
            total = total + self._rest(out.past, out.mask, out.last, cand)
        return Scores(self._normalize(total), out.hidden if hidden else None)

    def _run_bodies(self, prefix, prefix_len, bodies, keep_cache: bool, hidden: bool) -> BodyPass:
        """The model's own forward over the bodies, left-padded so every row's last prompt token
        is the last position, on top of the rows' prefix caches (any causal LM; gradients)."""
        width, device = prefix[0][0].shape[2], prefix_len.device
        past = DynamicCache(ddp_cache_data=prefix)
        prefix_mask = torch.arange(width, device=device) >= (width - prefix_len)[:, None]
        ids, body_len = _padded(bodies, self.pad, left=True, device=device)
        span = ids.shape[1]
        body_mask = torch.arange(span, device=device) >= (span - body_len)[:, None]
        first = prefix_len - (span - body_len)  # position of a row's first body slot
        positions = (first[:, None] + torch.arange(span, device=device)).clamp(min=0)
        mask = torch.cat([prefix_mask, body_mask], 1).long()
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            **{cache_arg(self.model): past},
            use_cache=keep_cache,
            output_hidden_states=hidden,
            logits_to_keep=1,
        )
        last_hidden = out.hidden_states[-1][:, -1] if hidden else None
        return BodyPass(out.logits[:, -1], last_hidden, cache_of(out), mask, positions[:, -1])

    def _prefixes(self, unique: list[str], keep: bool):
        """Per layer (keys, values) [U, heads, P, head_dim] of the distinct prefixes, left-padded
        to the longest, and each prefix's length int[U]."""
        states = []
        for text in unique:
            kv = self._prefix_kv.get(text) if keep else None
            if kv is None:
                ids = torch.tensor([self.bos + self.encode([text])[0]], device=self.device)
                out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
                kv = [(layer.keys, layer.values) for layer in cache_of(out).layers]
                if keep:
                    if len(self._prefix_kv) >= _CACHE_LIMIT:
                        self._prefix_kv.clear()
                    self._prefix_kv[text] = kv
            states.append(kv)
        lengths = torch.tensor([kv[0][0].shape[2] for kv in states], device=self.device)
        width = int(lengths.max())
        layers = []
        for i in range(len(states[0])):
            keys = torch.cat([_left_pad(kv[i][0], width) for kv in states])
            values = torch.cat([_left_pad(kv[i][1], width) for kv in states])
            layers.append((keys, values))
        return layers, lengths

    def _rest(self, past, mask, last, cand):
        """Log-probs of the candidates' tokens after the first, float[n, A], in one forward over
        the prompt cache repeated once per candidate."""
        n, A, width = len(mask), len(self.actions), cand.shape[1]
        past.batch_repeat_interleave(A)
        inputs = cand[:, :-1].repeat(n, 1)  # [n*A, width-1], row-major: row r, candidate a
        length = self.cand_len.to(mask.device)
        step = torch.arange(width - 1, device=mask.device)
        cand_mask = (step < (length - 1)[:, None]).repeat(n, 1)
        out = self.model(
            input_ids=inputs,
            attention_mask=torch.cat([mask.repeat_interleave(A, 0), cand_mask.long()], 1),
            position_ids=(last.repeat_interleave(A)[:, None] + 1 + step),
            **{cache_arg(self.model): past},
            use_cache=False,
        )
        logp = torch.log_softmax(out.logits.float(), -1)
        picked = logp.gather(-1, cand[:, 1:].repeat(n, 1)[..., None])[..., 0]
        return (picked * cand_mask).sum(-1).view(n, A)

    def _normalize(self, total: torch.Tensor) -> torch.Tensor:
        if self.normalize == "token":
            return total / self.cand_len.to(total.device)
        if self.normalize == "word":
            return total / self.cand_words.to(total.device)
        return total

    # -- the reference path -----------------------------------------------------------------
    @torch.no_grad()
    def score_naive(self, prompts: Sequence[Prompt]) -> torch.Tensor:
        """The same scores, one unpadded forward per (row, candidate), without any cache (of
        keys and values or of encoded lines)."""
        out = torch.zeros(len(prompts), len(self.actions))
        for r, prompt in enumerate(prompts):
            prefix, body = _encode(self.tokenizer, [prompt.prefix, prompt.body])  # whole texts
            context = self.bos + prefix + body
            for a, cand in enumerate(self.candidates):
                ids = torch.tensor([context + cand], device=self.device)
                logp = torch.log_softmax(self.model(input_ids=ids).logits[0].float(), -1)
                at = torch.arange(len(context) - 1, len(context) + len(cand) - 1)
                out[r, a] = logp[at, torch.tensor(cand)].sum()
        return self._normalize(out)


@functools.cache
def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for reuse, once per process (Linux only; whether it did).

    By default glibc maps every block over its threshold (128 KB, raised to the largest block
    freed so far) afresh and returns the top of its heap to the system past twice that, so the
    few MB of short-lived activations of each forward are page-faulted anew on every call (a
    fifth of the time of a batch of 64 rows with the default model). Blocks up to 32 MB then
    come from the heap, which keeps up to 64 MB free (as GLIBC_TUNABLES=glibc.malloc.mmap_threshold
    =33554432:glibc.malloc.trim_threshold=67108864 would)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(_M_MMAP_THRESHOLD, 32 << 20) == 1 and mallopt(_M_TRIM_THRESHOLD, 64 << 20) == 1


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_PROBE = "You are x_1 (a b) at row 1, column 20; step 3.\n  #.G\n#P@d \n     \nLegal actions: noop."


def _encode(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return [e.ids for e in backend.encode_batch(list(texts), add_special_tokens=False)]
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def _line_by_line(tokenizer) -> bool:
    """Whether the tokenizer is word-level with line breaks as tokens of their own, so a text's
    ids are its lines' ids (each line after the first encoded with its leading line break);
    checked on a probe with map rows and prose."""
    from tokenizers import models

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not isinstance(backend.model, models.WordLevel):
        return False
    lines = [("\n" + line if k else line) for k, line in enumerate(_PROBE.split("\n"))]
    whole = _encode(tokenizer, [_PROBE])[0]
    return whole == [i for ids in _encode(tokenizer, lines) for i in ids]


def _padded(rows: list[list[int]], pad: int, left: bool, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows as long[n, longest] padded with `pad` on the left or the right, and their lengths."""
    length = np.array([len(row) for row in rows])
    span = np.arange(length.max())
    real = span >= length.max() - length[:, None] if left else span < length[:, None]
    ids = np.full(real.shape, pad, dtype=np.int64)
    ids[real] = np.fromiter(itertools.chain.from_iterable(rows), np.int64, int(length.sum()))
    return torch.from_numpy(ids).to(device), torch.from_numpy(length).to(device)


def _left_pad(x: torch.Tensor, width: int) -> torch.Tensor:
    """[1, heads, L, d] -> [1, heads, width, d] with zeros in front."""
    if x.shape[2] == width:
        return x
    return torch.cat([x.new_zeros(*x.shape[:2], width - x.shape[2], x.shape[3]), x], 2)


def _rows(x: torch.Tensor, row_u: torch.Tensor, n: int) -> torch.Tensor:
    """Each row's prefix state: [U, ...] -> [n, ...]."""
    if x.shape[0] == 1:
        return x.expand(n, *x.shape[1:])
    return x[row_u]
