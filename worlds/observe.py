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
    teams = np.asarray(scenario.teams, dtype=np.int64).tobytes()  # a cheap cache key
    bits, copies, offsets = _team_tables(teams, V, state.terrain.shape[2], size)
    packed = np.empty((len(bits), size), dtype=np.uint8)
    packed[:, :-1] = state.terrain.reshape(-1)
    stand = np.where(state.alive, here, size - 1)
    packed.reshape(-1)[stand + copies] |= bits[:, None, :]
    seen = np.take(packed.reshape(-1), here[..., None] + offsets)  # [B, N, V*V]
    out = np.zeros((B, N, V * V, VIEW_CHANNELS), dtype=np.uint8)  # zeros: channel 2 is mostly 0
    out[..., 0] = seen & 7
    out[..., 1] = seen >> 3
    # A live observer stands at its own centre and reads as TEAMMATE (2) there; SELF is 1.
    out[:, :, V * V // 2, 1] -= state.alive
    _mark_goals(state, out, V)
    return out.reshape(B, N, V, V, VIEW_CHANNELS)


@lru_cache(maxsize=32)
def _team_tables(teams: bytes, view_size: int, width: int, size: int):
    """Per team copy t: the packed relation bits of each agent seen by team t, uint8[T, N]; the
    start of each copy, int[T, 1, 1]; and per observer the flat offsets of its view window into
    its team's copy, int[N, V*V]. `teams` holds the int64 team of each agent, as bytes."""
    teams = np.frombuffer(teams, dtype=np.int64)
    num_teams = int(teams.max()) + 1
    same = np.arange(num_teams)[:, None] == teams[None, :]
    bits = (np.where(same, TEAMMATE, RIVAL) << 3).astype(np.uint8)
    r = view_size // 2
    span = np.arange(-r, r + 1)
    window = (span[:, None] * width + span[None, :]).reshape(-1)
    copies = np.arange(num_teams).reshape(-1, 1, 1) * size
    return bits, copies, window[None, :] + teams[:, None] * size


def _mark_goals(state: State, out: np.ndarray, view_size: int) -> None:
    """Channel 2: 1 on the own goal in view, else 2 on the edge cell towards it (the compass)."""
    goal = state.goal
    if goal[..., 0].max() < 0:
        return  # nobody has a goal of its own (tag)
    r = view_size // 2
    offset = goal - state.pos
    edge = np.minimum(np.maximum(offset, -r), r)
    beyond = offset - edge  # nonzero where the goal is out of view
    mark = (1 + ((beyond[..., 0] | beyond[..., 1]) != 0)) * (state.alive & (goal[..., 0] >= 0))
    # One flat write into `out` [B, N, V*V, 3]: no reductions or multi-array indexing, both
    # slow on the short axes here.
    cell = edge[..., 0] * (view_size * VIEW_CHANNELS) + edge[..., 1] * VIEW_CHANNELS
    out.reshape(-1)[_goal_channel(*mark.shape, view_size) + cell] = mark


@lru_cache(maxsize=32)
def _goal_channel(worlds: int, agents: int, view_size: int) -> np.ndarray:
    """Flat index into `out` of channel 2 at each observer's view centre, int[B, N]."""
    centre = (view_size // 2) * (view_size + 1)
    agent = np.arange(worlds * agents).reshape(worlds, agents)
    return (agent * view_size * view_size + centre) * VIEW_CHANNELS + 2


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
