"""The rules, table-driven from small ASCII maps: a map before, the actions, the map after.

Maps are drawn side by side, separated by spaces (a space is not a map character): the first is
the start, each next one the map after one step. Agents are digits; one action character per
agent: `.` noop, `n` `s` `e` `w` moves, `t` tag, `-` for an agent out of the game.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import worlds
from worlds import engine
from worlds.observe import ascii_map

CODES = {".": 0, "n": 1, "s": 2, "e": 3, "w": 4, "t": 5}


def side_by_side(text: str) -> list[str]:
    """Maps drawn side by side -> one string per map."""
    rows = [line.split() for line in textwrap.dedent(text).strip().splitlines()]
    assert len({len(row) for row in rows}) == 1, "every row needs one piece per map"
    return ["\n".join(row[k] for row in rows) for k in range(len(rows[0]))]


def count_agents(picture: str) -> int:
    return sum(char.isdigit() for char in picture)


def write_map(tmp_path: Path, picture: str) -> Path:
    path = tmp_path / "map.txt"
    path.write_text(picture + "\n", encoding="utf-8")
    return path


def build(tmp_path: Path, name: str, picture: str, **config):
    """A scenario and a one-world State with the agents where the picture puts them."""
    path = write_map(tmp_path, picture)
    scenario = worlds.make_scenario(name, map=str(path), num_agents=count_agents(picture), **config)
    state = engine.reset(scenario, [np.random.default_rng(0)])
    assert ascii_map(scenario, state) == picture  # the helper reads back what it was given
    return scenario, state


def actions_of(code: str) -> np.ndarray:
    return np.array([[CODES[c] for c in code]])


# -- moves: (rule, actions, before -> after) ------------------------------------------------
# Run through `engine.step` with raw actions (no mask), so the engine itself must block.
# maze_v0 needs a goal G; it sits where nobody steps onto it.
# fmt: off
MOVES = [
    ("floor lets through", "e", "0.G  .0G"),
    ("a plate is floor to walk on", "e", "0PG  .0G"),
    ("an open gate lets through", "e", "0dG  .0G"),
    ("a wall blocks", "e", "0#G  0#G"),
    ("a closed gate blocks", "e", "0DG  0DG"),
    ("off the map (void) blocks, west", "w", "0.G  0.G"),
    ("off the map (void) blocks, north", "n", "0.G  0.G"),
    ("two into one cell: both blocked", "ew", "0.1G  0.1G"),
    ("into an agent that stays: blocked", "e.", "01.G  01.G"),
    ("swap: both blocked", "ew", "01.G  01.G"),
    ("follow an agent moving away: a chain of 3 moves", "eee", "012.G  .012G"),
    ("follow in a column", "nn", """
        .  0
        0  1
        1  .
        G  G
    """),
    ("cascade: the head is blocked by a wall, so all are", "ee", "01#G  01#G"),
    ("cascade: the head clashes, so the follower is blocked", "eew", "01.2G  01.2G"),
    ("clash over a cell being vacated: the clashing two stay, the leaver goes", "ees", """
        .2.G  .2.G
        01..  0.1.
    """),
    ("a ring of 4 rotates: all move", "eswn", """
        01.  30.
        32G  21G
    """),
    ("a ring of 4 with a cell contested from outside: nobody moves", "eswne", """
        401G  401G
        #32.  #32.
    """),
]
# fmt: on


@pytest.mark.parametrize(("rule", "actions", "maps"), MOVES, ids=[row[0] for row in MOVES])
def test_moves(rule: str, actions: str, maps: str, tmp_path: Path) -> None:
    before, after = side_by_side(maps)
    scenario, state = build(tmp_path, "maze_v0", before)
    engine.step(scenario, state, actions_of(actions))
    assert ascii_map(scenario, state) == after, rule


def test_agents_out_of_the_game_do_not_block(tmp_path: Path) -> None:
    scenario, state = build(tmp_path, "maze_v0", "01.G")
    state.alive[0, 1] = False
    engine.step(scenario, state, actions_of("e."))
    assert ascii_map(scenario, state) == ".0.G"


def test_masked_moves_become_noops_in_the_env(tmp_path: Path) -> None:
    env = worlds.make_parallel("maze_v0", map=str(write_map(tmp_path, "#0#G")), render_mode="ansi")
    env.reset(seed=0)
    _, rewards, _, _, _ = env.step({"agent_0": CODES["e"]})
    assert env.render() == "#0#G" and rewards == {"agent_0": 0.0}


# -- scenario stories: several steps, with rewards and who leaves the game ------------------
@dataclass(frozen=True)
class Step:
    actions: str
    rewards: tuple[float | None, ...]  # None: the agent is not in this step's dicts
    outcome: str  # per agent: `.` plays on, `T` terminated, `R` truncated, `-` not in the step


@dataclass(frozen=True)
class Story:
    rule: str
    scenario: str
    frames: str
    steps: list[Step]
    config: dict = field(default_factory=dict)


PLATES = Story(
    "plates: gate opens only with both plates pressed at once, stays open; team rewards",
    "plates_v0",
    """
        ######  ######  ######  ######  ######  ######  ######
        #0P#G#  #.0#G#  #0P#G#  #.0#G#  #0P#G#  #0P#G#  #.P#G#
        #1PD.#  #1PD.#  #.1D.#  #.1d.#  #.P1.#  #.Pd1#  #.Pd.#
        ######  ######  ######  ######  ######  ######  ######
    """,
    [
        Step("e.", (0, 0), ".."),  # one of two plates pressed: closed
        Step("we", (0, 0), ".."),  # each plate pressed in turn, never both: closed
        Step("e.", (0.2, 0.2), ".."),  # both at the same step: D -> d, gate bonus for all
        Step("we", (0, 0), ".."),  # both leave the plates; agent 1 walks into the gate
        Step(".e", (0, 0), ".."),  # the gate is still open
        Step(".n", (1 - 0.9 * 6 / 20, 1 - 0.9 * 6 / 20), "TT"),  # one reaches G: all win, all end
    ],
    {"max_cycles": 20, "gate_bonus": 0.2},
)

MAZE = Story(
    "maze: own goal pays 1 - 0.9 t / max_cycles and removes the agent; another's goal is floor",
    "maze_v0",
    """
        ######  ######  ######  ######  ######  ######
        #G01G#  #G.0G#  #G..0#  #G.0G#  #G0.G#  #G..G#
        ######  ######  ######  ######  ######  ######
    """,
    [
        Step("ee", (0, 1 - 0.9 * 1 / 10), ".T"),  # agent 1 reaches its goal; 0 follows
        Step("e-", (0, None), ".-"),  # agent 0 on agent 1's goal: nothing special, no body there
        Step("w-", (0, None), ".-"),
        Step("w-", (0, None), ".-"),
        Step("w-", (1 - 0.9 * 5 / 10, None), "T-"),  # goals G are agent 0's (first) and 1's
    ],
    {"max_cycles": 10},
)

MAZE_TRUNCATED = Story(
    "maze: truncated at max_cycles",
    "maze_v0",
    """
        #0.G#  #.0G#  #..G#
    """,
    [Step("e", (0,), "."), Step(".", (0,), "R")],
    {"max_cycles": 2},
)

TAG_REACH = Story(
    "tag: catches the adjacent runner only, not diagonal, not at distance 2",
    "tag_v0",
    """
        #######  #######  #######
        #.....#  #.....#  #.....#
        #.12..#  #.1...#  #.1...#
        #..0.3#  #..0.3#  #..0.3#
        #######  #######  #######
    """,
    [
        Step("t...", (1, 0.1, -1, 0.1), "..T."),
        Step("..-.", (0, 0.1, None, 0.1), "..-."),  # the caught runner is gone from the dicts
    ],
    {"num_hunters": 1, "max_cycles": 10},
)

TAG_BEFORE_MOVES = Story(
    "tag: lands before moves, so a runner stepping away is caught and one stepping in is not",
    "tag_v0",
    """
        #######  #######
        #2.01.#  #.20..#
        #######  #######
    """,
    [Step("tee", (1, -1, 0.1), ".T.")],
    {"num_hunters": 1, "max_cycles": 10},
)

TAG_FREE_CELL = Story(
    "tag: a caught runner neither moves nor blocks; +1 per catch to every hunter",
    "tag_v0",
    """
        #######  #######
        #02...#  #01...#
        #.1..3#  #....3#
        #######  #######
    """,
    [Step("tn..", (1, 1, -1, 0.1), "..T.")],
    {"num_hunters": 2, "max_cycles": 10},
)

TAG_ONE_CATCH = Story(
    "tag: two hunters tagging one runner make one catch",
    "tag_v0",
    """
        #####  #####
        #021#  #0.1#
        #.3.#  #.3.#
        #####  #####
    """,
    [Step("tt..", (1, 1, -1, 0.1), "..T.")],
    {"num_hunters": 2, "max_cycles": 10},
)

TAG_CLEARED = Story(
    "tag: two catches pay +2 to each hunter; no runner left ends the hunters too",
    "tag_v0",
    """
        ######  ######
        #2013#  #....#
        ######  ######
    """,
    [Step("tt..", (2, 2, -1, -1), "TTTT")],
    {"num_hunters": 2, "max_cycles": 10},
)

TAG_RUNNERS_CANNOT_TAG = Story(
    "tag: a runner's tag is masked, so it is a noop",
    "tag_v0",
    """
        ####  ####
        #01#  #01#
        ####  ####
    """,
    [Step(".t", (0, 0.1), "..")],
    {"num_hunters": 1, "max_cycles": 10},
)

TAG_TRUNCATED = Story(
    "tag: everyone left is truncated at max_cycles; a catch on that step terminates instead",
    "tag_v0",
    """
        #######  #######  #######
        #0.1.2#  #01..2#  #.....#
        #######  #######  #######
    """,
    [Step(".w.", (0, 0.5, 0.5), "..."), Step("t..", (1, -1, 0.5), "RTR")],
    {"num_hunters": 1, "max_cycles": 2},
)

STORIES = [PLATES, MAZE, MAZE_TRUNCATED, TAG_REACH, TAG_BEFORE_MOVES, TAG_FREE_CELL, TAG_ONE_CATCH]
STORIES += [TAG_CLEARED, TAG_RUNNERS_CANNOT_TAG, TAG_TRUNCATED]


@pytest.mark.parametrize("story", STORIES, ids=[story.rule.split(",")[0] for story in STORIES])
def test_story(story: Story, tmp_path: Path) -> None:
    start, *after = side_by_side(story.frames)
    assert len(after) == len(story.steps)
    path = write_map(tmp_path, start)
    env = worlds.make_parallel(
        story.scenario, map=str(path), num_agents=count_agents(start), render_mode="ansi", **story.config
    )
    env.reset(seed=0)
    names = env.possible_agents
    assert env.render() == start and env.agents == names
    for n, (step, expected_map) in enumerate(zip(story.steps, after, strict=True), start=1):
        where = f"{story.rule}, step {n}"
        actions = {a: CODES[c] for a, c in zip(names, step.actions, strict=True) if c != "-"}
        assert list(actions) == env.agents, f"{where}: the story acts for the agents in the game"
        obs, rewards, terminated, truncated, infos = env.step(actions)
        assert env.render() == expected_map, where
        in_step = [a for a, c in zip(names, step.outcome, strict=True) if c != "-"]
        for returned in (obs, rewards, terminated, truncated, infos):
            assert sorted(returned) == sorted(in_step), where
        expected_rewards = {a: r for a, r in zip(names, step.rewards, strict=True) if r is not None}
        assert rewards == pytest.approx(expected_rewards), where
        assert terminated == {a: step.outcome[names.index(a)] == "T" for a in in_step}, where
        assert truncated == {a: step.outcome[names.index(a)] == "R" for a in in_step}, where
        assert env.agents == [a for a, c in zip(names, step.outcome, strict=True) if c == "."], where


# -- shipped maps -----------------------------------------------------------------------------
SHIPPED = [("plates_v0", "plates_small", 2), ("maze_v0", "maze_classic", 1), ("tag_v0", "tag_arena", 4)]


@pytest.mark.parametrize(("name", "map_name", "num_agents"), SHIPPED)
def test_shipped_map_runs_a_random_episode(name: str, map_name: str, num_agents: int) -> None:
    grid = worlds.load_map(map_name)
    text = (worlds.maps.MAPS_DIR / f"{map_name}.txt").read_text(encoding="utf-8")
    assert text.startswith(";") and "Legend" in text
    assert sorted(grid.spawns) == list(range(num_agents))
    env = worlds.make_parallel(name, map=map_name, num_agents=num_agents)
    obs, _ = env.reset(seed=0)
    assert env.state()[..., 0].tolist() == grid.terrain.tolist()
    rng = np.random.default_rng(0)
    steps = 0
    while env.agents:
        actions = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
        obs, *_ = env.step(actions)
        steps += 1
    assert 1 <= steps <= env.scenario.max_cycles


def reachable(terrain: np.ndarray, start: tuple[int, int]) -> set[tuple[int, int]]:
    """Cells reachable from `start` with every gate open."""
    free = worlds.cells.PASSABLE[terrain] | (terrain == worlds.cells.GATE)
    seen, frontier = {start}, [start]
    while frontier:
        r, c = frontier.pop()
        for dr, dc in ((-1, 0), (1, 0), (0, 1), (0, -1)):
            cell = (r + dr, c + dc)
            inside = 0 <= cell[0] < terrain.shape[0] and 0 <= cell[1] < terrain.shape[1]
            if inside and free[cell] and cell not in seen:
                seen.add(cell)
                frontier.append(cell)
    return seen


@pytest.mark.parametrize("map_name", ["plates_small", "maze_classic"])
def test_shipped_goal_is_reachable(map_name: str) -> None:
    grid = worlds.load_map(map_name)
    for spawn in grid.spawns.values():
        assert tuple(grid.goals[0]) in reachable(grid.terrain, spawn)
