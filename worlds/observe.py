"""What agents perceive: egocentric views, the global state, and the text view.

All three are read from the same `State`, so they always agree. A view is uint8[V, V, 3],
centred on the agent (north up, it does not turn), with channels:

    0  cell code (worlds.cells; VOID outside the map)
    1  who stands there, seen from the observer: 0 nobody, 1 itself, 2 a teammate, 3 a rival
    2  the observer's own goal: 1 on the goal cell when it is in view; when it is not, 2 on the
       view's edge cell in the goal's direction (a compass)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from worlds.cells import CHAR_TABLE, NAME_OF
from worlds.scenario import Scenario
from worlds.state import State

NOBODY, SELF, TEAMMATE, RIVAL = range(4)
VIEW_CHANNELS = 3


def relation_table(scenario: Scenario) -> np.ndarray:
    """uint8[N, N + 1]: what observer i sees of agent j (column j + 1; column 0 is nobody)."""
    teams = scenario.teams
    table = np.where(teams[:, None] == teams[None, :], TEAMMATE, RIVAL).astype(np.uint8)
    np.fill_diagonal(table, SELF)
    return np.concatenate([np.zeros((len(teams), 1), np.uint8), table], axis=1)


def occupancy(state: State) -> np.ndarray:
    """int8[B, H + 2*pad, W + 2*pad]: index of the live agent in each cell, -1 for none."""
    occ = np.full(state.terrain.shape, -1, dtype=np.int8)
    b, i = np.nonzero(state.alive)
    p = state.pad
    occ[b, state.pos[b, i, 0] + p, state.pos[b, i, 1] + p] = i
    return occ


def views(scenario: Scenario, state: State, here: np.ndarray | None = None) -> np.ndarray:
    """Every agent's egocentric view, uint8[B, N, V, V, 3].

    Each team gets its own packed copy of the grid, a byte per cell holding the cell code (low 3
    bits) and the occupant's relation to that team (next 2 bits), so all views are one `take` of
    V*V cells each; per observer there is only SELF to stamp on the centre and the goal marks."""
    if here is None:
        here = state.cell_index()
    B, N = here.shape
    V = scenario.view_size
    size = state.terrain.size + 1  # one spare cell per team copy, where agents out of the game go
    bits, offsets = _team_tables(tuple(scenario.teams), V, state.terrain.shape[2], size)
    packed = np.empty((len(bits), size), dtype=np.uint8)
    packed[:, :-1] = state.terrain.reshape(-1)
    stand = np.where(state.alive, here, size - 1)
    packed.reshape(-1)[stand + np.arange(len(bits))[:, None, None] * size] |= bits[:, None, :]
    seen = np.take(packed.reshape(-1), here[..., None] + offsets)  # [B, N, V*V]
    out = np.empty((B, N, V * V, VIEW_CHANNELS), dtype=np.uint8)
    out[..., 0] = seen & 7
    out[..., 1] = seen >> 3
    out[..., 2] = 0
    # A live observer stands at its own centre and reads as TEAMMATE (2) there; SELF is 1.
    out[:, :, V * V // 2, 1] -= state.alive
    _mark_goals(state, out, V)
    return out.reshape(B, N, V, V, VIEW_CHANNELS)


@lru_cache(maxsize=32)
def _team_tables(teams: tuple[int, ...], view_size: int, width: int, size: int):
    """Per team copy t: the packed relation bits of each agent seen by team t, uint8[T, N]; and
    per observer the flat offsets of its view window into its team's copy, int[N, V*V]."""
    teams = np.array(teams)
    num_teams = int(teams.max()) + 1
    same = np.arange(num_teams)[:, None] == teams[None, :]
    bits = (np.where(same, TEAMMATE, RIVAL) << 3).astype(np.uint8)
    r = view_size // 2
    span = np.arange(-r, r + 1)
    window = (span[:, None] * width + span[None, :]).reshape(-1)
    return bits, window[None, :] + teams[:, None] * size


def _mark_goals(state: State, out: np.ndarray, view_size: int) -> None:
    """Channel 2: 1 on the own goal in view, else 2 on the edge cell towards it (the compass)."""
    if state.goal[..., 0].max() < 0:
        return  # nobody has a goal of its own (tag)
    r = view_size // 2
    offset = state.goal - state.pos
    inside = (np.abs(offset) <= r).all(-1)
    edge = np.minimum(np.maximum(offset, -r), r) + r
    mark = np.where(inside, 1, 2) * (state.alive & (state.goal[..., 0] >= 0))
    B, N = mark.shape
    cell = edge[..., 0] * view_size + edge[..., 1]
    out[np.arange(B)[:, None], np.arange(N), cell, 2] = mark


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
