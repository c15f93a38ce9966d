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
from worlds.cells import CHAR_TABLE, NAME_OF, legend
from worlds.scenario import Scenario
from worlds.state import State

NOBODY, SELF, TEAMMATE, RIVAL = range(4)
VIEW_CHANNELS = 3


def occupancy(state: State, present: np.ndarray | None = None) -> np.ndarray:
    """int8[B, H + 2*pad, W + 2*pad]: index of the live agent in each cell, -1 for none (only
    agents `present` on the board, bool[B, N], when given)."""
    occ = np.full(state.terrain.shape, -1, dtype=np.int8)
    b, i = np.nonzero(state.alive if present is None else present)
    p = state.pad
    occ[b, state.pos[b, i, 0] + p, state.pos[b, i, 1] + p] = i
    return occ


def views(scenario: Scenario, state: State, here: np.ndarray | None = None) -> np.ndarray:
    """Every agent's egocentric view, uint8[B, N, V, V, 3], in one compiled pass over worlds
    and observers (`worlds.kernels.views`). (`here`, the agents' flat cells, is accepted for
    callers that have it; the kernel reads `pos`.)"""
    B, N = state.alive.shape
    V = scenario.view_size
    if not scenario.extra_channels:
        out = np.empty((B, N, V, V, VIEW_CHANNELS), dtype=np.uint8)
        kernels.views(state.terrain, state.pos, state.alive, state.goal, _teams(scenario), state.pad, out)
        return out
    out = np.empty((B, N, V, V, VIEW_CHANNELS + len(scenario.extra_channels)), dtype=np.uint8)
    present = scenario.present(state)
    kernels.views(state.terrain, state.pos, present, state.goal, _teams(scenario), state.pad, out)
    scenario.fill_views(state, present, out)
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
    return text_views(scenario, state, view[None], np.array([world]), np.array([agent]), mask[None])[0]


def text_views(
    scenario: Scenario, state: State, view: np.ndarray, world: np.ndarray, agent: np.ndarray, mask: np.ndarray
) -> list[str]:
    """`text_view` of many rows at once (row k: agent `agent[k]` of world `world[k]`, its view
    `view[k]` and action mask `mask[k]`): the map block of every row is drawn in one pass, and
    the lines that repeat (task, legend, legal actions) are built once."""
    world, agent = np.asarray(world, dtype=np.int64), np.asarray(agent, dtype=np.int64)
    r = scenario.view_size // 2
    pos = state.pos[world, agent]  # [n, 2]
    window = _occupancy_windows(state, world, pos, r, scenario.present(state))
    mine = window == agent[:, None, None]
    chars = np.where(window >= 0, np.where(mine, ord("@"), _FIRST_DIGIT[window]), _CHAR_CODES[view[..., 0]])
    newline = np.full((*chars.shape[:2], 1), ord("\n"), dtype=np.uint8)
    maps = np.concatenate([chars.astype(np.uint8), newline], 2).reshape(len(agent), -1)
    others = ((window >= 0) & ~mine).any((1, 2))
    legend = (
        f"You see {scenario.view_size}x{scenario.view_size} cells around you, north up, "
        f"you are @ in the middle ({_legend(scenario)}, digits other agents, blank outside the map):"
    )
    tasks, legal = {}, {}
    texts = []
    for k, (b, i) in enumerate(zip(world.tolist(), agent.tolist(), strict=True)):
        if i not in tasks:
            tasks[i] = _who(scenario, i)
        who, task = tasks[i]
        row, col = pos[k].tolist()
        lines = [f"You are {who} {row}, column {col}; step {state.t[b]} of {scenario.max_cycles}.", task]
        goal = state.goal[b, i]
        if goal[0] >= 0:
            lines.append(f"Your goal is {_direction_words(goal - pos[k])}.")
        seen = _others_in_view(scenario, window[k], i, r) if others[k] else "none"
        lines += [legend, maps[k].tobytes().decode("ascii")[:-1], f"Others in view: {seen}."]
        lines.append(f"You stand on {NAME_OF[int(view[k, r, r, 0])]}.")
        lines += scenario.status_words(state, b, i)
        key = mask[k].tobytes()
        if key not in legal:
            legal[key] = (
                "Legal actions: " + ", ".join(scenario.actions[a] for a in np.flatnonzero(mask[k])) + "."
            )
        lines.append(legal[key])
        texts.append("\n".join(lines))
    return texts


# Characters of cell codes, and the character that draws agent j in a view (its first digit:
# one character per cell).
_CHAR_CODES = np.frombuffer("".join(CHAR_TABLE.tolist()).encode("ascii"), dtype=np.uint8)
_FIRST_DIGIT = np.array([ord(str(j)[0]) for j in range(128)], dtype=np.uint8)


def _legend(scenario: Scenario) -> str:
    """The cells the scenario's maps can hold, as "# wall, . floor, ..." (the first scenarios
    share one legend, which the shipped language model was trained on)."""
    return legend(scenario.legend_cells)


def _who(scenario: Scenario, agent: int) -> tuple[str, str]:
    """The start of the first line ("<name> (team <team>) at row") and the task line."""
    team = scenario.team_names[scenario.teams[agent]]
    return f"{scenario.agent_names[agent]} (team {team}) at row", f"Your task: {scenario.goal_words(agent)}."


def _occupancy_windows(
    state: State, world: np.ndarray, pos: np.ndarray, r: int, present: np.ndarray
) -> np.ndarray:
    """int8[n, V, V]: the agent on the board (index, -1 for none) in each cell of each row's
    view (agents off the board, like frozen ones, are not seen)."""
    occ = occupancy(state, present)
    rows = pos[:, 0, None] + state.pad + np.arange(-r, r + 1)  # [n, V]
    cols = pos[:, 1, None] + state.pad + np.arange(-r, r + 1)
    return occ[world[:, None, None], rows[:, :, None], cols[:, None, :]]


def _others_in_view(scenario: Scenario, window: np.ndarray, agent: int, r: int) -> str:
    names, teams = scenario.agent_names, scenario.teams
    others = []
    for y, x in np.argwhere((window >= 0) & (window != agent)).tolist():
        j = int(window[y, x])
        kind = "teammate" if teams[j] == teams[agent] else "rival"
        others.append(f"{names[j]} ({kind}, shown as {j}) {_direction_words((y - r, x - r))}")
    return "; ".join(others)


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
