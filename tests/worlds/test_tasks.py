"""The task generator: seeded streams, disjoint splits, pinned layouts, and tasks that run."""

from __future__ import annotations

import zlib
from itertools import islice

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

import worlds
from worlds.tasks import FAMILIES, LAYOUT_SEEDS, SPLITS, Task, tasks

FAMILY_NAMES = [*FAMILIES, "all"]


def draw(family: str, split: str = "train", n: int = 300, seed: int = 0) -> list[Task]:
    return list(islice(tasks(family, split, seed), n))


def knobs(task: Task) -> frozenset:
    """The config without its layout seed: what a held-out combination is about."""
    return frozenset((k, v) for k, v in task.config.items() if k != "layout_seed")


def start(task: Task) -> tuple[bytes, bytes]:
    """The terrain, and the whole start (terrain, positions, goals), after a PettingZoo reset."""
    env = task.make_parallel()
    env.reset(seed=0)
    w = env.world
    terrain = np.array(w.terrain.shape).tobytes() + w.terrain.tobytes()
    extra = b"".join(w.extra[name].tobytes() for name in sorted(w.extra))  # levels, flags, ...
    return terrain, terrain + w.pos.tobytes() + w.goal.tobytes() + extra


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_a_seeded_stream_is_reproducible(family):
    first, again = draw(family, n=40), draw(family, n=40)
    assert first == again and [t.config for t in first] == [t.config for t in again]
    assert [t.label for t in draw(family, n=40, seed=1)] != [t.label for t in first]
    assert [t.label for t in draw(family, "test", n=40)] != [t.label for t in first]
    assert worlds.tasks is tasks and next(worlds.tasks(family)) == first[0]


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_the_test_split_holds_out_knob_combinations_and_layout_seeds(family):
    train, test = draw(family, "train"), draw(family, "test")
    assert not {knobs(t) for t in train} & {knobs(t) for t in test}  # never the same config
    assert len({knobs(t) for t in test}) >= 4  # and not one single held-out config either
    for split, stream in (("train", train), ("test", test)):
        low, high = LAYOUT_SEEDS[split]
        assert all(t.split == split and low <= t.seed < high for t in stream)
        assert all(t.config["layout_seed"] == t.seed for t in stream)
    if family == "all":
        assert [t.family for t in train[:6]] == [*FAMILIES, *FAMILIES][:6]  # round the families


@pytest.mark.parametrize("family", FAMILIES)
def test_train_and_test_tasks_never_start_alike(family):
    train, test = draw(family, "train", 30), draw(family, "test", 30)
    train_starts = {start(t)[1] for t in train}
    assert not train_starts & {start(t)[1] for t in test}
    assert len(train_starts) == len(train)  # every task its own level
    # The terrain alone differs too, wherever the layout draws walls (an open tag arena is always
    # the same room, a forage field an open room with food on a lattice, a harvest field an open
    # room with a few apple patches in few places, a signal room an open room with 2-4 landmarks
    # on its 4-9 odd cells, so 60 of them share terrains in most streams: their tasks differ
    # in where the agents start, the levels, targets and regrowth or noise draws).
    walled = [
        t
        for t in train + test
        if (t.family, t.config.get("style")) != ("tag", "open")
        and t.family not in ("forage", "harvest", "signal")
    ]
    train_terrains = {start(t)[0] for t in walled if t.split == "train"}
    assert not train_terrains & {start(t)[0] for t in walled if t.split == "test"}


def test_labels_are_unique_and_readable_and_difficulty_is_in_range():
    stream = draw("all", n=600)
    assert len({t.label for t in stream}) == len(stream)
    assert stream[0].label.startswith("maze-") and stream[0].label.endswith(f"@{stream[0].seed}")
    assert all(0.0 <= t.difficulty <= 1.0 for t in stream)
    assert {t.scenario for t in stream} == {
        FAMILIES[f](np.random.default_rng(0), "train")[0] for f in FAMILIES
    }
    assert len({hash(t) for t in stream}) == len(stream)  # frozen and hashable (config aside)


# In harvest a larger field is easier (more room per apple patch): its difficulty falls with size.
@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "harvest"])
def test_difficulty_grows_with_size_all_else_equal(family):
    stream = draw(family, n=400) + draw(family, "test", n=400)
    by_rest: dict[frozenset, dict[int, float]] = {}
    for t in stream:
        rest = frozenset((k, v) for k, v in knobs(t) if k not in ("size", "max_cycles"))
        by_rest.setdefault(rest, {})[t.config["size"]] = t.difficulty
    pairs = 0
    for sizes in by_rest.values():
        ordered = [sizes[s] for s in sorted(sizes)]
        pairs += len(ordered) - 1
        assert ordered == sorted(ordered) and len(set(ordered)) == len(ordered)
    assert pairs > 10


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("family", FAMILIES)
def test_every_task_builds_and_steps_in_pettingzoo_and_in_batch(family, split):
    rng = np.random.default_rng(0)
    for task in draw(family, split, 4):
        env = task.make_parallel()
        obs, _ = env.reset(seed=1)
        for _ in range(10):
            if not env.agents:
                break
            actions = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
            obs, *_ = env.step(actions)
        batch = task.make_batch(3, seed=5)
        obs = batch.reset()
        assert (batch.world.terrain == batch.world.terrain[0]).all()  # one level in every world
        for _ in range(10):
            mask = obs["action_mask"]
            actions = np.array([[rng.choice(np.flatnonzero(m)) for m in world] for world in mask])
            obs, *_ = batch.step(actions)
    parallel_api_test(draw(family, split, 1)[0].make_parallel(), num_cycles=30)


def test_overrides_reach_the_scenario():
    task = next(tasks("maze"))
    assert task.make_scenario(max_cycles=9).max_cycles == 9
    assert task.make_parallel(render_mode="ansi").render_mode == "ansi"
    assert task.make_batch(2, obs_type="view").num_worlds == 2
    assert task.make_scenario().layout_seed == task.seed


def test_layout_seed_pins_the_layout_across_resets_seeds_and_worlds():
    env = worlds.make_parallel("maze_v0", size=11, num_agents=2, layout_seed=7)
    starts = []
    for seed in (0, 1, None, 123):
        env.reset(seed=seed)
        starts.append((env.world.terrain.copy(), env.world.pos.copy(), env.world.goal.copy()))
    for terrain, pos, goal in starts[1:]:
        assert np.array_equal(terrain, starts[0][0]) and np.array_equal(pos, starts[0][1])
        assert np.array_equal(goal, starts[0][2])
    batch = worlds.make_batch("plates_v0", 4, seed=3, layout_seed=7, max_cycles=3)
    batch.reset()
    first = batch.world.terrain.copy()
    assert (first == first[0]).all()
    for _ in range(3):  # to the end of the episode: every world auto-resets
        _, _, _, _, infos = batch.step(np.zeros((4, 2), np.int64))
    assert infos["done"].all() and np.array_equal(batch.world.terrain, first)
    other = worlds.make_parallel("maze_v0", size=11, num_agents=2, layout_seed=8)
    other.reset(seed=0)
    assert not np.array_equal(other.world.terrain, starts[0][0])
    with pytest.raises(ValueError, match="layout_seed must be >= 0"):
        worlds.make_scenario("maze_v0", layout_seed=-1)


# crc32 of (terrain, pos, goal) after `make_parallel(name).reset(seed)`, seeds 0, 1, 2, computed
# before `layout_seed` existed: without it, resets draw the very same layouts.
OLD_STARTS = {
    "maze_v0": [966341816, 3208779840, 1438119930],
    "plates_v0": [1550745592, 778147935, 4218422042],
    "tag_v0": [334539912, 2902714933, 1684842739],
}


@pytest.mark.parametrize("name", OLD_STARTS)
def test_without_a_layout_seed_resets_draw_the_layouts_they_always_did(name):
    env = worlds.make_parallel(name)
    for seed, expected in zip((0, 1, 2), OLD_STARTS[name], strict=True):
        env.reset(seed=seed)
        crc = 0
        for array in (env.world.terrain, env.world.pos, env.world.goal):
            crc = zlib.crc32(np.ascontiguousarray(array).tobytes(), crc)
        assert crc == expected


def test_unknown_family_or_split_is_a_value_error():
    with pytest.raises(ValueError, match="unknown task family 'mace'; known: maze, plates, tag, .*, all"):
        tasks("mace")
    with pytest.raises(ValueError, match="unknown split 'dev'; known: train, test"):
        tasks("maze", "dev")
