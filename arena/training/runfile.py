"""A training run's folder on disk: its checkpoint file, its lock and its leftovers.

- `checkpoint.safetensors` holds the whole run: tensors (worlds, learners, torch's generator)
  and metadata (format, version, config, progress). Its `sha256` entry covers every tensor and
  every other metadata entry, so a flipped byte anywhere is refused; the file is read from one
  open handle, so a checkpoint replaced while it is read is seen whole, old or new. What it
  holds is still checked before use (`check_progress` here, `worlds.validate_state` for the
  worlds): a file from elsewhere may carry a valid checksum.
- `.lock`: an exclusive `flock` held while a `Run` lives, so a second `arena train` on the same
  folder (new or `--resume`) is refused with `RunLockedError` instead of both writing its log.
  The kernel drops the lock when the process dies, kill -9 included.
- Temporary files of interrupted atomic writes are removed when a run resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from agents.files import read_safetensors, stale_temp_files, write_atomic
from agents.learner import digest
from worlds.errors import BadFileError, RunLockedError

try:
    import fcntl
except ImportError:  # not on Windows: runs there go unlocked
    fcntl = None

RUN_FORMAT, RUN_VERSION = "grid-arena-run", "2"
CHECKPOINT = "checkpoint.safetensors"
LOCK = ".lock"


def run_digest(tensors: dict, metadata: dict[str, str]) -> str:
    """sha256 over every tensor (`agents.learner.digest`) and every metadata entry but itself."""
    rest = {k: v for k, v in metadata.items() if k != "sha256"}
    h = hashlib.sha256(digest(tensors).encode())
    h.update(json.dumps(rest, sort_keys=True).encode())
    return h.hexdigest()


def write_run_file(path: str | Path, tensors: dict, metadata: dict[str, str]) -> Path:
    """Write a run checkpoint atomically, with its checksum."""
    from safetensors.torch import save_file

    metadata = {**metadata, "sha256": run_digest(tensors, metadata)}
    return write_atomic(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


@dataclass
class SavedRun:
    path: Path
    config: dict
    progress: dict
    tensors: dict


def load_run(path: str | Path) -> SavedRun:
    """A run checkpoint; a missing, corrupt or foreign file is a BadFileError naming the file."""
    path = Path(path)
    if not path.exists():
        raise BadFileError(f"{path}: no run checkpoint to resume (start the run without --resume)")
    metadata, tensors = read_safetensors(path, "run checkpoint")
    if metadata.get("format") != RUN_FORMAT:
        raise BadFileError(f"{path}: not a grid-arena run checkpoint (format {metadata.get('format')!r})")
    if metadata.get("version") != RUN_VERSION:
        raise BadFileError(
            f"{path}: run checkpoint version {metadata.get('version')!r}, expected {RUN_VERSION!r}"
        )
    if metadata.get("sha256") != run_digest(tensors, metadata):
        raise BadFileError(f"{path}: corrupt run checkpoint (its contents do not match their checksum)")
    try:
        config, progress = json.loads(metadata["config"]), json.loads(metadata["progress"])
    except (KeyError, json.JSONDecodeError) as err:
        raise BadFileError(f"{path}: run checkpoint metadata is damaged ({err})") from None
    if not isinstance(config, dict):
        raise BadFileError(f"{path}: run checkpoint config is {type(config).__name__}, not an object")
    check_progress(path, progress)
    return SavedRun(path, config, progress, tensors)


# What `progress` must hold: key -> (JSON types, what it is when it is wrong).
PROGRESS = {
    "step": (int,),
    "elapsed": (int, float),
    "log_offset": (int,),
    "stats": (dict,),
    "metrics": (dict,),
    "last_eval": (dict, type(None)),
    "env_rngs": (list,),
    "pad": (int,),
    "seats": (list,),
}


def check_progress(path: Path, progress) -> None:
    """The run checkpoint's `progress` entry: every key there, of its type and in range."""
    if not isinstance(progress, dict):
        raise BadFileError(f"{path}: run checkpoint progress is {type(progress).__name__}, not an object")
    for key, kinds in PROGRESS.items():
        if key not in progress:
            raise BadFileError(f"{path}: run checkpoint progress has no {key!r}")
        value = progress[key]
        if isinstance(value, bool) or not isinstance(value, kinds):
            names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
            raise BadFileError(f"{path}: run checkpoint progress {key!r} is {value!r}, not {names}")
    for key in ("step", "log_offset", "pad"):
        if progress[key] < 0:
            raise BadFileError(f"{path}: run checkpoint progress {key!r} is {progress[key]}, below 0")
    if not math.isfinite(progress["elapsed"]) or progress["elapsed"] < 0:
        raise BadFileError(f"{path}: run checkpoint progress 'elapsed' is {progress['elapsed']!r}")
    for entry in progress["seats"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BadFileError(f"{path}: run checkpoint progress has a seat entry {entry!r}")


class RunLock:
    """An exclusive lock on a run folder for as long as this object is open."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._file = open(self.folder / LOCK, "a+", encoding="utf-8")  # noqa: SIM115 (closed in release)
        if fcntl is None:
            return
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip()
            self._file.close()
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise RunLockedError(
                f"{self.folder}: another arena train{who} is using this run folder; "
                "wait for it to end, or pick another --out"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        if not self._file.closed:
            self._file.close()  # closing the file drops the flock


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete what killed atomic writes left in a run folder (call it holding the lock)."""
    stale = stale_temp_files(folder)
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
