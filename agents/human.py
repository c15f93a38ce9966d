"""The human controller: a policy fed by a key-to-action map.

It never reads the keyboard itself (the viewer in `arena/` does, and hands it key names as
pygame spells them: "w", "up", "return", "right shift"), so it needs no window and no pygame.
A press queues an action for the next step; in real time a key held down repeats its action
and a human who presses nothing does noop. Two people share one keyboard with one keymap each
("wasd" and "arrows"); a lone human with no keymap named gets both.
"""

from __future__ import annotations

import numpy as np

from agents.base import Observations
from worlds.scenario import MOVES, NOOP

INTERACT = "interact"  # the scenario's first interaction (tag_v0: "tag")
KEYMAPS: dict[str, dict[str, str]] = {
    "wasd": {"w": "north", "s": "south", "d": "east", "a": "west", "e": INTERACT, "q": "noop"},
    "arrows": {
        "up": "north",
        "down": "south",
        "right": "east",
        "left": "west",
        "return": INTERACT,
        "enter": INTERACT,  # the keypad's Enter
        "right shift": "noop",
    },
}
# How the legend names each keymap's keys: (keys, what they do).
_LEGEND = {
    "wasd": (("W A S D", "move"), ("E", INTERACT), ("Q", "wait")),
    "arrows": (("arrows", "move"), ("Enter", INTERACT), ("R-Shift", "wait")),
}


class Human:
    """One person at the keyboard, driving every seat given to it (all of them do what the
    keys say). `keys` is "wasd", "arrows" or None (both, until the viewer assigns one)."""

    name = "human"

    def __init__(self, keys: str | None = None):
        self.keys: str | None = None
        self.assign_keys(keys)
        self.pending: str | None = None  # action name queued by the last press since the last step
        self._held: list[str] = []  # keys down now, oldest first

    def assign_keys(self, keys: str | None) -> None:
        if keys is not None and keys not in KEYMAPS:
            raise ValueError(f"unknown keys {keys!r} for a human seat: use one of {', '.join(KEYMAPS)}")
        self.keys = keys

    @property
    def keymap(self) -> dict[str, str]:
        """Key name -> action name for this person's keys."""
        if self.keys is None:
            return {**KEYMAPS["wasd"], **KEYMAPS["arrows"]}
        return KEYMAPS[self.keys]

    @property
    def label(self) -> str:
        """How the HUD names this seat: "human (WASD)"."""
        return "human" if self.keys is None else f"human ({self.keys.upper()})"

    def press(self, key: str) -> bool:
        """A key went down; True when it is one of this person's keys (so nobody else takes it)."""
        action = self.keymap.get(key)
        if action is None:
            return False
        self.pending = action
        if key not in self._held:
            self._held.append(key)
        return True

    def release(self, key: str) -> None:
        if key in self._held:
            self._held.remove(key)

    @property
    def ready(self) -> bool:
        """Whether a key was pressed since the last step (turn-based play waits for this)."""
        return self.pending is not None

    def reset(self) -> None:
        """Forget queued and held keys (a new episode, or the seat changed hands)."""
        self.pending = None
        self._held.clear()

    def act(self, obs: Observations) -> np.ndarray:
        """The queued action (else the action of the key held longest-last, else noop) for every
        row; an action that is not legal there (into a wall) is a noop."""
        choice = self.pending or (self.keymap[self._held[-1]] if self._held else "noop")
        self.pending = None
        action = action_index(obs.scenario.actions, choice)
        rows = np.full(len(obs), action, dtype=np.int64)
        legal = obs.action_mask[np.arange(len(obs)), rows].astype(bool)
        return np.where(legal, rows, NOOP)

    def thinking(self) -> None:
        return None  # a person's thoughts are their own

    def legend(self, actions: tuple[str, ...]) -> list[tuple[str, str]]:
        """(keys, what they do) for the HUD, in the scenario's words; keymaps that do nothing
        here (no interaction in the scenario) are left out."""
        maps = [self.keys] if self.keys else list(KEYMAPS)
        interaction = actions[len(MOVES)] if len(actions) > len(MOVES) else None
        lines = []
        for name in maps:
            for keys, does in _LEGEND[name]:
                if does == INTERACT:
                    if interaction is None:
                        continue
                    does = interaction
                lines.append((keys, does))
        return lines


def action_index(actions: tuple[str, ...], choice: str) -> int:
    """The index of action name `choice`; "interact" is the scenario's first interaction and a
    noop where it has none."""
    if choice == INTERACT:
        return len(MOVES) if len(actions) > len(MOVES) else NOOP
    return actions.index(choice)
