"""The rules every scenario shares, as functions of batched state: reset, moves, step.

Conflicts between moves are resolved by one fair rule, with no agent order:

* a move into a wall, a closed gate or off the map is blocked (the agent stays);
* agents that would end the step in the same cell are all blocked, and so is an agent moving
  into the cell of one that stays;
* two agents that would swap cells are both blocked (nobody walks through anybody);
* a ring of three or more agents each stepping into the next one's cell all move.

Blocking can cascade (A blocked, so B moving into A's cell is blocked too); it is repeated to a
fixed point. The rules run as compiled loops over worlds and agents (`worlds.kernels`), one call
per rule for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from worlds import kernels
from worlds.cells import VOID
from worlds.scenario import DELTAS, NOOP, Layout, Scenario
from worlds.seeding import Seeds
from worlds.state import State


def reset(
    scenario: Scenario, seeds: Seeds | Sequence[np.random.Generator], idx: np.ndarray | None = None
) -> State:
    """A fresh episode in each of the worlds `idx` of `seeds` (default: all), as a State of those
    worlds: world b draws its layout from its own streams alone (`worlds.seeding`), or, with a
    `layout_seed`, every world gets the one layout drawn from that seed. The scenario lays out
    all of them in one call (`Scenario.layouts`). (A list of generators, one per world, is
    accepted too: `Seeds.of_generators`.)"""
    if not isinstance(seeds, Seeds):
        seeds = Seeds.of_generators(seeds)
    lay = new_layouts(scenario, seeds, idx)
    B, n, pad = lay.pos.shape[0], scenario.num_agents, scenario.pad
    height, width = lay.terrain.shape[1:]
    terrain = np.full((B, height + 2 * pad, width + 2 * pad), VOID, dtype=np.uint8)
    terrain[:, pad : pad + height, pad : pad + width] = lay.terrain
    return State(
        terrain=terrain,
        pos=np.array(lay.pos, dtype=np.int32).reshape(B, n, 2),
        alive=np.ones((B, n), dtype=bool),
        goal=np.array(lay.goal, dtype=np.int32).reshape(B, n, 2),
        t=np.zeros(B, dtype=np.int32),
        pad=pad,
        extra={name: np.array(array) for name, array in lay.extra.items()},  # copies: worlds own them
    )


def new_layouts(scenario: Scenario, seeds: Seeds, idx: np.ndarray | None = None) -> Layout:
    """The layouts of new episodes in the worlds `idx` (default: all) as one batch Layout; a
    pinned `layout_seed` draws one layout, given to every world."""
    if scenario.layout_seed is None:
        return scenario.layouts(seeds.draws(idx))
    count = seeds.count if idx is None else len(np.atleast_1d(idx))
    one = scenario.layouts(Seeds(1, scenario.layout_seed).draws())
    return Layout(
        np.repeat(one.terrain, count, axis=0),
        np.repeat(one.pos, count, axis=0),
        np.repeat(one.goal, count, axis=0),
        {name: np.repeat(array, count, axis=0) for name, array in one.extra.items()},
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


def action_mask(scenario: Scenario, state: State, here: np.ndarray | None = None) -> np.ndarray:
    """Legal actions, int8[B, N, A]: noop always; a move unless terrain blocks it or the
    scenario holds the agent still (`can_move`); the scenario's interactions as it says.
    Agents out of the game or off the board may only noop.
    (`here`, the agents' flat cells, is accepted for callers that have it; the kernel reads
    `pos`.)"""
    mask = np.empty((*state.alive.shape, len(scenario.actions)), dtype=np.int8)
    interactions = scenario.interaction_mask(state)
    present = scenario.present(state)
    kernels.action_mask(state.terrain, state.pos, present, state.pad, interactions, mask)
    movers = scenario.can_move(state)
    if movers is not None:  # agents the scenario holds still (signal_v0's speaker) keep noop only
        mask[..., 1 : len(DELTAS)] &= movers[..., None]
    return mask


def resolve_moves(scenario: Scenario, state: State, actions: np.ndarray) -> np.ndarray:
    """Move every live agent whose move survives the conflict rules; returns who moved."""
    moved = np.empty(state.alive.shape, dtype=bool)
    present = scenario.present(state)
    kernels.move_agents(state.terrain, state.pos, present, _int64(actions), state.pad, moved)
    return moved


def _int64(actions) -> np.ndarray:
    """Actions as int64, the one type the kernels are compiled for (no copy when they are)."""
    return np.asarray(actions, dtype=np.int64)


def step(
    scenario: Scenario, state: State, actions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Advance every world one step in place. `actions` int[B, N] must already be legal
    (see `check_actions`); actions of agents out of the game are ignored.

    Returns rewards float32[B, N], terminated bool[B, N], truncated bool[B, N] (true only on
    the step an agent leaves the game) and the scenario's event arrays.
    """
    acting = state.alive.copy()
    actions = np.where(acting, actions, NOOP)  # a fresh array: interact may cancel moves in it
    events = scenario.interact(state, actions)
    events["moved"] = moved = resolve_moves(scenario, state, actions)
    np.copyto(state.last_move, actions, where=moved, casting="unsafe")
    rewards, terminated = scenario.judge(state, actions, events)
    shape = acting.shape
    if rewards.dtype != np.float64 or rewards.shape != shape:
        rewards = np.broadcast_to(np.asarray(rewards, dtype=np.float64), shape)
    if terminated.dtype != bool:
        terminated = terminated.astype(bool)
    out = np.empty(shape, dtype=np.float32)
    truncated = np.empty(shape, dtype=bool)
    kernels.finish_step(
        acting, rewards, terminated, state.t, scenario.max_cycles, state.alive, out, truncated
    )
    return out, terminated, truncated, events


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
    if mask is None:
        mask = action_mask(scenario, state)
    if actions.dtype == np.int64 and kernels.actions_legal(actions, mask, state.alive):
        return actions  # the common case, in one compiled pass: nothing to change or report
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
