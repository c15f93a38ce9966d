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

import numpy as np

from worlds.cells import PASSABLE, VOID
from worlds.scenario import DELTAS, NOOP, Scenario
from worlds.state import State


def reset(scenario: Scenario, rngs: Sequence[np.random.Generator]) -> State:
    """A fresh episode in each world; world b draws its layout from `rngs[b]` alone."""
    layouts = [scenario.layout(rng) for rng in rngs]
    pad = scenario.pad
    terrain = np.stack([np.pad(lay.terrain, pad, constant_values=VOID) for lay in layouts])
    n = scenario.num_agents
    return State(
        terrain=terrain,
        pos=np.stack([lay.pos for lay in layouts]).astype(np.int32).reshape(len(rngs), n, 2),
        alive=np.ones((len(rngs), n), dtype=bool),
        goal=np.stack([lay.goal for lay in layouts]).astype(np.int32).reshape(len(rngs), n, 2),
        t=np.zeros(len(rngs), dtype=np.int32),
        pad=pad,
    )


def move_targets(state: State, actions: np.ndarray) -> np.ndarray:
    """Where each agent's action would take it, ignoring other agents, int[B, N, 2]."""
    move = np.where(actions < len(DELTAS), actions, NOOP)
    return state.pos + DELTAS[move]


def passable_at(state: State, cells: np.ndarray) -> np.ndarray:
    """Whether the terrain at map cells int[B, N, 2] can be stood on, bool[B, N]."""
    b = np.arange(state.num_worlds)[:, None]
    p = state.pad
    return PASSABLE[state.terrain[b, cells[..., 0] + p, cells[..., 1] + p]]


def action_mask(scenario: Scenario, state: State) -> np.ndarray:
    """Legal actions, int8[B, N, A]: noop always; a move unless terrain blocks it; the
    scenario's interactions as it says. Agents out of the game may only noop."""
    p = state.pad
    b = np.arange(state.num_worlds)[:, None, None]
    around = state.pos[:, :, None, :] + DELTAS[None, None, 1:, :]  # [B, N, 4, 2]
    moves = PASSABLE[state.terrain[b, around[..., 0] + p, around[..., 1] + p]]
    extra = scenario.interaction_mask(state)
    mask = np.concatenate([np.ones((*moves.shape[:2], 1), bool), moves, extra], axis=-1)
    mask &= state.alive[..., None]
    mask[..., NOOP] = True
    return mask.view(np.int8)


def resolve_moves(state: State, actions: np.ndarray) -> np.ndarray:
    """Move every live agent whose move survives the conflict rules; returns who moved."""
    target = move_targets(state, actions)
    moving = state.alive & (target != state.pos).any(-1) & passable_at(state, target)
    n = state.num_agents
    if n > 1:
        others = state.alive[:, None, :] & state.alive[:, :, None] & ~np.eye(n, dtype=bool)
        width = state.terrain.shape[2]
        here = state.pos[..., 0] * width + state.pos[..., 1]
        there = target[..., 0] * width + target[..., 1]
        swap = (there[:, :, None] == here[:, None, :]) & (here[:, :, None] == there[:, None, :])
        moving &= ~(swap & others & moving[:, None, :]).any(-1)
        for _ in range(n):
            end = np.where(moving, there, here)
            clash = ((end[:, :, None] == end[:, None, :]) & others).any(-1)
            blocked = moving & clash
            if not blocked.any():
                break
            moving &= ~blocked
    state.pos[moving] = target[moving]
    return moving


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
    events["moved"] = resolve_moves(state, actions)
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
    if not np.issubdtype(actions.dtype, np.integer):
        if not np.all(np.mod(actions, 1) == 0):
            raise ValueError(f"actions must be integers, got dtype {actions.dtype}")
        actions = actions.astype(np.int64)
    bad = state.alive & ((actions < 0) | (actions >= len(scenario.actions)))
    if bad.any():
        b, i = np.argwhere(bad)[0]
        raise ValueError(_illegal_message(scenario, b, i, actions[b, i], None))
    if mask is None:
        mask = action_mask(scenario, state)
    chosen = np.take_along_axis(mask, np.clip(actions, 0, None)[..., None], -1)[..., 0]
    masked = state.alive & (chosen == 0)
    if masked.any():
        if illegal == "raise":
            b, i = np.argwhere(masked)[0]
            raise ValueError(_illegal_message(scenario, b, i, actions[b, i], mask[b, i]))
        actions = np.where(masked, NOOP, actions)
    return actions


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
