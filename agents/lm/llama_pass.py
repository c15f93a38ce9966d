"""The inference pass of a Llama over the prompt bodies, on top of the cached prefixes.

`Scorer.score` needs, per row, only the next-token distribution at its last prompt token (and,
for multi-token actions, every layer's keys and values). Hugging Face's forward computes every
position of every layer; here, for a `LlamaForCausalLM` without gradients:

* the last layer computes keys and values for every token, but its query, attention output and
  MLP only at each row's last token (nearly half the arithmetic of the default model's 2 layers);
* bodies are right-padded, so with prefixes of one length (the usual case) every row has the
  same positions and one causal mask ([1, 1, L, P + L]), built once per call as an additive
  float mask instead of a boolean one converted in every layer;
* the rotary embedding works on the projections' own layout, and rows go through the layers in
  passes of about `_CHUNK_TOKENS` tokens, whose activations stay in cache.

The modules' own weights and functions (norms, projections, rotary embedding, MLP) are called,
so the result equals the generic path's to float rounding (tests check both against the naive
scores to 2e-5). Training (gradients on) keeps the model's own forward, bit for bit as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import DynamicCache, LlamaForCausalLM
from transformers.models.llama.modeling_llama import repeat_kv

_CHUNK_TOKENS = 4096  # tokens per layer pass: at batch 256, about a quarter faster than one pass


@dataclass
class BodyPass:
    logits: torch.Tensor  # float[n, vocab] at each row's last prompt token
    hidden: torch.Tensor | None  # float[n, d]: final (normed) hidden state there
    past: DynamicCache | None  # every layer's keys/values [n, kv heads, P + L, d_head], if asked
    mask: torch.Tensor  # long[n, P + L]: 1 on the real tokens of the cache
    last: torch.Tensor  # long[n]: position id of each row's last prompt token


def fits(model) -> bool:
    """Whether this pass applies: a Llama, run without gradients."""
    return isinstance(model, LlamaForCausalLM) and not torch.is_grad_enabled()


def run_bodies(model, prefix, prefix_len, ids, length, keep_cache: bool) -> BodyPass:
    """`prefix`: per layer (keys, values) [n, kv heads, P, d_head] of each row's prefix, left-padded
    to P; `prefix_len` long[n] its real length; `ids` long[n, L] the bodies, right-padded, and
    `length` long[n] their lengths."""
    core, device = model.model, ids.device
    (n, span), width = ids.shape, prefix[0][0].shape[2]
    end = length - 1  # each row's last body slot
    one_start = bool((prefix_len == prefix_len[0]).all())
    start = prefix_len[:1] if one_start else prefix_len  # position of the first body token
    x = core.embed_tokens(ids)
    rope = _rope_tables(*core.rotary_emb(x, start[:, None] + torch.arange(span, device=device)))
    real_prefix = torch.arange(width, device=device) >= (width - prefix_len)[:, None]  # [n, P]
    body_mask, last_mask = _masks(real_prefix, one_start, end, span, x.dtype)
    step = -(-n // max(1, round(n * span / _CHUNK_TOKENS)))  # rows per pass, in passes of equal size
    parts = [
        _layers(
            core,
            x[a : a + step],
            [(k[a : a + step], v[a : a + step]) for k, v in prefix],
            [_part(t, a, step) for t in rope],
            _part(body_mask, a, step),
            last_mask[a : a + step],
            end[a : a + step],
        )
        for a in range(0, n, step)
    ]
    hidden = _join([h for h, _ in parts])
    past = None
    if keep_cache:
        layers = zip(*(kv for _, kv in parts), strict=True)  # per layer, each part's (keys, values)
        past = DynamicCache(ddp_cache_data=[tuple(map(_join, zip(*pairs, strict=True))) for pairs in layers])
    real = torch.cat([real_prefix, torch.arange(span, device=device) <= end[:, None]], 1)
    return BodyPass(model.lm_head(hidden), hidden, past, real.long(), prefix_len + end)


def _layers(core, x, prefix, rope, body_mask, last_mask, end):
    """Every layer over some rows, x [n, L, d] -> (final hidden state at each row's last token
    [n, d], per layer (keys, values) [n, kv heads, P + L, d_head])."""
    rows = torch.arange(len(x), device=x.device)
    kv = []
    for i, layer in enumerate(core.layers):
        attn = layer.self_attn
        h = layer.input_layernorm(x)
        k = _rotate(_heads(attn.k_proj(h), attn.head_dim), *rope)
        v = _heads(attn.v_proj(h), attn.head_dim)
        if i < len(core.layers) - 1:
            rope_q, mask = rope, body_mask
        else:  # the last layer: queries, attention and MLP at each row's last token only
            x, h = x[rows, end][:, None], h[rows, end][:, None]
            rope_q, mask = [t[rows if len(t) > 1 else 0, end][:, None] for t in rope], last_mask
        q = _rotate(_heads(attn.q_proj(h), attn.head_dim), *rope_q).transpose(1, 2)
        k = torch.cat([prefix[i][0], k.transpose(1, 2)], 2)
        v = torch.cat([prefix[i][1], v.transpose(1, 2)], 2)
        kv.append((k, v))
        groups = attn.num_key_value_groups
        out = F.scaled_dot_product_attention(
            q, repeat_kv(k, groups), repeat_kv(v, groups), attn_mask=mask, scale=attn.scaling
        )
        x = x + attn.o_proj(out.transpose(1, 2).flatten(2))
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    return core.norm(x[:, 0]), kv


def _heads(x: torch.Tensor, head_dim: int) -> torch.Tensor:
    """[n, L, heads * d] -> [n, L, heads, d] (a view)."""
    return x.view(*x.shape[:2], -1, head_dim)


def _rope_tables(cos: torch.Tensor, sin: torch.Tensor) -> list[torch.Tensor]:
    """cos and sign-folded sin [n|1, L, 1, d] for `_rotate`: rotate_half(x) * sin equals
    roll(x, d/2) * sin with its first half negated."""
    half = sin.shape[-1] // 2
    return [cos[:, :, None], torch.cat([-sin[..., :half], sin[..., half:]], -1)[:, :, None]]


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding (as `apply_rotary_pos_emb`) of x [n, L, heads, d], in its
    contiguous layout: three passes over x instead of five on a transposed view."""
    return torch.addcmul(x * cos, x.roll(x.shape[-1] // 2, -1), sin)


def _part(t: torch.Tensor, a: int, step: int) -> torch.Tensor:
    """Rows a..a+step of a per-row tensor; a tensor shared by all rows (leading 1) as it is."""
    return t if len(t) == 1 else t[a : a + step]


def _join(parts: list[torch.Tensor]) -> torch.Tensor:
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _masks(real_prefix, one_start: bool, end, span: int, dtype):
    """Additive attention masks over [prefix, body]: the bodies' (causal, prefix pads hidden;
    [1, 1, L, P + L] when no prefix is padded) and the last tokens' ([n, 1, 1, P + L])."""
    width = real_prefix.shape[1]
    causal = torch.ones(span, span, dtype=torch.bool, device=end.device).tril()
    if one_start:
        seen = torch.cat([causal.new_ones(span, width), causal], 1)[None, None]
    else:
        n = len(end)
        seen = torch.cat([real_prefix[:, None].expand(n, span, width), causal.expand(n, span, span)], 2)
        seen = seen[:, None]
    last = torch.cat([real_prefix, torch.arange(span, device=end.device) <= end[:, None]], 1)
    return _additive(seen, dtype), _additive(last[:, None, None], dtype)


def _additive(seen: torch.Tensor, dtype) -> torch.Tensor:
    return torch.zeros(seen.shape, dtype=dtype, device=seen.device).masked_fill_(~seen, float("-inf"))
