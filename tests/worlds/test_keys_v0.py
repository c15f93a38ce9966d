"""keys_v0's rules, table-driven from small ASCII maps (a map before, the actions, the map and
inventories after), its handover roles, generated layouts, views, text, batch == single and
config checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import worlds
from tests.worlds.test_rules import count_agents, side_by_side, write_map
from worlds import engine
from worlds.cells import DOOR, FLOOR, GOAL, KEY, OPEN_DOOR, PASSABLE
from worlds.observe import ascii_map
from worlds.scenario import Layout
from worlds.scenarios.keys_v0 import Keys, task_family
from worlds.seeding import Seeds

CODES = {".": 0, "n": 1, "s": 2, "e": 3, "w": 4, "p": 5, "d": 6, "t": 7}
INVENTORY = {"-": 0, "r": 1, "b": 2, "y": 3, "v": 4}  # what each agent carries, one char each


# (rule, actions per step, inventories after each step, frames: start then one map per step).
# Agents are drawn over the cell they stand on; a frame "WON" means the step reached the goal.
# fmt: off
RULES = [
    ("pickup takes the key underfoot; its cell becomes floor", "epw", "-rr", "0r.G  .0.G  .0.G  0..G"),
    ("pickup needs a key underfoot: masked elsewhere, a noop", "p", "-", "#0rG  #0rG"),
    ("keys are passable: agents walk over them", "ee", "--", "0r.#G  .0.#G  .r0#G"),
    ("pickup needs empty hands: the second key stays", "epepe", "-rrrr",
     "0rb.G  .0b.G  .0b.G  ..0.G  ..0.G  ..b0G"),
    ("drop puts the key on the plain floor underfoot", "epede", "-rr--",
     "0r..G  .0..G  .0..G  ..0.G  ..0.G  ..r0G"),
    ("drop needs plain floor: not on a key, not on an open door", "epeded", "-rrrrr",
     "0rb_G  .0b_G  .0b_G  ..0_G  ..0_G  ..b0G  ..b0G"),
    ("toggle opens the next door of the key's colour, keeps the key; the goal wins", "eptee", "-rrrr",
     "0rRG  .0RG  .0RG  .0_G  ..0G  WON"),
    ("toggle with the wrong colour does nothing", "ept", "-bb", "0bRG  .0RG  .0RG  .0RG"),
    ("toggle reaches the four neighbours, not the diagonals", "ept", "-rr", """
        #R#R  #R#R  #R#R  #R#R
        #0r#  #.0#  #.0#  #.0#
        ##RG  ##RG  ##RG  ##_G
    """),
    ("a locked door blocks, an open one lets through", "epete", "-yyyy",
     "0yYG  .0YG  .0YG  .0YG  .0_G  ..0G"),
    ("drop one key to pick up the next", "epedepe", "-rr--bb",
     "0r.b.G  .0.b.G  .0.b.G  ..0b.G  ..0b.G  ..r0.G  ..r0.G  ..r.0G"),
]
# fmt: on


def build(tmp_path: Path, picture: str, **config):
    path = write_map(tmp_path, picture)
    env = worlds.make_parallel(
        "keys_v0", map=str(path), num_agents=count_agents(picture), render_mode="ansi", **config
    )
    env.reset(seed=0)
    assert env.render() == picture
    return env


@pytest.mark.parametrize(("rule", "actions", "held", "maps"), RULES, ids=[r[0].split(":")[0] for r in RULES])
def test_rules(rule: str, actions: str, held: str, maps: str, tmp_path: Path) -> None:
    """One agent; `actions` and `held` hold one character per step."""
    start, *after = side_by_side(maps)
    env = build(tmp_path, start, max_cycles=20)
    for n, (act, inventory, expected) in enumerate(zip(actions, held, after, strict=True), 1):
        _, rewards, terminated, truncated, _ = env.step({"agent_0": CODES[act]})
        where = f"{rule}, step {n}"
        assert env.world.extra["inventory"][0].tolist() == [INVENTORY[inventory]], where
        if expected == "WON":
            assert rewards == {"agent_0": pytest.approx(1 - 0.9 * n / 20)} and terminated["agent_0"], where
            continue
        assert env.render() == expected and rewards == {"agent_0": 0.0}, where
        assert not terminated["agent_0"] and not truncated["agent_0"], where


def test_masks_match_what_would_happen(tmp_path: Path) -> None:
    """Each interaction is legal exactly when it changes the world (random legal play on maps)."""
    env = build(tmp_path, "0rRb.\n.yBG.\n#v_Y.", max_cycles=60)
    rng = np.random.default_rng(0)
    for _ in range(60):
        if not env.agents:
            break
        mask = env._mask[0, 0]
        for action in (5, 6, 7):
            trial = env.world.copy()
            events = env.scenario.interact(trial, np.array([[action]]))
            changed = not np.array_equal(trial.terrain, env.world.terrain) or not np.array_equal(
                trial.extra["inventory"], env.world.extra["inventory"]
            )
            assert bool(mask[action]) == changed == bool(events["interacted"][0, 0])
        env.step({"agent_0": int(rng.choice(np.flatnonzero(mask)))})


def test_goal_wins_for_the_team_with_the_time_bonus(tmp_path: Path) -> None:
    env = build(tmp_path, "0G.1", max_cycles=10)
    _, rewards, terminated, truncated, _ = env.step({"agent_0": 3, "agent_1": 0})
    assert rewards == {"agent_0": pytest.approx(0.91), "agent_1": pytest.approx(0.91)}
    assert terminated == {"agent_0": True, "agent_1": True} and not any(truncated.values())
    assert env.agents == []


def test_truncated_without_the_goal(tmp_path: Path) -> None:
    env = build(tmp_path, "0rRG", max_cycles=2)
    env.step({"agent_0": 0})
    _, rewards, terminated, truncated, _ = env.step({"agent_0": 0})
    assert rewards == {"agent_0": 0.0} and truncated == {"agent_0": True} and not terminated["agent_0"]


# -- handover ------------------------------------------------------------------------------------
def handover_state(picture: str):
    """A handover world whose map is `picture` (its split wall in the generator's column)."""
    scenario = Keys(num_agents=2, handover=True, size=5)
    state = engine.reset(scenario, [np.random.default_rng(0)])
    rows = picture.splitlines()
    cells = state.cells()[0]
    assert cells.shape == (len(rows), len(rows[0]))
    for r, row in enumerate(rows):
        for c, char in enumerate(row):
            cells[r, c] = worlds.cells.CELL_OF["." if char.isdigit() else char]
            if char.isdigit():
                state.pos[0, int(char)] = (r, c)
    assert ascii_map(scenario, state) == picture
    return scenario, state


# The split wall is column 3 (rooms 2 cells wide inside); its gap, the hatch, is row 1.
HANDOVER = """\
##########
#0r.1.R.G#
#..#..#..#
#..#..#..#
##########"""


def test_handover_roles() -> None:
    """Only agent 0 picks up keys west of the split wall; only agent 1 toggles; the hatch (and
    anything east of the wall) is where agent 1 may take a key agent 0 dropped."""
    scenario, state = handover_state(HANDOVER)
    assert scenario.hatch_col == 3
    inventory, cells = state.extra["inventory"][0], state.cells()[0]

    def legal(agent: int, action: int, at: tuple[int, int], other_at: tuple[int, int]) -> bool:
        state.pos[0, agent], state.pos[0, 1 - agent] = at, other_at
        return bool(engine.action_mask(scenario, state)[0, agent, action])

    assert not legal(1, 5, (1, 2), (2, 1))  # agent 1 on the west key: no pickup
    engine.step(scenario, state, np.array([[0, 5]]))
    assert inventory.tolist() == [0, 0] and cells[1, 2] == KEY
    assert legal(0, 5, (1, 2), (1, 4))
    engine.step(scenario, state, np.array([[5, 0]]))
    assert inventory.tolist() == [1, 0]
    assert not legal(0, 7, (1, 5), (2, 1))  # agent 0 with the key beside the door: no toggle
    engine.step(scenario, state, np.array([[7, 0]]))
    assert cells[1, 6] == DOOR
    assert legal(0, 6, (1, 3), (2, 4))  # agent 0 drops the key on the hatch
    engine.step(scenario, state, np.array([[6, 0]]))
    assert inventory.tolist() == [0, 0] and cells[1, 3] == KEY
    assert legal(1, 5, (1, 3), (1, 2))  # agent 1 takes it there
    engine.step(scenario, state, np.array([[0, 5]]))
    assert inventory.tolist() == [0, 1]
    assert legal(1, 7, (1, 5), (1, 2))
    engine.step(scenario, state, np.array([[0, 7]]))
    assert cells[1, 6] == OPEN_DOOR


# -- generated layouts ---------------------------------------------------------------------------
def reachable(terrain: np.ndarray, start, opened: set[int]) -> np.ndarray:
    free = PASSABLE[terrain] | np.isin(terrain, [DOOR + k for k in opened])
    seen = np.zeros_like(free)
    seen[tuple(start)] = True
    frontier = [tuple(start)]
    while frontier:
        r, c = frontier.pop()
        for dr, dc in ((-1, 0), (1, 0), (0, 1), (0, -1)):
            if free[r + dr, c + dc] and not seen[r + dr, c + dc]:
                seen[r + dr, c + dc] = True
                frontier.append((r + dr, c + dc))
    return seen


def generated(scenario: Keys, count: int, seed: int = 0) -> list[Layout]:
    """`count` generated layouts, world k's from seed + k, drawn in one batched call."""
    lay = scenario.layouts(Seeds(count, seed).draws())
    return [Layout(lay.terrain[k], lay.pos[k], lay.goal[k]) for k in range(count)]


CONFIGS = [
    {},
    {"num_doors": 3, "distractors": 2},
    {"num_doors": 2, "colours": "yv", "size": 9},
    {"num_agents": 2, "handover": True, "num_doors": 2, "distractors": 1},
    {"num_agents": 2},
]


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_generated_layouts_are_solvable_in_order(config: dict) -> None:
    scenario = Keys(**config)
    for seed, lay in enumerate(generated(scenario, 300)):
        terrain = lay.terrain
        doors = terrain[(terrain >= DOOR) & (terrain < DOOR + 4)] - DOOR
        keys = terrain[(terrain >= KEY) & (terrain < KEY + 4)] - KEY
        assert len(doors) == scenario.num_doors == len(set(doors.tolist()))
        assert len(keys) == scenario.num_doors + scenario.distractors
        assert set(keys.tolist()) <= {scenario.palette.tolist()[i] for i in range(len(scenario.colours))}
        assert (terrain == GOAL).sum() == 1 and (lay.goal == np.argwhere(terrain == GOAL)[0]).all()
        assert all(terrain[tuple(p)] == FLOOR for p in lay.pos) and len({tuple(p) for p in lay.pos}) == len(
            lay.pos
        )
        opened: set[int] = set()
        fetcher = lay.pos[0]
        for _ in range(scenario.num_doors):  # each next door's key is reachable before it opens
            seen = reachable(terrain, fetcher, opened)
            here = terrain[seen]
            usable = {int(k) - KEY for k in here if KEY <= k < KEY + 4} - opened
            frontier = {int(d) for d in doors} - opened
            next_door = [d for d in frontier if d in usable]
            assert next_door, (seed, terrain)
            opened.add(next_door[0])
        assert reachable(terrain, fetcher, opened)[tuple(lay.goal[0])]
        if scenario.handover:
            west = terrain[:, : scenario.hatch_col]
            assert ((west >= KEY) & (west < KEY + 4)).sum() == len(keys)
            assert lay.pos[0, 1] < scenario.hatch_col < lay.pos[1, 1]
            assert terrain[:, scenario.hatch_col].tolist().count(FLOOR) == 1
            assert not reachable(terrain, lay.pos[1], set())[tuple(lay.goal[0])]
        else:
            assert not reachable(terrain, lay.pos[0], set())[tuple(lay.goal[0])]


def test_distractors_take_colours_no_door_has() -> None:
    scenario = Keys(num_doors=2, distractors=3, colours="rby", size=9)
    for lay in generated(scenario, 50):
        terrain = lay.terrain
        doors = set((terrain[(terrain >= DOOR) & (terrain < DOOR + 4)] - DOOR).tolist())
        keys = (terrain[(terrain >= KEY) & (terrain < KEY + 4)] - KEY).tolist()
        spare = {0, 1, 2} - doors
        assert sorted(keys) == sorted(list(doors) + [spare.pop()] * 3)


# -- views and text ------------------------------------------------------------------------------
def test_views_show_what_agents_carry(tmp_path: Path) -> None:
    env = build(tmp_path, "0y1b.\n....G", max_cycles=20)
    env.step({"agent_0": 3, "agent_1": 3})  # onto the yellow and the blue key
    obs, *_ = env.step({"agent_0": 5, "agent_1": 5})
    view0, view1 = obs["agent_0"]["view"], obs["agent_1"]["view"]
    r = env.scenario.view_size // 2
    assert view0[r, r, 3] == 3 and view0[r, r + 2, 3] == 2  # itself: yellow; agent 1: blue
    assert view1[r, r, 3] == 2 and view1[r, r - 2, 3] == 3
    assert (view0[..., 3] > 0).sum() == 2
    assert obs["agent_0"]["inventory"] == 3 and obs["agent_1"]["inventory"] == 2
    assert env.observation_space("agent_0").contains(obs["agent_0"])


def test_text_view_says_what_the_agent_carries(tmp_path: Path) -> None:
    path = write_map(tmp_path, "0rRG")
    env = worlds.make_parallel("keys_v0", map=str(path), obs_type="text")
    env.reset(seed=0)
    obs, *_ = env.step({"agent_0": 3})
    text = obs["agent_0"]["text"]
    assert "You carry nothing." in text and "You stand on red key." in text
    assert (
        "Legal actions: noop, west, pickup." in text and "r red key" in text and "R locked red door" in text
    )
    assert env.scenario.sprites(env.world, 0) == []
    obs, *_ = env.step({"agent_0": 5})
    text = obs["agent_0"]["text"]
    assert "You carry a red key." in text and "You stand on floor." in text
    assert "Legal actions: noop, west, drop, toggle." in text
    assert [line.strip() for line in text.splitlines() if "@R" in line] == [".@RG"]  # the state's map
    (sprite,) = env.scenario.sprites(env.world, 0)
    assert (sprite.row, sprite.col, sprite.kind, sprite.colour) == (0, 1, "carried_key", (220, 50, 50))


def test_batch_equals_single_envs() -> None:
    B, seed = 3, 5
    for config in ({"num_doors": 2, "distractors": 1, "max_cycles": 40}, {"num_agents": 2, "handover": True}):
        batch = worlds.make_batch("keys_v0", B, seed=seed, **config)
        obs = batch.reset()
        singles = [worlds.make_parallel("keys_v0", **config) for _ in range(B)]
        single_obs = [env.reset(seed=seed + b)[0] for b, env in enumerate(singles)]
        rng = np.random.default_rng(0)
        live = np.ones(B, bool)
        for _ in range(40):
            for b, env in enumerate(singles):
                if not live[b]:
                    continue
                for i, agent in enumerate(env.possible_agents):
                    if agent in single_obs[b]:
                        assert np.array_equal(single_obs[b][agent]["view"], obs["view"][b, i])
                        assert np.array_equal(single_obs[b][agent]["action_mask"], obs["action_mask"][b, i])
                        assert single_obs[b][agent]["inventory"] == obs["inventory"][b, i]
            pick = (obs["action_mask"] * rng.random(obs["action_mask"].shape)).argmax(-1)
            obs, _, _, _, infos = batch.step(pick)
            for b, env in enumerate(singles):
                if live[b]:
                    acts = {a: int(pick[b, env.possible_agents.index(a)]) for a in env.agents}
                    single_obs[b] = env.step(acts)[0]
                    live[b] &= bool(env.agents) and not infos["done"][b]


# -- config ---------------------------------------------------------------------------------------
BAD = [
    ({"num_agents": 3}, "num_agents"),
    ({"size": 4}, "size"),
    ({"size": 26}, "size"),
    ({"num_doors": 0}, "num_doors"),
    ({"num_doors": 4}, "num_doors"),
    ({"num_doors": 2, "colours": "r"}, "num_doors"),
    ({"distractors": -1}, "distractors"),
    ({"distractors": 7}, "distractors"),
    ({"distractors": 1, "colours": "r"}, "distractors"),
    ({"distractors": 6, "size": 5}, "size"),
    ({"colours": "rx"}, "colours"),
    ({"colours": ""}, "colours"),
    ({"colours": "rr"}, "colours"),
    ({"handover": True}, "handover"),
    ({"handover": True, "num_agents": 2, "map": "keys_doors"}, "handover"),
]


@pytest.mark.parametrize(("config", "option"), BAD, ids=[str(c) for c, _ in BAD])
def test_bad_config_names_the_option(config: dict, option: str) -> None:
    with pytest.raises(ValueError, match=option):
        Keys(**config)


def test_shipped_map_runs() -> None:
    env = worlds.make_parallel("keys_v0", map="keys_doors", render_mode="ansi")
    obs, _ = env.reset(seed=0)
    assert env.scenario.grid_map.terrain[tuple(env.world.goal[0, 0])] == GOAL
    rng = np.random.default_rng(0)
    while env.agents:
        obs, *_ = env.step({a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents})


def test_task_family_splits_are_disjoint() -> None:
    rng = np.random.default_rng(0)
    train = [task_family(rng, "train") for _ in range(200)]
    test = [task_family(rng, "test") for _ in range(200)]
    key = lambda config: tuple(sorted(config.items()))  # noqa: E731
    assert not {key(c) for c, _ in train} & {key(c) for c, _ in test}
    for config, difficulty in train + test:
        Keys(**config)  # every drawn config is valid
        assert difficulty > 0
    with pytest.raises(ValueError, match="split"):
        task_family(rng, "validation")
