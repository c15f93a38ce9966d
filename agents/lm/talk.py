"""Talking on a team channel: LM seats of one team tell each other things in words.

A `TeamChannel` holds, per world, what each agent said on its last decision. Every seat that
talks (`LMController(..., channel=...)`) shares the match's one channel; a message reaches only
the speaker's teammates, on their next decision (like signal_v0's words: said at step t, heard
at step t + 1, gone after), as a prompt line in signal_v0's own form:

    agent_1 says "on plate".

The message is part of the LM's decision: after it picks its action, it scores each of a small
set of candidate messages (`messages(scenario)`, short phrases in the scenario's own words) as
the continuation after `<prompt> <action>` and the cue `Say:`, and takes the best (or samples,
as it does actions). `none` is silence. The match keeps what was said (the LM's thinking extras
`say`), records carry it and the viewer draws it as a speech bubble over the speaker.

signal_v0 needs no channel: its words are actions (`say_red`) and its text view already says
what was heard; the LM scores them like any action.

Nothing here touches the engine: the channel lives with the seats, beside the world.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worlds.scenario import Scenario

CUE = "Say:"
SILENCE = "none"


@dataclass(frozen=True)
class Message:
    text: str  # what teammates read, in quotes
    label: str  # the speech bubble: up to four characters


def _moves(thing: str, label: str) -> tuple[Message, ...]:
    return tuple(
        Message(f"{thing} {d}", f"{label}{d[0].upper()}") for d in ("north", "south", "east", "west")
    )


# Short phrases in words every shipped tokenizer spells (so the tiny models can score them).
_INTENTS = (Message("stay here", "STAY"), *_moves("walk", ""))
MESSAGES: dict[str, tuple[Message, ...]] = {
    "plates_v0": (
        Message("on plate", "PLAT"),
        Message("gate open", "OPEN"),
        Message("walk to goal", "GOAL"),
        *_moves("goal", "G "),
    ),
    "tag_v0": (*_moves("runner", "R "), Message("runner here", "R!")),
    "maze_v0": (*_moves("goal", "G "), Message("goal here", "G!")),
}


def messages(scenario: Scenario) -> tuple[Message, ...]:
    """The candidate messages of a scenario, silence first."""
    return (Message(SILENCE, ""), *MESSAGES.get(scenario.name, _INTENTS))


def said_line(speaker: str, text: str) -> str:
    return f'{speaker} says "{text}".'


class TeamChannel:
    """What each agent said on its last decision, per world; read by its teammates one step later.

    `say(world, agent, step, text)` posts, `heard(world, agent, step)` returns the prompt lines of
    the teammates' messages said at `step - 1`. A step lower than one already seen in a world
    means a new episode there: the world's messages are dropped."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self._said: dict[int, dict[int, tuple[int, str]]] = {}  # world -> agent -> (step, text)
        self._latest: dict[int, int] = {}  # world -> latest step seen

    def _at(self, world: int, step: int) -> dict[int, tuple[int, str]]:
        if step < self._latest.get(world, -1):
            self._said.pop(world, None)
        self._latest[world] = step
        return self._said.setdefault(world, {})

    def say(self, world: int, agent: int, step: int, text: str) -> None:
        said = self._at(world, step)
        if text == SILENCE:
            said.pop(agent, None)
        else:
            said[agent] = (step, text)

    def heard(self, world: int, agent: int, step: int) -> list[str]:
        teams, names = self.scenario.teams, self.scenario.agent_names
        said = self._at(world, step)
        return [
            said_line(names[j], text)
            for j, (when, text) in sorted(said.items())
            if j != agent and teams[j] == teams[agent] and when == step - 1
        ]

    def last_words(self, world: int) -> dict[int, str]:
        """What each agent of `world` said on its last decision."""
        return {j: text for j, (_, text) in self._said.get(world, {}).items()}


def message_prompts(bodies: Sequence[str], actions: Sequence[str]) -> list[str]:
    """Prompt bodies extended with the chosen action and the message cue."""
    return [f"{body} {action}\n{CUE}" for body, action in zip(bodies, actions, strict=True)]


def bubble_label(scenario: Scenario, text: str) -> str:
    """The speech bubble of a message: its label, or the first four letters of an unknown one."""
    for message in messages(scenario):
        if message.text == text:
            return message.label
    return text.strip()[:4].upper()
