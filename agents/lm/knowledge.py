"""A knowledge base for LM seats: an episodic memory of what worked, searched by similarity.

Entries are of two kinds. A *step* is one decision of an episode that succeeded: the situation
(the agent's text view), the action taken and the episode's outcome (its return and length). A
*lesson* is one line about a whole episode, success or failure, written when it ends
(Reflexion-style): for a model that only scores actions it is a templated summary of the
outcome (`lesson_text`); a seat with a generating model can pass its own text. Every entry has
a vector (`agents.lm.embed`), and `search` returns the k most similar entries, most similar
first.

The vectors are searched with usearch (HNSW, cosine distance), rebuilt in memory from the
store file whenever it is opened: the file itself is plain safetensors (float32 vectors) plus
JSON in its header (format, version, embedding, entries), so opening a stranger's store never
runs its code and never hands an untrusted binary index to a C++ parser; a damaged or hostile
file fails with one line naming it (`BadFileError`). Writes are atomic
(`agents.files.write_atomic`) and merge under a lock (`<store>.lock`): `save` rereads entries
other processes added since and keeps them, so the seats of a team can share one store path,
in one process (`KnowledgeBase.shared`) or several.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from agents.files import read_safetensors, write_atomic
from worlds.errors import BadFileError

FORMAT = "grid-arena-knowledge"
VERSION = 1
KINDS = ("step", "lesson")
MAX_ENTRIES = 20_000  # the oldest entries go first beyond this
_OPEN: dict[Path, KnowledgeBase] = {}


@dataclass(frozen=True)
class Entry:
    kind: str  # "step" | "lesson"
    scenario: str
    text: str  # the situation (a text view) or the lesson
    action: str  # the action taken ("" for a lesson)
    success: bool  # the episode's outcome
    outcome: float  # the episode's return (the agent's)
    steps: int  # the episode's length


def lesson_text(scenario: str, success: bool, steps: int, outcome: float, max_cycles: int) -> str:
    """A templated lesson of one episode, for models that cannot write their own."""
    if success:
        return f"{scenario}: succeeded in {steps} of {max_cycles} steps (return {outcome:.2f}); do it again."
    return (
        f"{scenario}: failed after {steps} of {max_cycles} steps (return {outcome:.2f}); "
        "the way taken did not work, try another."
    )


def _usearch():
    try:
        from usearch.index import Index
    except ImportError:
        raise ImportError(
            "the knowledge base needs usearch: pip install -e '.[memory]' (or pip install usearch)"
        ) from None
    return Index


class KnowledgeBase:
    """Entries and their vectors, kept in `path` (safetensors); see the module docstring."""

    def __init__(self, path: str | Path, embedding: str, dim: int, max_entries: int = MAX_ENTRIES):
        self.path = Path(path)
        self.embedding, self.dim, self.max_entries = embedding, int(dim), int(max_entries)
        self.entries: list[Entry] = []
        self.vectors = np.zeros((0, self.dim), np.float32)
        self._pending = 0  # entries added here since the last save (the last ones of `entries`)
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file we last read
        self._index = None
        if self.path.exists():
            self.entries, self.vectors = self._read()

    @classmethod
    def shared(cls, path: str | Path, embedding: str, dim: int) -> KnowledgeBase:
        """The one open store of `path` in this process: seats given the same path share it."""
        key = Path(path).resolve()
        store = _OPEN.get(key)
        if store is None or store.embedding != embedding or store.dim != dim:
            store = _OPEN[key] = cls(path, embedding, dim)
        return store

    def __len__(self) -> int:
        return len(self.entries)

    # -- adding and searching -----------------------------------------------------------------
    def add(self, vectors: np.ndarray, entries: Sequence[Entry]) -> None:
        vectors = np.asarray(vectors, np.float32).reshape(-1, self.dim)
        if len(vectors) != len(entries):
            raise ValueError(f"{len(vectors)} vectors for {len(entries)} entries")
        if not len(entries):
            return
        first = len(self.entries)
        self.entries += list(entries)
        self.vectors = np.concatenate([self.vectors, vectors])
        self._pending += len(entries)
        if not self._trim() and self._index is not None:  # keys stay positions: add to the index
            self._index.add(np.arange(first, len(self.entries)), vectors, threads=1)

    def _trim(self) -> bool:
        """Drops the oldest entries beyond `max_entries`; whether any went (keys then shift)."""
        extra = len(self.entries) - self.max_entries
        if extra > 0:
            self.entries, self.vectors = self.entries[extra:], self.vectors[extra:]
            self._pending = min(self._pending, len(self.entries))
            self._index = None
        return extra > 0

    def _built(self):
        if self._index is None:
            Index = _usearch()
            index = Index(ndim=self.dim, metric="cos", dtype="f32")
            if len(self.entries):
                index.add(np.arange(len(self.entries)), self.vectors, threads=1)
            self._index = index
        return self._index

    def search(self, queries: np.ndarray, k: int, kind: str | None = None) -> list[list[tuple[int, float]]]:
        """Per query row, up to k (entry index, cosine distance) pairs, most similar first;
        `kind` keeps only entries of that kind (searched among the 4k nearest)."""
        queries = np.asarray(queries, np.float32).reshape(-1, self.dim)
        if not len(self.entries) or k < 1:
            return [[] for _ in range(len(queries))]
        want = min(len(self.entries), 4 * k if kind else k)
        found = self._built().search(queries, want, threads=1)
        keys = np.asarray(found.keys).reshape(len(queries), -1)
        dist = np.asarray(found.distances).reshape(len(queries), -1)
        # one query gives `Matches` (only what was found), several `BatchMatches` (with counts)
        counts = np.asarray(getattr(found, "counts", [keys.shape[1]])).reshape(-1)
        out = []
        for row in range(len(queries)):
            hits = [
                (int(key), float(d))
                for key, d in zip(
                    keys[row, : counts[row]].tolist(), dist[row, : counts[row]].tolist(), strict=True
                )
                if kind is None or self.entries[key].kind == kind
            ]
            out.append(sorted(hits, key=lambda h: (h[1], h[0]))[:k])
        return out

    # -- the file ----------------------------------------------------------------------------
    def save(self) -> Path:
        """Writes the store atomically, keeping what others added to the file since we read it."""
        with _locked(self.path):
            mine_entries = self.entries[len(self.entries) - self._pending :]
            mine_vectors = self.vectors[len(self.vectors) - self._pending :]
            if self.path.exists() and _stamp(self.path) != self._seen:
                self.entries, self.vectors = self._read()  # someone else wrote: start from theirs
                self.entries += mine_entries
                self.vectors = np.concatenate([self.vectors, mine_vectors])
                self._trim()
                self._index = None
            self._write()
            self._pending = 0
            self._seen = _stamp(self.path)
        return self.path

    def _write(self) -> None:
        from safetensors.numpy import save_file

        meta = {
            "format": FORMAT,
            "version": str(VERSION),
            "embedding": self.embedding,
            "dim": str(self.dim),
            "entries": json.dumps([list(asdict(e).values()) for e in self.entries]),
        }
        vectors = np.ascontiguousarray(self.vectors, np.float32)
        write_atomic(self.path, lambda tmp: save_file({"vectors": vectors}, tmp, metadata=meta))

    def _read(self) -> tuple[list[Entry], np.ndarray]:
        path = self.path
        self._seen = _stamp(path)
        meta, tensors = read_safetensors(path, "knowledge store")
        if meta.get("format") != FORMAT:
            raise BadFileError(f"{path}: not a Grid Arena knowledge store (format {meta.get('format')!r})")
        if meta.get("version") != str(VERSION):
            raise BadFileError(
                f"{path}: a version {meta.get('version')!r} store; this reads version {VERSION}"
            )
        if meta.get("embedding") != self.embedding or meta.get("dim") != str(self.dim):
            raise BadFileError(
                f"{path}: holds {meta.get('embedding')!r} vectors of {meta.get('dim')} dimensions, not "
                f"{self.embedding!r} of {self.dim}: use another store for this seat"
            )
        vectors = tensors.get("vectors")
        try:
            rows = json.loads(meta.get("entries", ""))
            entries = [_entry(row) for row in rows]
        except (ValueError, TypeError) as err:
            raise BadFileError(f"{path}: its entries are corrupt ({' '.join(str(err).split())})") from None
        if vectors is None or tuple(vectors.shape) != (len(entries), self.dim):
            shape = None if vectors is None else tuple(vectors.shape)
            raise BadFileError(f"{path}: vectors of shape {shape} for {len(entries)} entries of {self.dim}")
        vectors = vectors.float().numpy() if hasattr(vectors, "numpy") else np.asarray(vectors, np.float32)
        if not np.isfinite(vectors).all():
            raise BadFileError(f"{path}: its vectors hold NaN or infinite values")
        return entries, vectors


def _entry(row) -> Entry:
    if not isinstance(row, list) or len(row) != 7:
        raise ValueError(f"an entry is {str(row)[:60]!r}, not a list of 7 fields")
    kind, scenario, text, action, success, outcome, steps = row
    if kind not in KINDS or not all(isinstance(x, str) for x in (scenario, text, action)):
        raise ValueError(f"an entry of kind {str(kind)[:20]!r} has fields of the wrong types")
    if not isinstance(success, bool) or not isinstance(outcome, (int, float)) or isinstance(outcome, bool):
        raise ValueError("an entry's success or outcome is not a boolean and a number")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"an entry's steps is {steps!r}, not a whole number >= 0")
    return Entry(kind, scenario, text, action, success, float(outcome), steps)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


@contextmanager
def _locked(path: Path):
    """An exclusive lock on `<path>.lock` while the store is read and rewritten (POSIX; a
    platform without fcntl writes unlocked)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
