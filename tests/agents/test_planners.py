"""The scripted planners: distance fields against a plain BFS, shortest paths in mazes, corridor
etiquette between agents, plates won as a team, tag played far better than random, and legal
actions everywhere, in batch mode and in a single PettingZoo env."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

import worlds
from agents.base import Observations
from agents.planners import UNREACHED, distance_fields, make_planner
from agents.random_agent import RandomAgent
from agents.registry import make_controller
from worlds import engine
from worlds.cells import OPEN_GATE, PASSABLE
from worlds.scenario import DELTAS


def bfs(passable: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    """Steps from `start` to every cell of a 2-D passable grid (-1 unreached), one cell at a time."""
    dist = np.full(passable.shape, -1)
    dist[start] = 0
    queue = deque([start])
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((-1, 0), (1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < passable.shape[0] and 0 <= nc < passable.shape[1]:
                if passable[nr, nc] and dist[nr, nc] < 0:
                    dist[nr, nc] = dist[r, c] + 1
                    queue.append((nr, nc))
    return dist


def play_env(env, controllers: dict[str, object], seed: int, check=None) -> tuple[int, dict[str, str]]:
    """One episode of a PettingZoo env; `controllers` maps agent-name prefixes to controllers.
    Returns the episode length and how each agent ended ("terminated" | "truncated")."""
    obs, _ = env.reset(seed=seed)
    steps, ended = 0, {}
    while env.agents:
        actions = {}
        for prefix, controller in controllers.items():
            names = [a for a in env.agents if a.startswith(prefix)]
            if not names:
                continue
            rows = Observations.of_env(env, obs, names)
            chosen = controller.act(rows)
            assert chosen.dtype == np.int64 and chosen.shape == (len(names),)
            assert rows.action_mask[np.arange(len(names)), chosen].all(), "illegal action"
            if check is not None:
                check(env, rows, chosen, controller)
            actions.update(zip(names, chosen.tolist(), strict=True))
        obs, _, terms, truncs, _ = env.step(actions)
        steps += 1
        for a in terms:
            if terms[a] or truncs[a]:
                ended[a] = "terminated" if terms[a] else "truncated"
    return steps, ended


def play_batch(name: str, worlds_: int, seats: dict[str, str], seed: int = 0, **config) -> dict:
    """The first episode of every world of a batch; seats maps a team index to "planner" or
    "random". Returns success bool[B], length int[B] and runner_steps float[B] (steps the
    runners stayed free, summed over runners)."""
    env = worlds.make_batch(name, worlds_, seed=seed, **config)
    scenario = env.scenario
    teams = {k: np.flatnonzero(scenario.teams == k) for k in seats}
    controllers = {
        k: make_planner(scenario, seed=seed + k) if spec == "planner" else RandomAgent(seed + k)
        for k, spec in seats.items()
    }
    obs = env.reset()
    done = np.zeros(worlds_, bool)
    out = {
        "success": np.zeros(worlds_, bool),
        "length": np.zeros(worlds_, int),
        "runner_steps": np.zeros(worlds_),
    }
    while not done.all():
        actions = np.zeros((worlds_, scenario.num_agents), np.int64)
        for k, controller in controllers.items():
            rows = Observations.of_batch(scenario, env.world, obs, teams[k])
            chosen = controller.act(rows)
            assert rows.action_mask[np.arange(len(rows)), chosen].all(), "illegal action"
            actions[:, teams[k]] = chosen.reshape(worlds_, -1)
        out["runner_steps"] += np.where(done, 0, env.world.alive[:, scenario.teams == 1].sum(1))
        obs, _, _, _, infos = env.step(actions)
        if not infos["done"].any():
            continue
        ended = np.flatnonzero(infos["done"])
        first = ~done[ended]
        out["success"][ended[first]] = infos["success"][first]
        out["length"][ended[first]] = infos["episode_length"][first]
        done[ended] = True
    return out


# -- distance fields ------------------------------------------------------------------------------
def test_distance_fields_match_a_plain_bfs():
    rng = np.random.default_rng(0)
    K, H, W = 6, 9, 11
    passable = rng.random((K, H, W)) < 0.7
    passable[:, [0, -1]] = passable[:, :, [0, -1]] = False  # the border a field needs
    sources = np.zeros_like(passable)
    starts = []
    for k in range(K):
        cells = np.argwhere(passable[k])
        start = tuple(cells[rng.integers(len(cells))])
        sources[k][start] = True
        starts.append(start)
    got = distance_fields(passable.reshape(K, -1), sources.reshape(K, -1), W).reshape(K, H, W)
    for k in range(K):
        want = bfs(passable[k], starts[k])
        np.testing.assert_array_equal(np.where(want >= 0, want, UNREACHED), got[k])
    assert (got == UNREACHED).any() and (got > 3).any()  # the draw has walls and long ways round


def test_distance_fields_take_the_nearest_of_several_sources():
    passable = np.zeros((1, 3, 9), bool)
    passable[0, 1, 1:-1] = True  # a corridor of 7 cells
    sources = np.zeros_like(passable)
    sources[0, 1, [1, 7]] = True
    got = distance_fields(passable.reshape(1, -1), sources.reshape(1, -1), 9).reshape(3, 9)
    assert got[1, 1:-1].tolist() == [0, 1, 2, 3, 2, 1, 0]


def test_distance_fields_need_a_closed_border():
    passable = np.ones((1, 5, 5), bool)
    with pytest.raises(ValueError, match="border"):
        distance_fields(passable.reshape(1, -1), passable.reshape(1, -1), 5)


# -- maze_v0 --------------------------------------------------------------------------------------
def test_maze_planner_walks_the_shortest_path():
    """Every one of 20 seeded mazes: the goal, in exactly the BFS distance from the start."""
    env = worlds.make_parallel("maze_v0")
    planner = make_planner(env.scenario, seed=0)
    for seed in range(20):
        env.reset(seed=seed)
        cells = env.world.cells()[0]
        start, goal = tuple(env.world.pos[0, 0]), tuple(env.world.goal[0, 0])
        shortest = bfs(PASSABLE[cells], goal)[start]
        steps, ended = play_env(env, {"agent": planner}, seed)
        assert ended == {"agent_0": "terminated"}
        assert steps == shortest, f"seed {seed}: {steps} steps, shortest path {shortest}"


def test_maze_planner_two_agents_always_arrive():
    env = worlds.make_parallel("maze_v0", num_agents=2)
    planner = make_planner(env.scenario, seed=1)
    for seed in range(20):
        steps, ended = play_env(env, {"agent": planner}, seed)
        assert ended == {"agent_0": "terminated", "agent_1": "terminated"}, f"seed {seed}"
        assert steps < env.scenario.max_cycles


def corridor_map(tmp_path, rows: list[str]) -> str:
    path = tmp_path / "corridor.txt"
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_agents_pass_each_other_in_a_corridor(tmp_path):
    """Head on in a corridor with one side pocket: one gives way into the pocket. Without
    giving way the engine blocks both forever (swaps are not allowed)."""
    path = corridor_map(tmp_path, ["#########", "#G1...0G#", "####.####", "#########"])
    env = worlds.make_parallel("maze_v0", num_agents=2, map=path, max_cycles=40)
    words = set()

    def note(env, rows, chosen, planner):
        words.update(planner.thinking().extras["plan"])

    steps, ended = play_env(env, {"agent": make_planner(env.scenario, seed=0)}, 0, note)
    assert ended == {"agent_0": "terminated", "agent_1": "terminated"}
    assert steps <= 9  # 5 steps each; the one giving way loses 2 to the pocket and maybe 2 waiting
    assert {"give way to agent_0", "give way to agent_1"} & words


def test_a_queue_backs_off_together(tmp_path):
    """Agents 0 and 2 head west past agent 1 heading east; the only pocket (two deep) is under
    agent 2, so agent 0, boxed in by agent 2, pushes it down the pocket and follows it in."""
    rows = ["##########", "#G..1.02G#", "#######.##", "#######.##", "##########"]
    env = worlds.make_parallel("maze_v0", num_agents=3, map=corridor_map(tmp_path, rows), max_cycles=60)
    for seed in range(5):
        steps, ended = play_env(env, {"agent": make_planner(env.scenario, seed=seed)}, seed)
        assert set(ended.values()) == {"terminated"}, f"seed {seed}: {ended}"
        assert steps <= 12  # agent 2 needs 6 steps alone; 11 with the pocket


def test_crowded_mazes_in_batch_mode():
    """Four agents in the default 9x9 maze, 48 worlds: everyone arrives."""
    out = play_batch("maze_v0", 48, {0: "planner"}, seed=3, num_agents=4)
    assert out["success"].all()
    assert out["length"].mean() < 40


def test_planner_rows_for_some_worlds_only():
    """Rows of a few worlds of a batch (any order of worlds is fine): each single agent steps
    one cell nearer its goal."""
    env = worlds.make_batch("maze_v0", 6, seed=5, style="rooms", size=11)
    obs = env.reset()
    full = Observations.of_batch(env.scenario, env.world, obs, [0])
    pick = np.array([4, 1])
    rows = Observations(
        full.scenario, full.state, full.view[pick], full.action_mask[pick], full.world[pick], full.agent[pick]
    )
    chosen = make_planner(env.scenario, seed=0).act(rows)
    for k, b in enumerate(pick):
        cells = env.world.cells()[b]
        dist = bfs(PASSABLE[cells], tuple(env.world.goal[b, 0]))
        r, c = env.world.pos[b, 0]
        dr, dc = DELTAS[chosen[k]]
        assert dist[r + dr, c + dc] == dist[r, c] - 1


# -- plates_v0 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("config", [{}, {"map": "plates_small"}, {"num_agents": 3, "size": 9}])
def test_plates_planners_open_the_gate_and_win(config):
    out = play_batch("plates_v0", 40, {0: "planner"}, seed=0, **config)
    assert out["success"].mean() >= 0.95
    random = play_batch("plates_v0", 40, {0: "random"}, seed=0, **config)
    assert out["length"].mean() < random["length"].mean() / 3


def test_plates_agents_wait_on_their_plates_until_the_gate_opens():
    env = worlds.make_parallel("plates_v0")
    planner = make_planner(env.scenario, seed=0)
    waits, episodes = 0, 10

    def check(env, rows, chosen, planner):
        nonlocal waits
        plans = planner.thinking().extras["plan"]
        if (env.world.terrain == OPEN_GATE).any():
            assert all(
                p in ("go to the goal", "wait for a free cell") or p.startswith("give way") for p in plans
            )
            return
        assert "go to the goal" not in plans  # nobody heads for the goal while the gate is shut
        for plan, action in zip(plans, chosen.tolist(), strict=True):
            if plan == "wait on the plate":
                waits += 1
                assert action == 0

    for seed in range(episodes):
        steps, ended = play_env(env, {"agent": planner}, seed, check)
        assert set(ended.values()) == {"terminated"}, f"seed {seed}"
    assert waits >= episodes  # in most episodes one agent reaches its plate first and waits


# -- tag_v0 ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_tag_planners_beat_random_play():
    B = 40
    random_hunters = play_batch("tag_v0", B, {0: "random", 1: "random"}, seed=0)
    planner_hunters = play_batch("tag_v0", B, {0: "planner", 1: "random"}, seed=0)
    # Hunters: every runner caught far more often, and sooner.
    assert planner_hunters["success"].mean() >= 0.95
    assert planner_hunters["success"].mean() >= random_hunters["success"].mean() + 0.3
    assert planner_hunters["length"].mean() < random_hunters["length"].mean() / 3
    # Runners: against planner hunters, planner runners stay free far longer than random ones.
    planner_runners = play_batch("tag_v0", B, {0: "planner", 1: "planner"}, seed=0)
    assert planner_runners["runner_steps"].mean() > 1.5 * planner_hunters["runner_steps"].mean()
    fled = play_batch("tag_v0", B, {0: "random", 1: "planner"}, seed=0)
    assert fled["success"].mean() <= 0.2  # random hunters hardly ever catch planner runners


def rows_at(env, pos: list[list[int]], names: list[str]) -> Observations:
    """Rows for `names` of a single env after moving its agents to `pos` (map cells)."""
    env.world.pos[0] = pos
    mask = engine.action_mask(env.scenario, env.world)[0]
    index = [env.possible_agents.index(a) for a in names]
    view = np.zeros((len(index), 1, 1, 3), np.uint8)  # planners read the state, not the view
    return Observations(
        env.scenario, env.world, view, mask[index], np.zeros(len(index), int), np.array(index)
    )


def test_hunter_tags_an_adjacent_runner():
    env = worlds.make_parallel("tag_v0", style="open", size=7)
    env.reset(seed=0)
    planner = make_planner(env.scenario, seed=0)
    rows = rows_at(
        env, [[2, 2], [5, 5], [2, 3], [1, 5]], ["hunter_0", "hunter_1"]
    )  # runner_0 next to hunter_0
    chosen = planner.act(rows)
    assert chosen.tolist()[0] == 5 and chosen[1] != 5
    plan = planner.thinking().extras["plan"]
    assert plan == ["tag runner_0", "chase runner_1"]


def test_runner_steps_away_from_a_hunter_in_an_open_room():
    env = worlds.make_parallel("tag_v0", style="open", size=9)
    env.reset(seed=0)
    planner = make_planner(env.scenario, seed=0)
    for seed in range(5):
        planner.rng = np.random.default_rng(seed)
        rows = rows_at(env, [[4, 2], [7, 1], [4, 4], [1, 7]], ["runner_0"])  # two cells east of hunter_0
        chosen = planner.act(rows)[0]
        assert chosen in (1, 2, 3)  # north, south or east: 3 steps from hunter_0, not 2 or 1
        assert planner.thinking().extras["plan"] == ["flee hunter_0"]


# -- the controller protocol ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["maze_v0", "plates_v0", "tag_v0"])
def test_thinking_matches_the_actions(name):
    env = worlds.make_batch(name, 8, seed=2)
    obs = env.reset()
    planner = make_controller("planner", env.scenario, seed=0)
    assert planner.name == "planner" and planner.thinking() is None
    for _ in range(12):
        rows = Observations.of_batch(env.scenario, env.world, obs, np.arange(env.num_agents))
        chosen = planner.act(rows)
        thought = planner.thinking()
        legal = rows.action_mask.astype(bool)
        assert thought.kind == "probs" and thought.values.shape == legal.shape
        assert np.isnan(thought.values[~legal]).all()
        np.testing.assert_array_equal(np.nanargmax(thought.values, 1), chosen)
        assert np.nansum(thought.values, 1).tolist() == [1.0] * len(chosen)
        q = thought.extras["q"]
        assert q.shape == legal.shape and np.isnan(q[~legal]).all()
        assert len(thought.extras["plan"]) == len(chosen)
        obs, *_ = env.step(chosen.reshape(8, -1))


def test_maze_q_is_minus_the_remaining_path():
    env = worlds.make_parallel("maze_v0", size=11)
    obs, _ = env.reset(seed=4)
    planner = make_planner(env.scenario, seed=0)
    chosen = planner.act(Observations.of_env(env, obs, ["agent_0"]))
    q = planner.thinking().extras["q"][0]
    dist = bfs(PASSABLE[env.world.cells()[0]], tuple(env.world.goal[0, 0]))
    here = tuple(env.world.pos[0, 0])
    assert q[chosen[0]] == np.nanmax(q) == -dist[here]
    assert q[0] == -(dist[here] + 1)  # waiting costs a step


def test_same_seed_same_play_and_dead_rows_noop():
    def run(seed):
        env = worlds.make_batch("tag_v0", 4, seed=9)
        obs = env.reset()
        planner = make_planner(env.scenario, seed=seed)
        actions = []
        for _ in range(30):
            rows = Observations.of_batch(env.scenario, env.world, obs, np.arange(4))
            chosen = planner.act(rows)
            out = ~env.world.alive.reshape(-1)
            assert (chosen[out] == 0).all()  # agents out of the game only noop
            actions.append(chosen)
            obs, *_ = env.step(chosen.reshape(4, -1))
        return np.stack(actions)

    assert (run(1) == run(1)).all()
    assert (run(1) != run(2)).any()


def test_bad_input_is_refused_and_no_rows_is_no_actions():
    with pytest.raises(ValueError, match="unknown scenario"):
        make_planner("chess_v0")
    maze = make_planner("maze_v0")
    env = worlds.make_parallel("tag_v0")
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match="maze_v0 planner cannot act in tag_v0"):
        maze.act(Observations.of_env(env, obs, env.agents))
    tag = make_planner(env.scenario)
    none = rows_at(env, env.world.pos[0].tolist(), [])
    assert tag.act(none).shape == (0,) and tag.thinking() is None
