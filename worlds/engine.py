"""The rules every scenario shares, as functions of batched state: reset, moves, step.

Conflicts between moves are resolved by one fair rule, with no agent order:

* a move into a wall, a closed gate or off the map is blocked (the agent stays);
* agents that would end the step in the same cell are all blocked, and so is an agent moving
  into the cell of one that stays;
* two agents that would swap cells are both blocked (nobody walks through anybody);
* a ring of three or more agents each stepping into the next one's cell all move.

Blocking can cascade (A blocked, so B moving into A's cell is blocked too); it is repeated to a
fixed point, at most N rounds, each vectorized over all worlds and agents.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from worlds.cells import PASSABLE, VOID
from worlds.scenario import DELTAS, NOOP, Scenario
from worlds.state import State


def reset(scenario: Scenario, rngs: Sequence[np.random.Generator]) -> State:
    """A fresh episode in each world; world b draws its layout from `rngs[b]` alone."""
    layouts = [scenario.layout(rng) for rng in rngs]
    B, n, pad = len(layouts), scenario.num_agents, scenario.pad
    height, width = layouts[0].terrain.shape
    terrain = np.full((B, height + 2 * pad, width + 2 * pad), VOID, dtype=np.uint8)
    terrain[:, pad : pad + height, pad : pad + width] = [lay.terrain for lay in layouts]
    return State(
        terrain=terrain,
        pos=np.array([lay.pos for lay in layouts], dtype=np.int32).reshape(B, n, 2),
        alive=np.ones((B, n), dtype=bool),
        goal=np.array([lay.goal for lay in layouts], dtype=np.int32).reshape(B, n, 2),
        t=np.zeros(B, dtype=np.int32),
        pad=pad,
    )


def action_steps(scenario: Scenario, width: int) -> np.ndarray:
    """Flat-index offset of each action on a grid `width` cells wide (0 for noop and for
    interactions), int[A]."""
    return _action_steps(len(scenario.actions), width)


@lru_cache(maxsize=64)
def _action_steps(num_actions: int, width: int) -> np.ndarray:
    steps = np.zeros(num_actions, dtype=np.int64)
    steps[: len(DELTAS)] = DELTAS @ np.array([width, 1])
    return steps


@lru_cache(maxsize=64)
def _move_column(width: int) -> np.ndarray:
    """Flat-index offsets of the four moves as a column, int[4, 1]."""
    return _action_steps(len(DELTAS), width)[1:, None]


def action_mask(scenario: Scenario, state: State, here: np.ndarray | None = None) -> np.ndarray:
    """Legal actions, int8[B, N, A]: noop always; a move unless terrain blocks it; the
    scenario's interactions as it says. Agents out of the game may only noop."""
    if here is None:
        here = state.cell_index()
    moves = len(DELTAS)
    mask = np.empty((*here.shape, len(scenario.actions)), dtype=bool)
    # Gathered move-major, [4, B*N], so numpy's inner loops run over all agents rather than 4.
    target = here.reshape(-1) + _move_column(state.terrain.shape[2])
    passable = np.take(PASSABLE, np.take(state.terrain.reshape(-1), target))
    mask[..., 1:moves] = passable.T.reshape(*here.shape, moves - 1)
    mask[..., moves:] = scenario.interaction_mask(state)
    mask &= state.alive[..., None]
    mask[..., NOOP] = True
    return mask.view(np.int8)


def resolve_moves(scenario: Scenario, state: State, actions: np.ndarray) -> np.ndarray:
    """Move every live agent whose move survives the conflict rules; returns who moved."""
    here = state.cell_index()
    step = action_steps(scenario, state.terrain.shape[2])[actions]
    there = here + step
    moving = state.alive & (step != 0) & PASSABLE[state.terrain.reshape(-1)[there]]
    if state.num_agents > 1:
        moving = _fair_moves(here, there, moving, state.alive, state.terrain.size)
    # np.take on the [5, 2] table: ~10x faster than DELTAS[...] fancy indexing at large B.
    state.pos += np.take(DELTAS, np.where(moving, actions, NOOP), axis=0)
    return moving


def _fair_moves(
    here: np.ndarray, there: np.ndarray, moving: np.ndarray, alive: np.ndarray, size: int
) -> np.ndarray:
    """The moves that survive the conflict rules (module docstring), bool[B, N].

    Works on flat cell indices with one occupancy buffer over all worlds, so each rule is a
    scatter and a gather over the B*N agents, never a [B, N, N] comparison."""
    shape = moving.shape
    here, there, moving = here.reshape(-1), there.reshape(-1), moving.reshape(-1)
    ids = _agent_ids(moving.size)
    spare = size  # one cell past the grids: agents out of the game stand here, idle agents aim here
    who = np.empty(size + 1, dtype=np.int32)  # agent id in each cell; only read where written
    who[there] = -1
    who[np.where(alive.reshape(-1), here, spare)] = ids
    ahead = who[there]  # the live agent on my target cell now, -1 for none
    # Movers aiming at one cell: write them all there, read back who won the write; every
    # loser and every winner that some loser found are in a clash (whatever order numpy writes).
    aim = np.where(moving, there, spare)
    who[aim] = ids
    winner = who[aim]
    clash = winner != ids
    clash[winner[clash]] = True
    follow = moving & (ahead >= 0)  # movers stepping into a cell someone holds now
    swap = follow & (there[ahead] == here)  # ... who steps into mine (or stays: blocked anyway)
    moving = moving & ~(clash | swap)
    follow &= moving
    # Cascade: a mover stepping into the cell of one that stays is blocked, to a fixed point.
    while True:
        blocked = follow & ~moving[ahead]
        if not blocked.any():
            return moving.reshape(shape)
        moving ^= blocked
        follow ^= blocked


@lru_cache(maxsize=16)
def _agent_ids(count: int) -> np.ndarray:
    return np.arange(count, dtype=np.int32)


def step(
    scenario: Scenario, state: State, actions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Advance every world one step in place. `actions` int[B, N] must already be legal
    (see `check_actions`); actions of agents out of the game are ignored.

    Returns rewards float32[B, N], terminated bool[B, N], truncated bool[B, N] (true only on
    the step an agent leaves the game) and the scenario's event arrays.
    """
    acting = state.alive.copy()
    actions = np.where(acting, actions, NOOP)
    events = scenario.interact(state, actions)
    events["moved"] = resolve_moves(scenario, state, actions)
    rewards, terminated = scenario.judge(state, actions, events)
    terminated &= acting
    state.t += 1
    truncated = (state.t >= scenario.max_cycles)[:, None] & acting & ~terminated
    state.alive &= ~(terminated | truncated)
    rewards = np.where(acting, rewards, 0).astype(np.float32)
    return rewards, terminated, truncated, events


def check_actions(
    scenario: Scenario,
    state: State,
    actions: np.ndarray,
    mask: np.ndarray | None = None,
    illegal: str = "noop",
) -> np.ndarray:
    """Validate int actions [B, N]: out-of-range values always raise a ValueError naming the
    world, the agent and the legal set. A masked (in-range but not legal now) action becomes a
    noop, or raises too with `illegal="raise"`."""
    actions = np.asarray(actions)
    expected = (state.num_worlds, state.num_agents)
    if actions.shape != expected:
        raise ValueError(f"actions must have shape {expected} (worlds, agents), got {actions.shape}")
    if actions.dtype.kind not in "iu":
        if actions.dtype.kind not in "fb":
            raise ValueError(f"actions must be integers, got dtype {actions.dtype}")
        fractional = state.alive & (np.mod(actions, 1) != 0)
        if fractional.any():  # whole-number floats (from a float tensor, say) are accepted
            b, i = np.argwhere(fractional)[0]
            raise ValueError(_illegal_message(scenario, b, i, actions[b, i].item(), None))
        actions = actions.astype(np.int64)
    num_actions = len(scenario.actions)
    valid = (actions >= 0) & (actions < num_actions)
    if not valid.all():
        bad = state.alive & ~valid
        if bad.any():
            b, i = np.argwhere(bad)[0]
            raise ValueError(_illegal_message(scenario, b, i, actions[b, i], None))
        actions = np.where(valid, actions, NOOP)  # agents out of the game: anything goes
    if mask is None:
        mask = action_mask(scenario, state)
    chosen = mask.reshape(-1)[_row_starts(actions.size, num_actions) + actions.reshape(-1)]
    if not chosen.all():
        masked = state.alive & (chosen.reshape(actions.shape) == 0)
        if masked.any() and illegal == "raise":
            b, i = np.argwhere(masked)[0]
            raise ValueError(_illegal_message(scenario, b, i, actions[b, i], mask[b, i]))
        actions = np.where(masked, NOOP, actions)
    return actions


@lru_cache(maxsize=16)
def _row_starts(rows: int, num_actions: int) -> np.ndarray:
    return np.arange(rows) * num_actions


def _illegal_message(scenario: Scenario, b: int, i: int, action, legal_row) -> str:
    names = scenario.actions
    if legal_row is None:
        legal = ", ".join(f"{k}={a}" for k, a in enumerate(names))
        return f"{scenario.agent_names[i]} (world {b}): action {action!r} is not one of {legal}"
    legal = ", ".join(f"{k}={names[k]}" for k in np.flatnonzero(legal_row))
    return (
        f"{scenario.agent_names[i]} (world {b}): action {action!r} ({names[action]}) "
        f"is not legal now; legal: {legal}"
    )
