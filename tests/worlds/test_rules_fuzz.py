"""The engine's rules against plain statements of them, on random crowded worlds.

The references compare every pair of agents ([B, N, N]), as the rules read; the engine works on
flat cell indices instead. They must agree agent for agent.
"""

from __future__ import annotations

import numpy as np
import pytest

import worlds
from worlds import engine
from worlds.cells import FLOOR, VOID, WALL
from worlds.scenario import DELTAS, NOOP
from worlds.state import State


def reference_moves(state: State, actions: np.ndarray) -> np.ndarray:
    """Who moves, pairwise: walls block; swaps block both; agents ending in one cell are all
    blocked (a stayer included, so a move into it is blocked), repeated to a fixed point."""
    p = state.pad
    there = state.pos + DELTAS[actions]
    b = np.arange(state.num_worlds)[:, None]
    open_cell = state.terrain[b, there[..., 0] + p, there[..., 1] + p] == FLOOR
    moving = state.alive & (actions != NOOP) & open_cell
    n = state.num_agents
    others = state.alive[:, None, :] & state.alive[:, :, None] & ~np.eye(n, dtype=bool)
    same = lambda x, y: (x[:, :, None, :] == y[:, None, :, :]).all(-1)  # noqa: E731
    swap = same(there, state.pos) & same(state.pos, there)  # [b, i, j]: i and j trade cells
    moving = moving & ~(swap & others & moving[:, None, :]).any(-1)
    while True:
        end = np.where(moving[..., None], there, state.pos)
        blocked = moving & (same(end, end) & others).any(-1)
        if not blocked.any():
            return moving
        moving &= ~blocked


def random_worlds(rng: np.random.Generator, worlds_: int, agents: int, size: int, pad: int = 1) -> State:
    """Small open rooms with a few walls, crowded with agents (some out of the game, lying on
    cells that live agents may hold or enter)."""
    terrain = np.full((worlds_, size + 2 * pad, size + 2 * pad), VOID, dtype=np.uint8)
    inner = np.where(rng.random((worlds_, size, size)) < 0.15, WALL, FLOOR)
    inner[(inner == FLOOR).sum((1, 2)) < agents] = FLOOR  # room for everyone
    terrain[:, pad:-pad, pad:-pad] = inner
    pos = np.zeros((worlds_, agents, 2), dtype=np.int32)
    for w in range(worlds_):
        free = np.argwhere(inner[w] == FLOOR)
        pos[w] = free[rng.choice(len(free), agents, replace=False)]
    alive = rng.random((worlds_, agents)) < 0.85
    dead = np.argwhere(~alive)
    if len(dead):  # some agents out of the game lie where a live one stands
        pos[dead[::2, 0], dead[::2, 1]] = pos[dead[::2, 0], 0]
    goal = np.full((worlds_, agents, 2), -1, dtype=np.int32)
    return State(terrain, pos, alive, goal, np.zeros(worlds_, np.int32), pad)


@pytest.mark.parametrize("agents", [2, 3, 4, 6, 10])
def test_moves_match_the_pairwise_rules(agents: int) -> None:
    rng = np.random.default_rng(agents)
    scenario = worlds.make_scenario("maze_v0", num_agents=agents, view_size=3)
    blocked_some = moved_some = 0
    for size in (4, 5, 6):
        for _ in range(5):
            state = random_worlds(rng, 300, agents, size)
            actions = rng.integers(0, 5, state.alive.shape)
            want = reference_moves(state, actions)
            start = state.pos.copy()
            moved = engine.resolve_moves(scenario, state, actions)
            np.testing.assert_array_equal(moved, want)
            np.testing.assert_array_equal(state.pos, start + DELTAS[np.where(want, actions, NOOP)])
            live = state.alive
            cells = [set(map(tuple, state.pos[w][live[w]])) for w in range(state.num_worlds)]
            assert all(len(c) == live[w].sum() for w, c in enumerate(cells)), "two live agents share a cell"
            blocked_some += int((state.alive & (actions != NOOP) & ~moved).sum())
            moved_some += int(moved.sum())
    assert blocked_some > 100 and moved_some > 100, "the worlds should be crowded enough to test conflicts"


def test_a_ring_of_four_all_move() -> None:
    """Four agents turning round a 2x2 block: nobody swaps, nobody shares, all move."""
    terrain = np.full((1, 4, 4), VOID, dtype=np.uint8)
    terrain[0, 1:3, 1:3] = FLOOR
    pos = np.array([[[0, 0], [0, 1], [1, 1], [1, 0]]], dtype=np.int32)
    state = State(
        terrain, pos, np.ones((1, 4), bool), np.full((1, 4, 2), -1, np.int32), np.zeros(1, np.int32), 1
    )
    scenario = worlds.make_scenario("maze_v0", num_agents=4, view_size=3)
    east, south, west, north = 3, 2, 4, 1
    moved = engine.resolve_moves(scenario, state, np.array([[east, south, west, north]]))
    assert moved.all()
    assert state.pos[0].tolist() == [[0, 1], [1, 1], [1, 0], [0, 0]]


@pytest.mark.parametrize(("agents", "hunters"), [(2, 1), (4, 2), (6, 3), (10, 4)])
def test_tags_match_the_pairwise_rule(agents: int, hunters: int) -> None:
    """A runner is caught when a live hunter next to it (one step, not diagonal) tags."""
    rng = np.random.default_rng(agents)
    scenario = worlds.make_scenario("tag_v0", num_agents=agents, num_hunters=hunters, view_size=3)
    hunter = scenario.teams == 0
    caught_some = 0
    for size in (4, 5, 6):
        state = random_worlds(rng, 500, agents, size)
        actions = rng.integers(0, len(scenario.actions), state.alive.shape)  # runners' tags too
        gap = np.abs(state.pos[:, :, None] - state.pos[:, None, :]).sum(-1)  # [B, tagger, runner]
        tagging = state.alive & hunter & (actions == scenario.actions.index("tag"))
        want = (tagging[:, :, None] & (gap == 1)).any(1) & state.alive & ~hunter
        alive = state.alive.copy()
        events = scenario.interact(state, actions)
        np.testing.assert_array_equal(events["caught"], want)
        np.testing.assert_array_equal(state.alive, alive & ~want)
        caught_some += int(want.sum())
    assert caught_some > 10, "the worlds should be crowded enough to test tags"
