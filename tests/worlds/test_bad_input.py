"""Bad input fails loudly and says where: maps, actions, scenario names and config."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import worlds

# -- maps: (problem, file text, line, column, words in the message) --------------------------
BAD_MAPS = [
    ("ragged row, short", "###\n#0\n###\n", 2, 3, "2 cells wide, expected 3"),
    ("ragged row, long, after comments", "; legend\n; notes\n###\n#0.#\n###\n", 4, 4, "4 cells wide"),
    ("unknown character", "###\n#x#\n###\n", 2, 2, "unknown cell 'x'"),
    ("unknown character after a comment and a blank line", "; c\n\n#####\n#0.?#\n", 4, 4, "'?'"),
    ("a space is not a cell", "#.#\n# #\n#.#\n", 2, 2, "unknown cell ' '"),
    ("duplicate spawn digit", "#####\n#0.0#\n#####\n", 2, 4, "agent 0 spawns twice"),
    ("duplicate spawn digit after a comment", "; c\n#1.#\n#.1#\n", 3, 3, "agent 1 spawns twice"),
    ("empty file", "", 1, 1, "no rows"),
    ("only comments and blank lines", "; nothing\n\n; here\n\n", 1, 1, "no rows"),
]


@pytest.mark.parametrize(
    ("problem", "text", "line", "column", "words"), BAD_MAPS, ids=[row[0] for row in BAD_MAPS]
)
def test_bad_map_names_file_line_column(
    problem: str, text: str, line: int, column: int, words: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(worlds.MapError) as caught:
        worlds.load_map(path)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.line, error.column) == (line, column), problem
    assert str(error).startswith(f"{path}:{line}:{column}: "), problem
    assert words in str(error), problem


def test_parse_map_names_its_source() -> None:
    with pytest.raises(worlds.MapError, match=r"^arena\.txt:2:1: "):
        worlds.parse_map("#\nx\n", source="arena.txt")


def test_map_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("#é#\n".encode("latin-1"))
    with pytest.raises(worlds.MapError, match=f"^{re.escape(str(path))}:1:1: not UTF-8"):
        worlds.load_map(path)


def test_missing_map_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        worlds.load_map(tmp_path / "nowhere.txt")
    with pytest.raises(FileNotFoundError, match="no_such_map"):
        worlds.make_parallel("maze_v0", map="no_such_map")


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("maze_v0", "#0.#\n", "needs at least one goal cell 'G'"),
        ("plates_v0", "#01PP.G#\n", "needs at least one 'D' cell"),
        ("plates_v0", "#01.D.G#\n", "needs at least one 'P' cell"),
    ],
)
def test_map_missing_what_the_scenario_needs(name: str, text: str, words: str, tmp_path: Path) -> None:
    path = tmp_path / "map.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(worlds.MapError, match=f"^{re.escape(str(path))}:1:1: .*{words}"):
        worlds.make_parallel(name, map=str(path)).reset(seed=0)


# -- actions ------------------------------------------------------------------------------
MAZE_LEGAL = "0=noop, 1=north, 2=south, 3=east, 4=west"


@pytest.mark.parametrize("action", [5, -1, 1.5, 2.0, "north", None, np.array([1, 2])], ids=repr)
def test_parallel_env_rejects_bad_actions(action) -> None:
    env = worlds.make_parallel("maze_v0")
    env.reset(seed=0)
    with pytest.raises(ValueError) as caught:
        env.step({"agent_0": action})
    assert "agent_0" in str(caught.value) and MAZE_LEGAL in str(caught.value)


def test_parallel_env_accepts_numpy_ints() -> None:
    env = worlds.make_parallel("maze_v0")
    env.reset(seed=0)
    env.step({"agent_0": np.int64(0)})
    env.step({"agent_0": np.array(0)})
    assert env.world.t.tolist() == [2]


def test_tag_lists_its_interaction() -> None:
    env = worlds.make_parallel("tag_v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=f"runner_1: action 6 is not one of {MAZE_LEGAL}, 5=tag"):
        env.step({"runner_1": 6})


def test_unknown_agent() -> None:
    env = worlds.make_parallel("tag_v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="'agent_9'.*hunter_0, hunter_1, runner_0, runner_1"):
        env.step({"agent_9": 0})


BAD_BATCH_ACTIONS = [
    ("out of range", [[0, 0], [0, 5]], ["agent_1 (world 1)", "5", MAZE_LEGAL]),
    ("negative", [[0, -1], [0, 0]], ["agent_1 (world 0)", "-1", MAZE_LEGAL]),
    ("not a whole number", [[0, 0], [1.5, 0]], ["agent_0 (world 1)", "1.5", MAZE_LEGAL]),
    ("one world too few", [[0, 0]], ["shape (2, 2)", "(1, 2)"]),
    ("flat", [0, 0, 0, 0], ["shape (2, 2)", "(4,)"]),
    ("one agent too many", [[0, 0, 0], [0, 0, 0]], ["shape (2, 2)", "(2, 3)"]),
]


@pytest.mark.parametrize(
    ("problem", "actions", "words"), BAD_BATCH_ACTIONS, ids=[row[0] for row in BAD_BATCH_ACTIONS]
)
def test_batch_rejects_bad_actions(problem: str, actions: list, words: list[str]) -> None:
    batch = worlds.make_batch("maze_v0", num_worlds=2, seed=0, num_agents=2)
    batch.reset()
    with pytest.raises(ValueError) as caught:
        batch.step(np.array(actions))
    for word in words:
        assert word in str(caught.value), problem


CORNERED = "####\n#0.G\n####\n"  # agent 0 may only wait or go east


@pytest.fixture
def cornered(tmp_path: Path) -> str:
    path = tmp_path / "cornered.txt"
    path.write_text(CORNERED, encoding="utf-8")
    return str(path)


def test_masked_move_raises_when_asked(cornered: str) -> None:
    env = worlds.make_parallel("maze_v0", map=cornered, illegal="raise")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"agent_0 .*north.* not legal now; legal: 0=noop, 3=east$"):
        env.step({"agent_0": 1})
    batch = worlds.make_batch("maze_v0", num_worlds=1, seed=0, map=cornered, illegal="raise")
    batch.reset()
    with pytest.raises(ValueError, match=r"agent_0 \(world 0\).*west.*legal: 0=noop, 3=east$"):
        batch.step(np.array([[4]]))


def test_masked_move_is_a_noop_by_default(cornered: str) -> None:
    env = worlds.make_parallel("maze_v0", map=cornered, render_mode="ansi")
    env.reset(seed=0)
    env.step({"agent_0": 1})
    assert env.render() == CORNERED.strip()
    batch = worlds.make_batch("maze_v0", num_worlds=1, seed=0, map=cornered)
    batch.reset()
    batch.step(np.array([[1]]))
    assert batch.world.pos.tolist() == [[[1, 1]]]


# -- scenario names and config ---------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [worlds.make_parallel, worlds.make_env, worlds.make_scenario, lambda name: worlds.make_batch(name, 1)],
    ids=["make_parallel", "make_env", "make_scenario", "make_batch"],
)
def test_unknown_scenario_lists_the_known_ones(make) -> None:
    with pytest.raises(ValueError) as caught:
        make("chess_v0")
    assert "'chess_v0'" in str(caught.value)
    for name in worlds.SCENARIOS:
        assert name in str(caught.value)


BAD_CONFIG = [
    ("maze_v0", {"size": 8}, "odd"),
    ("maze_v0", {"size": 3}, "at least 5"),
    ("maze_v0", {"style": "spiral"}, "style"),
    ("maze_v0", {"view_size": 6}, "view_size"),
    ("tag_v0", {"view_size": 1}, "view_size"),
    ("tag_v0", {"num_hunters": 4}, "num_hunters"),
    ("tag_v0", {"num_agents": 2, "num_hunters": 2}, "num_hunters"),
    ("tag_v0", {"num_hunters": 0}, "num_hunters"),
    ("tag_v0", {"style": "maze", "size": 8}, "odd"),
    ("plates_v0", {"num_agents": 11}, "num_agents"),
    ("plates_v0", {"num_agents": 0}, "num_agents"),
    ("plates_v0", {"size": 4}, "size"),
    ("plates_v0", {"max_cycles": 0}, "max_cycles"),
]


@pytest.mark.parametrize(
    ("name", "config", "words"),
    BAD_CONFIG,
    ids=[f"{n}-" + ",".join(f"{k}={v}" for k, v in c.items()) for n, c, _ in BAD_CONFIG],
)
@pytest.mark.parametrize(
    "make",
    [worlds.make_scenario, worlds.make_parallel, lambda name, **config: worlds.make_batch(name, 2, **config)],
    ids=["make_scenario", "make_parallel", "make_batch"],
)
def test_bad_config_fails_when_made(make, name: str, config: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        make(name, **config)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: worlds.make_parallel("maze_v0", obs_type="pixels"), "obs_type"),
        (lambda: worlds.make_parallel("maze_v0", illegal="skip"), "illegal"),
        (lambda: worlds.make_parallel("maze_v0", render_mode="movie"), "render_mode"),
        (lambda: worlds.make_batch("maze_v0", 2, obs_type="pixels"), "obs_type"),
        (lambda: worlds.make_batch("maze_v0", 0), "num_worlds"),
    ],
    ids=["obs_type", "illegal", "render_mode", "batch obs_type", "num_worlds"],
)
def test_bad_front_end_options(make, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        make()


# -- hostile and careless maps (issue #14) ------------------------------------------------------
MORE_BAD_MAPS = [
    ("superscript two is not a spawn digit", "#####\n#².G#\n#####\n", 2, 2, "unknown cell '²'"),
    ("arabic-indic digit", "#####\n#٣.G#\n#####\n", 2, 2, "unknown cell '٣'"),
    ("full-width digit", "#####\n#１.G#\n#####\n", 2, 2, "unknown cell '１'"),
    ("a form feed does not split a row", "#####\n#0\fG#\n#####\n", 2, 3, "unknown cell '\\x0c'"),
    ("a tab is named", "#####\n#0\t.#\n#####\n", 2, 3, "unknown cell a tab"),
    ("a lone carriage return", "#####\n#0\rG#\n#####\n", 2, 3, "unknown cell a line end"),
]


@pytest.mark.parametrize(
    ("problem", "text", "line", "column", "words"), MORE_BAD_MAPS, ids=[row[0] for row in MORE_BAD_MAPS]
)
def test_unicode_and_control_characters_are_named(problem, text, line, column, words, tmp_path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(worlds.MapError) as caught:
        worlds.load_map(path)
    assert (caught.value.line, caught.value.column) == (line, column), problem
    assert str(caught.value).startswith(f"{path}:{line}:{column}: ") and words in str(caught.value)


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "windows.txt"
    path.write_bytes("\ufeff#####\r\n#0.G#\r\n#####\r\n".encode())
    grid = worlds.load_map(path)
    assert grid.terrain.shape == (3, 5) and grid.spawns == {0: (1, 1)}


@pytest.mark.parametrize("text", ["#5..G.#\n", "#...G.#\n", "#.#\n#G#\n#.#\n#.#\n"])
@pytest.mark.parametrize("name", ["maze_v0", "plates_v0", "tag_v0"])
def test_agents_without_spawn_digits_get_free_cells(name: str, text: str) -> None:
    if name == "plates_v0":
        text = "#..P.D.G#\n"
    config = {"num_agents": 2, "num_hunters": 1} if name == "tag_v0" else {}
    env = worlds.make_parallel(name, map=text, **config)
    env.reset(seed=0)
    pos = env.world.pos[0]
    assert len({tuple(p) for p in pos.tolist()}) == len(pos)
    assert worlds.make_scenario(name, map=text, **config).grid_map.terrain[tuple(pos.T)].all()


def test_map_too_crowded_for_its_agents_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("#.G#\n", encoding="utf-8")
    with pytest.raises(worlds.MapError, match=f"^{re.escape(str(path))}:1:1: no room for 3 agents"):
        worlds.make_parallel("maze_v0", map=str(path), num_agents=3).reset(seed=0)


def test_huge_map_is_refused_before_it_is_built(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_text(("." * 3001 + "\n") * 300, encoding="utf-8")
    with pytest.raises(worlds.MapError, match="map is 300x3001 cells; at most 255x255"):
        worlds.load_map(path)
    path.write_text(";" * (2 << 20), encoding="utf-8")
    with pytest.raises(worlds.MapError, match="larger than"):
        worlds.load_map(path)


# /dev/zero would otherwise be read until memory runs out
def test_device_files_and_folders_are_not_maps(tmp_path: Path) -> None:
    for path in ("/dev/zero", str(tmp_path)):
        with pytest.raises(worlds.MapError, match="not a regular file"):
            worlds.load_map(path)


# -- config: types, ranges, unknown keys (worlds.config) ---------------------------------------
BAD_TYPED_CONFIG = [
    ("maze_v0", {"max_cycles": float("nan")}, "max_cycles must be a whole number"),
    ("maze_v0", {"max_cycles": float("inf")}, "max_cycles must be a whole number"),
    ("maze_v0", {"max_cycles": 1.5}, "max_cycles must be a whole number"),
    ("maze_v0", {"size": 9.0}, "size must be a whole number"),
    ("maze_v0", {"num_agents": 4.0}, "num_agents must be a whole number"),
    ("maze_v0", {"num_agents": True}, "num_agents must be int"),
    ("maze_v0", {"size": "9"}, "size must be int"),
    ("maze_v0", {"loops": float("nan")}, "loops must be a finite number"),
    ("maze_v0", {"loops": 2.0}, "loops must be 0.0..1.0"),
    ("maze_v0", {"size": 20001}, "size must be 1..255"),
    ("maze_v0", {"view_size": 99999}, "view_size must be 3..31"),
    ("maze_v0", {"max_cycles": 10**9}, "max_cycles must be 1..100000"),
    ("maze_v0", {"map": 3}, "map must be str or None"),
    ("tag_v0", {"num_hunters": 1.5}, "num_hunters must be a whole number"),
    ("plates_v0", {"gate_bonus": float("nan")}, "gate_bonus must be a finite number"),
    ("plates_v0", {"gate_bonus": float("-inf")}, "gate_bonus must be a finite number"),
    ("plates_v0", {"size": 99}, "size must be 5..31"),
    ("maze_v0", {"sise": 7}, "unknown config key 'sise'; known: num_agents, view_size, max_cycles, map"),
]


@pytest.mark.parametrize(
    ("name", "config", "words"), BAD_TYPED_CONFIG, ids=[f"{n}-{c}" for n, c, _ in BAD_TYPED_CONFIG]
)
def test_config_types_and_ranges_are_checked_in_one_place(name: str, config: dict, words: str) -> None:
    from worlds.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(words)) as caught:
        worlds.make_scenario(name, **config)
    assert isinstance(caught.value, ValueError) and str(caught.value).startswith(f"{name}: ")


def test_config_normalises_numpy_numbers() -> None:
    scenario = worlds.make_scenario("maze_v0", size=np.int64(7), loops=1)
    assert type(scenario.size) is int and type(scenario.loops) is float


def test_every_scenario_declares_limits_for_its_sized_fields() -> None:
    from worlds.config import limits_of
    from worlds.registry import scenario_class

    for name in worlds.SCENARIOS:
        limits = limits_of(scenario_class(name))
        assert {"num_agents", "view_size", "max_cycles"} <= limits.keys()
        if "size" in [f for f in scenario_class(name).__dataclass_fields__]:
            assert "size" in limits, name


@pytest.mark.parametrize("name", list(worlds.SCENARIOS))
def test_text_view_fits_its_space_at_the_largest_view(name: str) -> None:
    try:  # four agents where the scenario takes them (more text), else its own number
        worlds.make_scenario(name, num_agents=4)
        crowd = {"num_agents": 4}
    except ValueError:
        crowd = {}
    env = worlds.make_parallel(name, obs_type="text", view_size=31, max_cycles=100_000, **crowd)
    obs, _ = env.reset(seed=0)
    for agent, o in obs.items():
        assert env.observation_space(agent).contains(o), agent
