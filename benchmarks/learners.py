"""Learner benchmark: training throughput per algorithm, and success against env steps.

    python -m benchmarks.learners                      # throughput of every algorithm
    python -m benchmarks.learners --curve maze_v0 --algo ppo --steps 300000
    python -m benchmarks.learners --curve signal_v0 --speak-once --hp core=gru   # a memory test

Throughput is env-steps/s of the whole training step (acting, stepping the batch worlds,
building transitions, learning) over whole update cycles after the first update, with the
share of time spent in `act` and `learn`. A curve trains one learner (other teams play
random) and prints, every `--eval-every` env steps, its success and return on fixed evaluation
worlds, greedy (explore=False, as `arena train` evaluates) and sampled from the policy. It
drives the BatchEnv with its own minimal loop, building the same Transitions `arena train`
builds. `--speak-once` (signal_v0) makes it a memory test: the learner drives the listeners
and agent 0 says the target's colour on each episode's first step only, so a listener must
remember a word it hears once (a feed-forward policy cannot; `--hp core=gru` can).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import worlds
from agents.base import Observations, Transition
from agents.checkpoint import ALGOS, make_learner
from agents.random_agent import RandomAgent
from arena.training.loop import closing


class Loop:
    """B worlds of one scenario: the learner drives `agents`, random legal actions the rest."""

    def __init__(self, learner, scenario, num_worlds: int, seed: int, agents=None, others=None):
        self.learner, self.scenario = learner, scenario
        self.agents = np.arange(scenario.num_agents) if agents is None else np.asarray(agents)
        self.env = worlds.BatchEnv(scenario, num_worlds, seed)
        self.others = others or random_others(seed + 1)
        self.raw = self.env.reset()
        self.state = self.env.world.copy()
        self.steps = 0  # env steps: worlds x iterations
        self.success: list[bool] = []
        self.timing = {"act": 0.0, "learn": 0.0, "total": 0.0}

    def step(self) -> dict | None:
        start = time.perf_counter()
        env, sc, agents, B = self.env, self.scenario, self.agents, self.env.num_worlds
        obs = Observations.of_batch(sc, self.state, self.raw, agents)
        everyone = Observations.of_batch(sc, self.state, self.raw, range(sc.num_agents))
        actions = self.others(everyone).reshape(B, sc.num_agents)
        t0 = time.perf_counter()
        mine = self.learner.act(obs)
        self.timing["act"] += time.perf_counter() - t0
        actions[:, agents] = mine.reshape(B, len(agents))
        raw, reward, terminated, truncated, info = env.step(actions)
        state = env.world.copy()
        last_state, last = closing(state, raw, info)  # what closed the step: before any reset
        if info["done"].any():
            self.success += info["success"].tolist()
        cols = (slice(None), agents)
        tr = Transition(
            obs,
            mine,
            reward[cols].reshape(-1),
            terminated[cols].reshape(-1),
            truncated[cols].reshape(-1),
            Observations.of_batch(sc, last_state, last, agents),
            info["active"][cols].reshape(-1),
        )
        t0 = time.perf_counter()
        metrics = self.learner.learn(tr)
        self.timing["learn"] += time.perf_counter() - t0
        self.raw, self.state = raw, state
        self.steps += B
        self.timing["total"] += time.perf_counter() - start
        return metrics


def random_others(seed: int):
    """Random legal actions for every row (the agents the learner does not drive)."""
    agent = RandomAgent(seed)
    return lambda rows: agent.act(rows.action_mask)


def speak_once(rows: Observations) -> np.ndarray:
    """signal_v0's speaker at its tersest: on an episode's first step agent 0 says the target's
    colour (read from its clue, one bit), then it is silent; the listeners' rows get noop."""
    from worlds.scenarios.signal_v0 import SAY

    clue = rows.view[:, 0, 0, 3].astype(np.int64)
    say = (rows.agent == 0) & (rows.steps() == 0)
    return np.where(say, SAY + np.log2(np.maximum(clue, 1)).astype(np.int64), 0)


def evaluate(
    learner,
    scenario,
    episodes: int = 100,
    seed: int = 1_000_000,
    agents=None,
    explore: bool = False,
    others=None,
) -> dict:
    """One episode in each of `episodes` worlds seeded seed + b (random legal actions for agents
    the learner does not drive), greedy unless `explore`: success rate and the learner's mean
    return."""
    agents = np.arange(scenario.num_agents) if agents is None else np.asarray(agents)
    others = others or random_others(seed)
    kept = getattr(learner, "hidden", None)  # a recurrent core's training states, given back after
    if kept is not None:
        learner.hidden = None
    try:
        return _play(learner, scenario, episodes, seed, agents, explore, others)
    finally:
        if kept is not None:
            learner.hidden = kept


def _play(learner, scenario, episodes, seed, agents, explore, others) -> dict:
    env = worlds.BatchEnv(scenario, episodes, seed)
    raw = env.reset()
    N = scenario.num_agents
    seen = np.zeros(episodes, bool)
    success = np.zeros(episodes, bool)
    ret = np.zeros(episodes)
    while not seen.all():
        obs = Observations.of_batch(scenario, env.world, raw, agents)
        actions = others(Observations.of_batch(scenario, env.world, raw, range(N))).reshape(episodes, N)
        actions[:, agents] = learner.act(obs, explore=explore).reshape(episodes, len(agents))
        raw, _, _, _, info = env.step(actions)
        idx = np.flatnonzero(info["done"])
        if len(idx):
            new = ~seen[idx]
            success[idx[new]] = info["success"][new]
            ret[idx[new]] = info["episode_return"][new][:, agents].mean(1)
            seen[idx[new]] = True
    return {"success": float(success.mean()), "return": float(ret.mean())}


def random_success(scenario, episodes: int = 100, seed: int = 1_000_000, agents=None, others=None) -> dict:
    """The same evaluation with random legal actions in the learner's seats (the baseline)."""

    class Random(RandomAgent):
        def act(self, obs, explore=True):
            return super().act(obs)

    return evaluate(Random(seed), scenario, episodes, seed, agents, others=others)


SETUPS = {  # scenario config and which agents the learner drives, for the curves
    "maze_v0": ({}, None),
    "plates_v0": ({}, None),
    "tag_v0": ({}, [0, 1]),  # the hunters; runners play random
}


def throughput(args) -> None:
    scenario = worlds.make_scenario(args.scenario)
    print(
        f"learner throughput on {args.scenario} (batch of {args.worlds} worlds x "
        f"{scenario.num_agents} agent(s)), torch threads {torch.get_num_threads()}, "
        f"{args.seconds:g} s each after warm-up"
    )
    print(f"{'algo':10} | {'env-steps/s':>11} | {'act':>5} | {'learn':>5} | updates")
    print(f"{'-' * 10}-+-{'-' * 11}-+-{'-' * 5}-+-{'-' * 5}-+--------")
    for algo in args.algos:
        learner = make_learner(algo, scenario, args.device, seed=0)
        loop = Loop(learner, scenario, args.worlds, seed=0)
        # Warm up to the first update, then time whole update cycles: a rate taken between
        # two updates of a policy-gradient learner would leave its learning out.
        while loop.step() is None and loop.steps < 200_000:
            pass
        loop.timing = dict.fromkeys(loop.timing, 0.0)
        start, steps, updates = time.perf_counter(), loop.steps, 0
        while True:
            updated = loop.step() is not None
            updates += updated
            if updated and time.perf_counter() - start >= args.seconds:
                break
        t = loop.timing
        rate = (loop.steps - steps) / t["total"]
        print(
            f"{algo:10} | {rate:11,.0f} | {t['act'] / t['total']:5.0%} | "
            f"{t['learn'] / t['total']:5.0%} | {updates}"
        )


def curve(args) -> None:
    config, agents = SETUPS.get(args.curve, ({}, None))
    config = config | _pairs(args.config)
    scenario = worlds.make_scenario(args.curve, **config)
    others = None
    if args.speak_once:
        if args.curve != "signal_v0":
            raise SystemExit("--speak-once is for --curve signal_v0")
        agents, others = np.arange(1, scenario.num_agents), speak_once
    hyper = _pairs(args.hp)
    learner = make_learner(args.algo, scenario, args.device, seed=args.seed, **hyper)
    loop = Loop(learner, scenario, args.worlds, seed=args.seed, agents=agents, others=others)
    base = random_success(scenario, args.eval_episodes, agents=agents, others=others)
    print(
        f"{args.algo} on {args.curve} ({scenario}), {args.worlds} worlds, seed {args.seed}, "
        f"hyper {learner.hyper}; torch threads {torch.get_num_threads()}"
    )
    print(f"random play: success {base['success']:.3f} return {base['return']:.3f}")
    print(
        f"{'env steps':>10} | {'greedy success':>14} | {'return':>6} | {'sampled success':>15} | "
        f"{'return':>6} | {'train success':>13} | {'seconds':>7}"
    )
    next_eval, metrics = 0, None
    while True:
        if loop.steps >= next_eval:
            greedy = evaluate(learner, scenario, args.eval_episodes, agents=agents, others=others)
            sampled = evaluate(
                learner, scenario, args.eval_episodes, agents=agents, explore=True, others=others
            )
            recent = np.mean(loop.success[-200:]) if loop.success else float("nan")
            print(
                f"{loop.steps:10,} | {greedy['success']:14.3f} | {greedy['return']:6.3f} | "
                f"{sampled['success']:15.3f} | {sampled['return']:6.3f} | {recent:13.3f} | "
                f"{loop.timing['total']:7.1f}",
                flush=True,
            )
            if args.metrics and metrics:
                print("    " + ", ".join(f"{k} {v:.3g}" for k, v in metrics.items()), flush=True)
            next_eval += args.eval_every
        if loop.steps >= args.steps:
            break
        metrics = loop.step() or metrics


def _pairs(items: list[str] | None) -> dict:
    """KEY=VALUE pairs; values are read as JSON where they parse (numbers, true, null)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.learners", description=__doc__.split("\n")[0])
    p.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS)
    p.add_argument("--scenario", default="maze_v0", help="scenario of the throughput table")
    p.add_argument("--worlds", type=int, default=64)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: small nets)")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--curve", metavar="SCENARIO", help="train and print success against env steps")
    p.add_argument("--algo", default="ppo", choices=ALGOS)
    p.add_argument("--steps", type=int, default=300_000)
    p.add_argument("--eval-every", type=int, default=25_000)
    p.add_argument("--eval-episodes", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metrics", action="store_true", help="print the learner's last update metrics")
    p.add_argument("--speak-once", action="store_true", help="signal_v0: a speaker that talks on step 0 only")
    p.add_argument("--config", action="append", metavar="KEY=VALUE", help="a scenario setting")
    p.add_argument("--hp", action="append", metavar="KEY=VALUE", help="a hyper-parameter of the learner")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    curve(args) if args.curve else throughput(args)


if __name__ == "__main__":
    main()
