"""The prompt format (versioned) a language model reads, built from the text view.

Format `grid-arena-prompt-v1`: the lines of the agent's text view (`Observations.texts()`),
reordered. The two lines that never change during an episode come first, as the *prefix*: the
task and the legend ("You see VxV cells around you ..."). The *body* follows: the text view's
other lines in their own order (who and where, the map rows, others in view, the cell
underfoot), then a line of recent history, the legal actions, the goal's direction, and the cue
`Action:`. The lines that decide the move most often sit last, next to the cue, where a small
model finds them at fixed distances. Each action is the candidate continuation " <action>"
(e.g. " north"), scored by its log-likelihood.

    Your task: walk to your own goal cell G.
    You see 7x7 cells around you, north up, you are @ in the middle (# wall, ...):
    You are agent_0 (team agents) at row 4, column 7; step 2 of 256.
    ....#
    ...                       (the map, one row per line)
    Others in view: none.
    You stand on floor.
    Your last actions: west, west.
    Legal actions: noop, north, south.
    Your goal is 3 south and 5 west.
    Action:

The prefix is the same for every agent of a team at a view size, so the policy encodes it once
and reuses its key/value cache; the tokenizer sees prefix and body as two separate texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

VERSION = "grid-arena-prompt-v1"
CUE = "Action:"
HISTORY_LENGTH = 3  # recent actions shown in the prompt
_PREFIX_STARTS = ("Your task:", "You see ")
_LAST_STARTS = ("Legal actions:", "Your goal is")  # moved next to the cue, in this order
# The words this format adds to the text view's (the tokenizer covers them).
PROMPT_WORDS = ("Your last actions: none.", "Your last actions: noop, tag.", CUE)


@dataclass(frozen=True)
class Prompt:
    prefix: str  # constant for an agent through an episode (cached by the policy)
    body: str  # what changes every step; ends with the cue

    @property
    def text(self) -> str:
        return self.prefix + self.body


def history_line(history: Sequence[str]) -> str:
    recent = list(history)[-HISTORY_LENGTH:]
    return "Your last actions: " + (", ".join(recent) if recent else "none") + "."


def build_prompt(text_view: str, history: Sequence[str] = (), context: Sequence[str] = ()) -> Prompt:
    """The prompt for one agent from its text view and its recent actions (oldest first);
    `context` lines (teammates' messages, recalled memories) go after the history line."""
    prefix, body, last = [], [], dict.fromkeys(_LAST_STARTS, "")
    for line in text_view.split("\n"):
        if line.startswith(_PREFIX_STARTS):
            prefix.append(line)
        elif line.startswith(_LAST_STARTS):
            last[next(start for start in _LAST_STARTS if line.startswith(start))] = line
        else:
            body.append(line)
    body += [history_line(history), *context, *(line for line in last.values() if line), CUE]
    return Prompt("".join(line + "\n" for line in prefix), "\n".join(body))


def candidate(action: str) -> str:
    """The continuation that names `action`, scored after the cue."""
    return " " + action
