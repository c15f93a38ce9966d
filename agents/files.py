"""Files written whole or not at all, and safetensors files read from one open handle.

`write_atomic` writes to a temporary file beside the target, flushes it to disk (`fsync`),
renames it into place and flushes the folder, so a crash or a kill -9 leaves either the old file
or the new one, never half of one; the temporary file is named `.<name>.<random><suffix>` so a
resumed run can find and remove leftovers (`stale_temp_files`). A write that fails (a full disk)
raises `SaveError` naming the file. `read_safetensors` reads a file's bytes once, so a file
replaced while it is read yields the old file or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
from pathlib import Path

from worlds.errors import BadFileError, SaveError

# What mkstemp adds to `.<name>.`: 8 characters of [a-z0-9_], then the suffix.
_TEMP = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?")
MAX_HEADER = 100 << 20  # bytes of safetensors JSON header: far above any real checkpoint's


def write_atomic(path: str | Path, write, suffix: str | None = None) -> Path:
    """Call `write(tmp_path)` then move the file into place, durably."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        _fsync(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
        _fsync(path.parent)
    except _write_errors() as err:  # a full disk, no permission: not a bug in `write`
        reason = " ".join(str(err).split()) or type(err).__name__
        raise SaveError(f"{path}: could not write the file ({reason})") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _write_errors() -> tuple[type[BaseException], ...]:
    """OSError, and safetensors' own error type, which its writer raises for I/O failures."""
    try:
        from safetensors import SafetensorError
    except ImportError:
        return (OSError,)
    return (OSError, SafetensorError)


def _fsync(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


def stale_temp_files(folder: str | Path) -> list[Path]:
    """Leftovers of `write_atomic` calls that were killed, in `folder` (not its sub-folders)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and (p.name.startswith(".tmp") or _TEMP.fullmatch(p.name) is not None)
    )


def read_safetensors(path: str | Path, what: str = "safetensors file") -> tuple[dict[str, str], dict]:
    """(metadata, tensors) of a safetensors file, from one read of its bytes; `BadFileError`
    naming the file when it is not a whole safetensors file."""
    from safetensors.torch import load

    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise BadFileError(f"{path}: cannot read the {what} ({err.strerror or err})") from None
    try:
        (size,) = struct.unpack("<Q", data[:8])
        if size > min(MAX_HEADER, len(data) - 8):
            raise ValueError(f"its header claims {size} bytes")
        header = json.loads(data[8 : 8 + size])
        metadata = header.get("__metadata__") or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ValueError("its metadata is not a table of strings")
        tensors = load(data)
    except Exception as err:  # struct, JSON and safetensors' own errors for a damaged file
        reason = " ".join(str(err).split()) or type(err).__name__
        raise BadFileError(f"{path}: not a readable {what} (truncated or corrupt? {reason})") from None
    return metadata, tensors
