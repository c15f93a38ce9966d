"""How well and how fast the scripted planners play: `python -m benchmarks.planners [--episodes N]`.

For each scenario, the first episode of N seeded worlds (world b replays `reset(seed=seed + b)`)
is played by the planner and by random legal actions, in batch mode; tag_v0 pairs every kind of
hunter with every kind of runner, signal_v0 every kind of talker with every kind of listener.
Printed per line: success rate (maze_v0: every agent reached
its goal; plates_v0: the team won; tag_v0: every runner caught; forage_v0: all food collected;
keys_v0: the goal reached; signal_v0: the target landmark reached;
harvest_v0: the orchard outlived the episode), mean episode length, mean steps a runner stayed
free (tag_v0), and the planner's decisions per second (live rows per second of `act` alone,
measured in the same run at N worlds and in a single PettingZoo env). Then harvest_v0's social
outcome metrics (collective return, equality, sustainability, peace) for the planner, random play
and the shipped PPO checkpoint.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import worlds
from agents.base import Observations
from agents.planners import make_planner
from agents.random_agent import RandomAgent

# (scenario, config, hunters' controller, runners' controller); maze and plates have one team.
MATCHUPS = [
    ("maze_v0", {"num_agents": 1}, "planner", None),
    ("maze_v0", {"num_agents": 1}, "random", None),
    ("maze_v0", {"num_agents": 4}, "planner", None),
    ("maze_v0", {"num_agents": 4}, "random", None),
    ("maze_v0", {"num_agents": 8, "size": 15}, "planner", None),
    ("maze_v0", {"num_agents": 10}, "planner", None),  # a crowd: 10 agents in 9x9, for the jams
    ("plates_v0", {}, "planner", None),
    ("plates_v0", {}, "random", None),
    ("plates_v0", {"num_agents": 3, "size": 9}, "planner", None),
    ("tag_v0", {}, "planner", "random"),
    ("tag_v0", {}, "random", "random"),
    ("tag_v0", {}, "planner", "planner"),
    ("tag_v0", {}, "random", "planner"),
    ("forage_v0", {}, "planner", None),
    ("forage_v0", {}, "random", None),
    ("forage_v0", {"num_agents": 3, "force_coop": True}, "planner", None),
    ("forage_v0", {"num_agents": 3, "force_coop": True}, "random", None),
    ("harvest_v0", {}, "planner", None),
    ("harvest_v0", {}, "random", None),
    ("keys_v0", {}, "planner", None),
    ("keys_v0", {}, "random", None),
    ("keys_v0", {"num_doors": 3, "distractors": 2}, "planner", None),
    ("keys_v0", {"num_doors": 3, "distractors": 2}, "random", None),
    ("keys_v0", {"num_agents": 2, "handover": True}, "planner", None),
    ("keys_v0", {"num_agents": 2, "handover": True}, "random", None),
    # signal_v0: the talkers' controller (the speaker; both informed agents of a split), then
    # the listeners'. A random speaker against planned ones is the issue's measure.
    ("signal_v0", {}, "planner", "planner"),
    ("signal_v0", {}, "random", "planner"),
    ("signal_v0", {}, "random", "random"),
    ("signal_v0", {}, "planner", "random"),
    ("signal_v0", {"num_landmarks": 4}, "planner", "planner"),
    ("signal_v0", {"num_landmarks": 4}, "random", "planner"),
    ("signal_v0", {"noise": 0.3}, "planner", "planner"),
    ("signal_v0", {"num_agents": 4}, "planner", "planner"),
    ("signal_v0", {"num_agents": 4}, "random", "planner"),
    ("signal_v0", {"roles": "split", "num_agents": 3}, "planner", "planner"),
    ("signal_v0", {"roles": "split", "num_agents": 3}, "random", "planner"),
    ("signal_v0", {"roles": "split", "noise": 0.3}, "planner", None),
]
# harvest_v0's social outcome metrics (worlds.scenarios.harvest_v0.social_metrics), per controller
# of every agent: the planner, random play and, where shipped, the PPO checkpoint.
SOCIAL = ("planner", "random", "assets/checkpoints/harvest_v0_harvesters.safetensors")


def controller(spec: str, scenario, seed: int):
    """ "planner", "random", or any seat spec of `arena` (a checkpoint path, say)."""
    if spec in ("planner", "random"):
        return make_planner(scenario, seed=seed) if spec == "planner" else RandomAgent(seed)
    from agents.registry import make_controller

    return make_controller(spec, scenario, seed=seed, device="cpu")


def groups(scenario) -> list[np.ndarray]:
    """The agents each controller of a line drives: the teams, or signal_v0's talkers and
    listeners (one team, two roles)."""
    if scenario.name == "signal_v0":
        return [np.flatnonzero(scenario.speaks), np.flatnonzero(~scenario.speaks)]
    return [np.flatnonzero(scenario.teams == k) for k in range(len(scenario.team_names))]


def play(name: str, config: dict, first: str, second: str | None, episodes: int, seed: int) -> dict:
    """The first episode of `episodes` worlds; returns success rate, lengths, speed."""
    env = worlds.make_batch(name, episodes, seed=seed, **config)
    scenario = env.scenario
    teams = [agents for agents in groups(scenario) if len(agents)]
    specs = [first] if second is None else [first, second]
    seats = [
        (agents, controller(spec, scenario, seed + k))
        for k, (agents, spec) in enumerate(zip(teams, specs, strict=True))
    ]
    obs = env.reset()
    done = np.zeros(episodes, dtype=bool)
    success = np.zeros(episodes, dtype=bool)
    length = np.zeros(episodes)
    free_steps = np.zeros(episodes)
    runners = scenario.teams == 1
    wall, cpu, planner_rows = 0.0, 0.0, 0
    while not done.all():
        actions = np.zeros((episodes, scenario.num_agents), dtype=np.int64)
        for agents, ctrl in seats:
            rows = Observations.of_batch(scenario, env.world, obs, agents)
            start, start_cpu = time.perf_counter(), time.process_time()
            chosen = ctrl.act(rows)
            if ctrl.name == "planner":
                wall += time.perf_counter() - start
                cpu += time.process_time() - start_cpu
                planner_rows += int(env.world.alive[:, agents].sum())  # worlds past their first episode too
            actions[:, agents] = chosen.reshape(episodes, len(agents))
        free_steps += np.where(done, 0, env.world.alive[:, runners].sum(1))
        obs, _, _, _, infos = env.step(actions)
        ended = np.flatnonzero(infos["done"])
        first_time = ~done[ended]
        if first_time.any():
            b = ended[first_time]
            success[b] = infos["success"][first_time]
            length[b] = infos["episode_length"][first_time]
            done[b] = True
    return {
        "success": success.mean(),
        "length": length.mean(),
        "free": free_steps.mean() / max(int(runners.sum()), 1) if runners.any() else None,
        "rate": (planner_rows / wall, planner_rows / max(cpu, 1e-9)) if wall else None,
    }


def social(spec: str, episodes: int, seed: int) -> dict[str, float]:
    """harvest_v0's social metrics, success and length of the first episode of `episodes`
    seeded worlds, every agent driven by `spec` (planner, random or a checkpoint path)."""
    from agents.registry import make_controller
    from worlds.scenarios.harvest_v0 import social_metrics

    env = worlds.make_batch("harvest_v0", episodes, seed=seed)
    scenario = env.scenario
    ctrl = make_controller(spec, scenario, seed=seed, device="cpu")
    obs, agents = env.reset(), np.arange(scenario.num_agents)
    done = np.zeros(episodes, dtype=bool)
    totals: dict[str, np.ndarray] = {}
    while not done.all():
        actions = ctrl.act(Observations.of_batch(scenario, env.world, obs, agents))
        obs, _, _, _, infos = env.step(actions.reshape(episodes, -1))
        ended = np.flatnonzero(infos["done"])
        first = ~done[ended]
        if first.any():
            figures = social_metrics(infos["final_state"]) | {
                "success": infos["success"], "length": infos["episode_length"]
            }  # fmt: skip
            for key, value in figures.items():
                totals.setdefault(key, np.zeros(episodes))[ended[first]] = value[first]
            done[ended[first]] = True
    return {key: float(value.mean()) for key, value in totals.items()}


def single_env_rate(name: str, config: dict, seconds: float, seed: int) -> tuple[float, float]:
    """Planner decisions per second of wall and of CPU time in one PettingZoo env (every agent
    a planner)."""
    env = worlds.make_parallel(name, **config)
    planner = make_planner(env.scenario, seed=seed)
    obs, _ = env.reset(seed=seed)
    spent, cpu, rows, episode = 0.0, 0.0, 0, 0
    while spent < seconds:
        if not env.agents:
            episode += 1
            obs, _ = env.reset(seed=seed + episode)
        start, start_cpu = time.perf_counter(), time.process_time()
        actions = planner.act(Observations.of_env(env, obs, env.agents))
        spent += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        rows += len(actions)
        obs, *_ = env.step(dict(zip(env.agents, actions.tolist(), strict=True)))
    return rows / spent, rows / max(cpu, 1e-9)


def _matchup(parser: argparse.ArgumentParser, words: list[str]) -> tuple:
    if not 2 <= len(words) <= 3:
        parser.error("--match takes SCENARIO FIRST [SECOND]")
    name, *pairs = words[0].split(":")
    config = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        config[key] = _number(value)
    return name, config, words[1], words[2] if len(words) == 3 else None


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.planners", description=__doc__)
    parser.add_argument("--episodes", type=int, default=100, help="seeded episodes per line (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=1.0, help="timing of the single-env rate")
    parser.add_argument(
        "--match",
        nargs="+",
        metavar="SPEC",
        help="only this line: SCENARIO[:KEY=VALUE...] FIRST [SECOND], each controller planner, random "
        "or a checkpoint path (e.g. signal_v0 assets/checkpoints/signal_v0_agent_0.safetensors planner)",
    )
    args = parser.parse_args(argv)
    matchups = MATCHUPS if not args.match else [_matchup(parser, args.match)]
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    print(f"{args.episodes} seeded episodes per line (seeds {args.seed}..{args.seed + args.episodes - 1})\n")
    head = (
        f"{'scenario':9} | {'config':22} | {'controllers':36} | success | length | runner free | "
        "planner decisions/s: wall, cpu"
    )
    print(head)
    print("-" * len(head))
    for name, config, first, second in matchups:
        result = play(name, config, first, second, args.episodes, args.seed)
        roles = ("talkers", "listeners") if name == "signal_v0" else ("hunters", "runners")
        short = [Path(spec).stem if "/" in spec else spec for spec in (first, second or "")]
        who = short[0] if second is None else f"{roles[0]} {short[0]}, {roles[1]} {short[1]}"
        shown = ", ".join(f"{k}={v}" for k, v in config.items()) or "default"
        free = "" if result["free"] is None else f"{result['free']:.1f}"
        rate = "" if result["rate"] is None else "{:,.0f}, {:,.0f}".format(*result["rate"])
        print(
            f"{name:9} | {shown:22} | {who:36} | {result['success']:7.0%} | {result['length']:6.1f} | "
            f"{free:>11} | {rate}"
        )
    print(f"(decisions/s: rows the planner acted for over the time in `act`, B={args.episodes} worlds;")
    print(" wall clock, and CPU time of this process, which a busy machine disturbs less)")
    print("\nharvest_v0 social outcome metrics (every agent one controller; means over the episodes)")
    print(f"{'controller':54} | collective return | equality | sustainability | peace | success")
    for spec in SOCIAL:
        if spec.endswith(".safetensors") and not Path(spec).exists():
            continue
        m = social(spec, args.episodes, args.seed)
        print(
            f"{spec:54} | {m['collective_return']:17.1f} | {m['equality']:8.2f} | "
            f"{m['sustainability']:14.1f} | {m['peace']:5.1f} | {m['success']:7.0%}"
        )
    if args.match:
        return
    print("\nplanner decisions/s in a single PettingZoo env (B=1, every agent a planner): wall, cpu")
    single = (
        ("maze_v0", {"num_agents": 1}),
        ("plates_v0", {}),
        ("tag_v0", {}),
        ("forage_v0", {}),
        ("harvest_v0", {}),
        ("keys_v0", {}),
        ("signal_v0", {}),
    )
    for name, config in single:
        shown = ", ".join(f"{k}={v}" for k, v in config.items()) or "default"
        rate = single_env_rate(name, config, args.seconds, args.seed)
        print(f"  {name:9} | {shown:14} | {rate[0]:>7,.0f}, {rate[1]:,.0f}")


if __name__ == "__main__":
    main()
