"""Reading a generated answer: the action it names, or why it names none.

A seat that generates asks for a final line `ACTION: <action>` (`agents.lm.chat.ANSWER_CUE`).
`parse_answer` takes the *last* such line (case and markdown emphasis ignored: `**Action:** North.`
reads as north), so a model may reason, change its mind, and answer last. An answer without that
line is still read when it holds nothing but action names (`north`, `south south`: a plain
completion after the cue `Action:`, or a terse model); the first is taken.

Statuses (counted by `Tally`): `answered` (an ACTION line naming a legal action), `bare` (only
action names), `illegal` (a known action, not legal now) and `malformed` (no action found, or a
word that is not an action). For the last two the seat falls back to a random legal action and
counts it: the counts are in the controller's `stats` and in what `thinking()` shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

STATUSES = ("answered", "bare", "illegal", "malformed")
FALLBACKS = ("illegal", "malformed")
_ACTION_LINE = re.compile(r"action[\s*_`]*[:=][\s*_`\"'>]*([a-z_]+)", re.IGNORECASE)
_WORD = re.compile(r"[a-z_]+", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    action: int | None  # index into the scenario's actions; None when the seat must fall back
    status: str  # one of STATUSES
    said: str  # the word taken as the action ("" when none)


def parse_answer(text: str, actions: Sequence[str], legal: Sequence[bool] | np.ndarray) -> Answer:
    """The action `text` names among `actions` (legal where `legal`), see the module docstring."""
    names = [a.lower() for a in actions]
    found = _ACTION_LINE.findall(text)
    if found:
        word, status = found[-1].lower(), "answered"
    else:
        words = [w.lower() for w in _WORD.findall(text)]
        if not words or any(w not in names for w in words):
            return Answer(None, "malformed", "")
        word, status = words[0], "bare"
    if word not in names:
        return Answer(None, "malformed", word)
    action = names.index(word)
    if not bool(legal[action]):
        return Answer(None, "illegal", word)
    return Answer(action, status, word)


@dataclass
class Tally:
    """How a seat's answers read so far, by status."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    def add(self, answers: Sequence[Answer]) -> None:
        for answer in answers:
            self.counts[answer.status] += 1

    @property
    def decisions(self) -> int:
        return sum(self.counts.values())

    @property
    def fallbacks(self) -> int:
        return sum(self.counts[s] for s in FALLBACKS)

    def summary(self) -> str:
        """One line for the thoughts panel, e.g. `38 answered, 1 illegal, 1 malformed of 40`."""
        parts = [f"{n} {status}" for status, n in self.counts.items() if n]
        return f"{', '.join(parts) or 'none yet'} of {self.decisions}"


def fall_back(answers: list[Answer], legal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each answer's action; rows without one get a uniformly random legal action."""
    out = np.empty(len(answers), dtype=np.int64)
    for row, answer in enumerate(answers):
        if answer.action is not None:
            out[row] = answer.action
        else:
            out[row] = rng.choice(np.flatnonzero(legal[row]))
    return out
