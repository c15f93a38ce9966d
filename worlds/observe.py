"""What agents perceive: egocentric views, the global state, and the text view.

All three are read from the same `State`, so they always agree. A view is uint8[V, V, 3],
centred on the agent (north up, it does not turn), with channels:

    0  cell code (worlds.cells; VOID outside the map)
    1  who stands there, seen from the observer: 0 nobody, 1 itself, 2 a teammate, 3 a rival
    2  the observer's own goal: 1 on the goal cell when it is in view; when it is not, 2 on the
       view's edge cell in the goal's direction (a compass)
"""

from __future__ import annotations

import numpy as np

from worlds import kernels
from worlds.cells import CHAR_TABLE, NAME_OF
from worlds.scenario import Scenario
from worlds.state import State

NOBODY, SELF, TEAMMATE, RIVAL = range(4)
VIEW_CHANNELS = 3


def occupancy(state: State) -> np.ndarray:
    """int8[B, H + 2*pad, W + 2*pad]: index of the live agent in each cell, -1 for none."""
    occ = np.full(state.terrain.shape, -1, dtype=np.int8)
    b, i = np.nonzero(state.alive)
    p = state.pad
    occ[b, state.pos[b, i, 0] + p, state.pos[b, i, 1] + p] = i
    return occ


def views(scenario: Scenario, state: State, here: np.ndarray | None = None) -> np.ndarray:
    """Every agent's egocentric view, uint8[B, N, V, V, 3], in one compiled pass over worlds
    and observers (`worlds.kernels.views`). (`here`, the agents' flat cells, is accepted for
    callers that have it; the kernel reads `pos`.)"""
    B, N = state.alive.shape
    V = scenario.view_size
    out = np.empty((B, N, V, V, VIEW_CHANNELS), dtype=np.uint8)
    kernels.views(state.terrain, state.pos, state.alive, state.goal, _teams(scenario), state.pad, out)
    return out


def _teams(scenario: Scenario) -> np.ndarray:
    """The scenario's teams as int64 (the kernels' one compiled type; no copy when they are)."""
    return np.asarray(scenario.teams, dtype=np.int64)


def global_state(scenario: Scenario, state: State) -> np.ndarray:
    """The whole map for a centralized critic, uint8[B, H, W, 3]: cell code, agent index + 1
    (0 for none), team index + 1 of that agent (0 for none)."""
    p = state.pad
    H, W = state.shape
    occ = occupancy(state)[:, p : p + H, p : p + W].astype(np.int16)
    team = np.concatenate([[0], scenario.teams + 1]).astype(np.uint8)
    return np.stack([state.cells(), (occ + 1).astype(np.uint8), team[occ + 1]], axis=-1)


def ascii_map(scenario: Scenario, state: State, world: int = 0) -> str:
    """The map of one world as text: cell characters with agents drawn as their index digit."""
    chars = CHAR_TABLE[state.cells()[world]].copy()
    for i in np.flatnonzero(state.alive[world]):
        chars[tuple(state.pos[world, i])] = str(i)
    return "\n".join("".join(row) for row in chars)


def text_view(
    scenario: Scenario, state: State, view: np.ndarray, world: int, agent: int, mask: np.ndarray
) -> str:
    """What agent `agent` of world `world` sees, in plain words, read off its `view`."""
    names = scenario.agent_names
    r = scenario.view_size // 2
    row, col = state.pos[world, agent]
    team = scenario.team_names[scenario.teams[agent]]
    lines = [
        f"You are {names[agent]} (team {team}) at row {row}, column {col}; "
        f"step {state.t[world]} of {scenario.max_cycles}.",
        f"Your task: {scenario.goal_words(agent)}.",
    ]
    goal = state.goal[world, agent]
    if goal[0] >= 0:
        lines.append(f"Your goal is {_direction_words(goal - state.pos[world, agent])}.")
    chars = CHAR_TABLE[view[..., 0]].copy()
    occ = occupancy(state)[world]
    p = state.pad
    window = occ[row + p - r : row + p + r + 1, col + p - r : col + p + r + 1]
    others = []
    for y, x in np.argwhere(window >= 0):
        j = int(window[y, x])
        chars[y, x] = "@" if j == agent else str(j)
        if j != agent:
            kind = "teammate" if scenario.teams[j] == scenario.teams[agent] else "rival"
            others.append(f"{names[j]} ({kind}, shown as {j}) {_direction_words((y - r, x - r))}")
    lines.append(
        f"You see {scenario.view_size}x{scenario.view_size} cells around you, north up, "
        "you are @ in the middle (# wall, . floor, G goal, P pressure plate, D closed gate, "
        "d open gate, digits other agents, blank outside the map):"
    )
    lines += ["".join(line) for line in chars]
    lines.append("Others in view: " + ("; ".join(others) if others else "none") + ".")
    here = NAME_OF[int(view[r, r, 0])]
    lines.append(f"You stand on {here}.")
    legal = [scenario.actions[a] for a in np.flatnonzero(mask)]
    lines.append("Legal actions: " + ", ".join(legal) + ".")
    return "\n".join(lines)


def _direction_words(offset) -> str:
    dy, dx = int(offset[0]), int(offset[1])
    if dy == 0 and dx == 0:
        return "right here"
    parts = []
    if dy:
        parts.append(f"{abs(dy)} {'north' if dy < 0 else 'south'}")
    if dx:
        parts.append(f"{abs(dx)} {'west' if dx < 0 else 'east'}")
    return " and ".join(parts)
