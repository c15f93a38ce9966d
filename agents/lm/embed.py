"""Vectors for situations: a small deterministic embedding of a text view (no model, no download).

`text_vectors` hashes features of each text view into `DIM` signed buckets (crc32, so the same
text gives the same vector in every process and on every machine) and scales each to unit
length. Features, each line weighing the same:

* a map row: one feature per cell, (row of the view, column, character): the view's layout;
* any other line: its first word and its word pairs, after dropping the clock ("; step 12 of
  200"), which would make every step of an episode look new.

Two views that show the same cells around the agent, the same goal direction and the same
legal actions are the same vector; the more of that they share, the nearer (cosine). The
vectors do not depend on the model, so seats with different models can share a store.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

DIM = 256
NAME = f"text-hash-{DIM}"
_CLOCK = re.compile(r";? step \d+ of \d+")
_WORD = re.compile(r"[A-Za-z_]+|\d+")


def _is_map_row(line: str) -> bool:
    """A row of the view: no word of two letters or more (prose always has some)."""
    return not re.search(r"[A-Za-z]{2}", line)


def features(text: str) -> list[list[str]]:
    """Each line's features."""
    out, row = [], 0
    for line in text.split("\n"):
        if _is_map_row(line):
            if line:
                out.append([f"m{row}:{col}:{ch}" for col, ch in enumerate(line)])
            row += 1
            continue
        words = _WORD.findall(_CLOCK.sub("", line))
        if words:
            out.append([f"w{words[0]}", *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))])
    return out


def text_vectors(texts: Sequence[str], dim: int = DIM) -> np.ndarray:
    """float32[n, dim], each row of unit length (zero for an empty text)."""
    out = np.zeros((len(texts), dim), np.float32)
    for r, text in enumerate(texts):
        for line in features(text):
            weight = 1.0 / len(line)
            for feature in line:
                h = zlib.crc32(feature.encode())
                out[r, h % dim] += weight if (h >> 16) & 1 else -weight
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norm > 0, norm, 1.0)
