"""A training run's log: one JSON object a line (`log.jsonl`), the same records as a table
(`log.csv`), and TensorBoard scalars when `torch.utils.tensorboard` can be imported; and what
the run shows a person: the progress line and the summary table.

The JSONL file is the record of truth: it is appended and flushed as the run goes, and its
byte length is saved in every checkpoint, so a resumed run cuts it back to that length and
writes the same lines again. The CSV is rebuilt from it (its columns are every key seen, in
order of first appearance, since learners report their metrics only once they update).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

from arena.episode import write_atomic


class Logbook:
    def __init__(
        self, folder: str | Path, offset: int | None = None, step: int = 0, tensorboard: bool = True
    ):
        """A log in `folder`: a new one, or (with `offset`, the JSONL length a checkpoint saved
        at env step `step`) the log of a resumed run, cut back to that length."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.folder / "log.jsonl"
        self.csv = self.folder / "log.csv"
        if offset is None:
            self._file = open(self.jsonl, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        else:
            size = self.jsonl.stat().st_size if self.jsonl.exists() else 0
            if size < offset:
                raise ValueError(
                    f"{self.jsonl}: holds {size} bytes but the checkpoint expects at least {offset}; "
                    "the log does not belong to this checkpoint"
                )
            self._file = open(self.jsonl, "r+", encoding="utf-8")  # noqa: SIM115
            self._file.truncate(offset)
            self._file.seek(offset)
        board = self.folder / "tensorboard"
        # purge_step drops the events a killed run wrote after its checkpoint
        self._board = _tensorboard(board, step if offset is not None else None) if tensorboard else None

    def write(self, record: dict) -> None:
        """Append one record (flat: str keys, numbers or short strings) and flush it. A nan
        (no episode finished yet) is written as null, so the file stays strict JSON."""
        clean = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}
        self._file.write(json.dumps(clean, allow_nan=False) + "\n")
        self._file.flush()
        if self._board is not None and "step" in record:
            kind = record.get("kind", "log")
            for key, value in record.items():
                if key != "step" and isinstance(clean[key], (int, float)) and not isinstance(value, bool):
                    self._board.add_scalar(f"{kind}/{key}", value, record["step"])

    def offset(self) -> int:
        """The JSONL file's length now: where a resumed run picks up."""
        return self._file.tell()

    def records(self) -> list[dict]:
        return read_records(self.jsonl)

    def write_csv(self) -> Path:
        """Rewrite `log.csv` from the JSONL records (atomically)."""
        text = records_csv(self.records())
        return write_atomic(self.csv, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def close(self) -> None:
        self._file.close()
        if self._board is not None:
            self._board.close()


class Progress:
    """One status line: a bar, env steps/s, recent return per seat, success and time left.
    Redrawn in place on a terminal; elsewhere (logs, CI) a line every tenth of the run."""

    def __init__(self, total: int, start: int, quiet: bool = False, stream=None, label: str = ""):
        self.total, self.start, self.quiet, self.label = total, start, quiet, label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.next_tenth = int(10 * start / total) + 1

    def show(self, step: int, record: dict, seconds: float, evaluation: dict | None = None) -> None:
        """`record`: the training figures (episodes that started at least max_cycles ago);
        `evaluation`: the last evaluation row, shown with its standard error."""
        if self.quiet:
            return
        if not self.tty:
            if step < self.total and 10 * step < self.next_tenth * self.total:
                return
            self.next_tenth = int(10 * step / self.total) + 1
        rate = (step - self.start) / max(seconds, 1e-9)
        done = min(step / self.total, 1.0)
        bar = "#" * int(20 * done) + "-" * (20 - int(20 * done))
        returns = " ".join(
            f"{k.removesuffix('/return')}={v:+.2f}"
            for k, v in record.items()
            if k.endswith("/return") and v == v
        )
        line = (
            f"{self.label} " * bool(self.label)
            + f"[{bar}] {step:,}/{max(step, self.total):,} {rate:,.0f} steps/s"
        )
        line += f"  train return {returns or '-'}"
        success = record.get("success", float("nan"))
        line += f"  success {success:.2f}" if success == success else "  success -"
        if evaluation and evaluation.get("success") is not None:
            line += f"  eval {evaluation['success']:.2f}+-{evaluation.get('success_se', 0):.2f}"
        line += f"  eta {_clock((self.total - step) / max(rate, 1e-9))}"
        self.stream.write("\r" + line.ljust(110) if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def format_summary(summary: dict) -> str:
    def num(value, fmt):
        return "-" if value is None or value != value else format(value, fmt)

    head = ("seat", "agents", "controller", "train return", "eval return", "checkpoint")
    body = [
        (
            s["seat"],
            ",".join(s["agents"]),
            s["controller"] + ("" if s["learns"] else " (fixed)"),
            num(s["train_return"], "+.3f"),
            num(s["eval_return"], "+.3f"),
            s["checkpoint"] or "-",
        )
        for s in summary["seats"]
    ]
    widths = [max(len(row[k]) for row in [head, *body]) for k in range(len(head))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [head, *body]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lines.insert(
        0,
        (
            f"{summary['scenario']}: {summary['steps']:,} env steps in {summary['seconds']:,.0f} s "
            f"({summary['steps_per_s']:,.0f} steps/s), {summary['episodes'] or 0:,} episodes; success: "
            f"eval {num(summary['eval_success'], '.2f')} +- {num(summary.get('eval_success_se'), '.2f')} "
            f"(best {num(summary['best_eval_success'], '.2f')}), "
            f"train {num(summary['train_success'], '.2f')} (recent episodes, all run to their end)"
        ),
    )
    return "\n".join(lines)


def read_records(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def records_csv(records: list[dict]) -> str:
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _cell(v) for k, v in record.items()})
    return out.getvalue()


def _cell(value):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _tensorboard(folder: Path, purge_step: int | None):
    """A SummaryWriter when TensorBoard is installed, else None (it is optional)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder), purge_step=purge_step)
