"""`arena lm ...`: the language-model agents' commands.

* `arena lm train`: build the default model from a seed (planner-labelled corpus, distillation)
  and write it, with its tokenizer and a model card, to `assets/lm/default/`.
* `arena lm bench`: decisions/s of an LM seat at several batch sizes, and zero-shot success of
  the LM vs random vs the planner in every scenario (`python -m benchmarks.lm` is the same).
  Figures only, never asserts.
* `arena lm finetune`: PPO or Q-learning on the LM in one scenario, success before and after,
  the learner saved as a checkpoint.
* `arena lm continual`: one LM learner through a sequence of tasks, with the success matrix and
  the forgetting metrics of `arena.training.curriculum` (ACC, BWT, FWT, forgetting).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from agents.base import Observations, Transition
from arena.lm.model_dir import write_model_dir
from arena.options import add_threads_option, set_threads
from arena.training.loop import EpisodeStats, closing
from worlds.batch import BatchEnv
from worlds.scenario import Scenario

DEFAULT_OUT = Path("out/lm_default")  # never the shipped model's folder: `--out` that to replace it
BATCHES = (1, 16, 64, 256)
LOGGED = ("loss", "entropy", "approx_kl", "clip_fraction", "explained_variance", "grad_norm", "q", "epsilon")


# -- playing ----------------------------------------------------------------------------------
def play(scenario: Scenario, seats: list[tuple[list[int], object]], episodes: int, seed: int) -> dict:
    """One episode in each of `episodes` worlds (world b seeded `seed + b`), each seat's
    controller acting for its agents while they are in the game. Returns success rate, mean
    return of the first seat's agents, mean length."""
    env = BatchEnv(scenario, episodes, seed)
    raw = env.reset()
    recording = np.ones(episodes, dtype=bool)
    success = np.zeros(episodes, dtype=bool)
    returns = np.zeros(episodes)
    length = np.zeros(episodes)
    while recording.any():
        actions = np.zeros((episodes, scenario.num_agents), dtype=np.int64)
        for agents, controller in seats:
            obs = Observations.of_batch(scenario, env.world, raw, agents)
            live = np.flatnonzero(env.world.alive[obs.world, obs.agent] & recording[obs.world])
            if len(live):
                sub = _rows(obs, live)
                actions[sub.world, sub.agent] = controller.act(sub)
        raw, rewards, _, _, info = env.step(actions)
        returns += np.where(recording, rewards[:, seats[0][0]].mean(1), 0.0)
        done = np.flatnonzero(info["done"] & recording)
        if len(done):
            at = np.searchsorted(np.flatnonzero(info["done"]), done)
            success[done], length[done] = info["success"][at], info["episode_length"][at]
            recording[done] = False
    return {"success": float(success.mean()), "return": float(returns.mean()), "length": float(length.mean())}


def _rows(obs: Observations, index: np.ndarray) -> Observations:
    return Observations(
        obs.scenario, obs.state, obs.view[index], obs.action_mask[index], obs.world[index], obs.agent[index]
    )


def evaluated_seats(scenario: Scenario, controller, opponent) -> list[tuple[list[int], object]]:
    """The evaluated controller plays team 0 (all agents, or tag's hunters); `opponent` any
    other team."""
    teams = np.asarray(scenario.teams)
    seats = [(np.flatnonzero(teams == 0).tolist(), controller)]
    if teams.max() > 0:
        seats.append((np.flatnonzero(teams != 0).tolist(), opponent))
    return seats


def drive(learner, scenario: Scenario, num_worlds: int, steps: int, seed: int, log=None) -> list[dict]:
    """Train `learner` (all agents of team 0; other teams by the planner) for `steps` batch
    steps; returns the metrics of each update, with the success rate of the latest episodes
    among those that started at least max_cycles steps ago (nan before any)."""
    from agents.planners import make_planner

    env = BatchEnv(scenario, num_worlds, seed)
    teams = np.asarray(scenario.teams)
    mine = np.flatnonzero(teams == 0)
    others = np.flatnonzero(teams != 0)
    opponent = make_planner(scenario, seed) if len(others) else None
    raw = env.reset()
    stats = EpisodeStats(["learner"], scenario.max_cycles)  # episodes started long enough ago
    seat = SimpleNamespace(agents=mine)
    history = []
    for step in range(steps):
        obs = Observations.of_batch(scenario, env.world, raw, mine)
        actions = np.zeros((num_worlds, scenario.num_agents), dtype=np.int64)
        actions[:, mine] = learner.act(obs).reshape(num_worlds, len(mine))
        if opponent is not None:
            actions[:, others] = opponent.act(
                Observations.of_batch(scenario, env.world, raw, others)
            ).reshape(num_worlds, len(others))
        new, rewards, term, trunc, info = env.step(actions)
        # finished worlds as they ended, for bootstrapping: an LM's prompt reads the state too
        state, last = closing(env.world, new, info)
        stats.add(info, [seat])
        next_obs = Observations.of_batch(scenario, state, last, mine)
        metrics = learner.learn(
            Transition(
                obs, actions[:, mine].reshape(-1), rewards[:, mine].reshape(-1),
                term[:, mine].reshape(-1), trunc[:, mine].reshape(-1), next_obs,
                info["active"][:, mine].reshape(-1),
            )
        )  # fmt: skip
        raw = new
        if metrics:
            success = stats.summary()["success"]  # nan until a whole cohort has ended
            metrics = metrics | {"step": step + 1, "recent_success": success}
            history.append(metrics)
            if log:
                shown = "-" if np.isnan(success) else f"{success:.2f}"
                log(
                    f"step {step + 1}: train success {shown} "
                    + " ".join(f"{k} {v:.3g}" for k, v in metrics.items() if k in LOGGED)
                )
    return history


# -- writing the model -------------------------------------------------------------------------
# -- commands ---------------------------------------------------------------------------------
CONTINUAL_TASKS = (
    "tag_v0:map=tag_corridor:num_agents=2:num_hunters=1:max_cycles=10,"
    "plates_v0:num_agents=1:size=5:max_cycles=30,maze_v0:size=7:max_cycles=24"
)


def add_parser(sub) -> None:
    lm = sub.add_parser("lm", help="language-model agents: train the default model, benchmark, fine-tune")
    cmds = lm.add_subparsers(dest="lm_command", required=True)

    train = cmds.add_parser("train", help="build the default model by distillation from the planners")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        help=f"model folder (default {DEFAULT_OUT}; --out assets/lm/default replaces the shipped model)",
    )
    train.add_argument("--scale", type=float, default=1.0, help="episodes per recipe line, scaled")
    train.add_argument("--epochs", type=int, default=3)
    add_threads_option(train)
    train.set_defaults(func=train_command)

    bench = cmds.add_parser("bench", help="decisions/s of an LM seat (and zero-shot success with --success)")
    bench.add_argument("--model", default="default", help="default, smollm2, a folder or cached hub id")
    bench.add_argument("--batches", default=",".join(map(str, BATCHES)), help="batch sizes, comma-separated")
    bench.add_argument("--seconds", type=float, default=2.0, help="time per batch size")
    bench.add_argument(
        "--success",
        action="store_true",
        help="also play --episodes per scenario for zero-shot success (minutes: it says how many first)",
    )
    bench.add_argument("--episodes", type=int, default=50, help="episodes per scenario for --success")
    bench.add_argument("--seed", type=int, default=0)
    add_threads_option(bench)
    bench.add_argument("--device", default="auto", help="auto (cuda if torch sees one), cpu or cuda")
    bench.add_argument("--no-success", action="store_true", help=argparse.SUPPRESS)  # the old default
    bench.add_argument(
        "--mode",
        choices=("score", "generate"),
        default="score",
        help="how the seat chooses: score the actions, or generate an answer (speed only)",
    )
    bench.add_argument("--max-tokens", type=int, default=8, help="--mode generate: tokens an answer may take")
    bench.set_defaults(func=bench_command)

    tune = cmds.add_parser("finetune", help="PPO or Q-learning on the LM; success before and after")
    tune.add_argument("scenario", nargs="?", default="maze_v0")
    tune.add_argument(
        "--config",
        "--set",
        dest="config",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="scenario options, e.g. size=7 (--set: the old spelling)",
    )
    tune.add_argument("--algo", choices=("ppo", "q"), default="ppo")
    tune.add_argument("--model", default="default")
    tune.add_argument(
        "--hp",
        "--hyper",
        dest="hp",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="learner hyper-parameters (--hyper: the old spelling)",
    )
    tune.add_argument(
        "--steps", type=int, default=5120, help="env steps of training, worlds x iterations (default 5120)"
    )
    tune.add_argument("--worlds", type=int, default=16)
    tune.add_argument("--episodes", type=int, default=100, help="evaluation episodes before and after")
    tune.add_argument("--seed", type=int, default=0)
    tune.add_argument("--device", default="auto")
    add_threads_option(tune)
    tune.add_argument("--out", default=None, help="checkpoint file (.safetensors) to write")
    tune.set_defaults(func=finetune_command)

    cont = cmds.add_parser("continual", help="an LM learner through a sequence of tasks; forgetting")
    # tasks the shipped model starts weak at (tag, plates) and one it knows (the maze), so that
    # the matrix shows both learning and forgetting
    cont.add_argument("--tasks", default=CONTINUAL_TASKS)
    cont.add_argument("--algo", choices=("ppo", "q"), default="ppo")
    cont.add_argument("--model", default="default")
    cont.add_argument(
        "--hp",
        "--hyper",
        dest="hp",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="learner hyper-parameters (--hyper: the old spelling)",
    )
    cont.add_argument(
        "--steps-per-task", type=int, default=5120, help="env steps on each task, worlds x iterations"
    )
    cont.add_argument("--worlds", type=int, default=16)
    cont.add_argument("--episodes", type=int, default=64, help="evaluation episodes per task")
    cont.add_argument("--eval-greedy", action="store_true", help="evaluate the argmax policy")
    cont.add_argument("--seed", type=int, default=0)
    cont.add_argument("--device", default="auto")
    add_threads_option(cont)
    cont.set_defaults(func=continual_command)

    from arena.lm import distill_command, eval_command, memory, talk

    eval_command.add_parser(cmds)  # arena lm eval
    distill_command.add_parser(cmds)  # arena lm distill
    memory.add_parser(cmds)  # arena lm memory: the knowledge base, measured
    talk.add_parser(cmds)  # arena lm talk: the team channel, measured


def _threads(n: int | None) -> None:
    set_threads(n)


def train_command(args) -> int:
    from agents.lm.distill import distill_default

    _threads(args.threads)
    if args.scale <= 0 or args.epochs < 1:
        raise ValueError("--scale must be > 0 and --epochs >= 1")
    start = time.perf_counter()
    model, tokenizer, report = distill_default(
        seed=args.seed, scale=args.scale, epochs=args.epochs, log=print
    )
    report["seconds"] = round(time.perf_counter() - start, 1)
    out = write_model_dir(model, tokenizer, report, Path(args.out))
    acc = report["heldout_accuracy"]
    print(f"held-out action accuracy {acc['all']:.3f} (random legal {report['chance_accuracy']['all']:.3f}): "
          + ", ".join(f"{k} {v:.3f}" for k, v in acc.items() if k != "all"))  # fmt: skip
    print(f"wrote {out} ({report['parameters']:,} parameters) in {report['seconds']:.0f} s")
    return 0


def bench_command(args) -> int:
    _threads(args.threads)
    batches = [int(b) for b in args.batches.split(",") if b]
    if not batches or min(batches) < 1:
        raise ValueError(f"--batches must be positive integers, got {args.batches!r}")
    if args.max_tokens < 1:
        raise ValueError(f"--max-tokens must be >= 1, got {args.max_tokens}")
    if args.success and args.mode == "generate":
        raise ValueError("--success scores the actions: it does not combine with --mode generate")
    episodes = args.episodes if args.success else 0
    run(args.model, batches, args.seconds, episodes, args.seed, args.device, args.mode, args.max_tokens)
    return 0


def finetune_command(args) -> int:
    from agents.checkpoint import pick_device
    from arena.training.loop import parse_pairs
    from worlds.registry import make_scenario

    _threads(args.threads)
    scenario = make_scenario(args.scenario, **parse_pairs(args.config, "--config"))
    hyper = parse_pairs(args.hp, "--hp") | {"model": args.model}
    device = pick_device(args.device)
    if args.algo == "ppo":
        from agents.lm.ppo import LMPPO as cls
    else:
        from agents.lm.qhead import LMQ as cls
    learner = cls(scenario, args.seed, device, **hyper)
    opponent = _planner(scenario, args.seed)
    eval_seed = args.seed + 1_000_000

    def evaluate(when: str) -> dict:
        out = {}
        for how, player in (("sampled", _Sampled(learner)), ("greedy", _Greedy(learner))):
            seats = evaluated_seats(scenario, player, opponent)
            out[how] = result = play(scenario, seats, args.episodes, eval_seed)
            print(
                f"{when} ({how}): success {result['success']:.3f}, return {result['return']:.3f}, "
                f"length {result['length']:.1f}"
            )
        return out

    before = evaluate("before")
    start = time.perf_counter()
    iterations = max(1, args.steps // args.worlds)
    drive(learner, scenario, args.worlds, iterations, args.seed, log=print)
    print(
        f"trained {iterations * args.worlds:,} env steps ({iterations} x {args.worlds} worlds) "
        f"in {time.perf_counter() - start:.0f} s"
    )
    after = evaluate("after")
    if args.out:
        print(f"wrote {learner.save(args.out)}")
    print(json.dumps({"before": before, "after": after}))
    return 0


def continual_command(args) -> int:
    from agents.checkpoint import pick_device
    from arena.training.curriculum import parse_curriculum, transfer_metrics
    from arena.training.loop import parse_pairs

    _threads(args.threads)
    tasks = parse_curriculum(args.tasks)
    hyper = parse_pairs(args.hp, "--hp") | {"model": args.model}
    if args.algo == "ppo":
        from agents.lm.ppo import LMPPO as cls
    else:
        from agents.lm.qhead import LMQ as cls
    widest = max(tasks, key=lambda t: len(t.scenario.actions)).scenario  # it names every action
    learner = cls(widest, args.seed, pick_device(args.device), **hyper)
    player = _Greedy(learner) if args.eval_greedy else _Sampled(learner)

    def row() -> list[float]:
        out = []
        for task in tasks:
            seats = evaluated_seats(task.scenario, player, _planner(task.scenario, args.seed))
            out.append(play(task.scenario, seats, args.episodes, args.seed + 1_000_000)["success"])
        return out

    baseline = row()
    print("untrained: " + ", ".join(f"{t.label} {v:.2f}" for t, v in zip(tasks, baseline, strict=True)))
    R = []
    for task in tasks:
        start = time.perf_counter()
        drive(learner, task.scenario, args.worlds, max(1, args.steps_per_task // args.worlds), args.seed)
        learner.end_task(task.label)
        R.append(row())
        print(
            f"after {task.label} ({time.perf_counter() - start:.0f} s): "
            + ", ".join(f"{t.label} {v:.2f}" for t, v in zip(tasks, R[-1], strict=True))
        )
    metrics = transfer_metrics(R, baseline)
    print(
        " ".join(f"{k.upper()} {v:+.3f}" if v is not None else f"{k.upper()} -" for k, v in metrics.items())
    )
    print(json.dumps({"tasks": [t.label for t in tasks], "baseline": baseline, "R": R, **metrics}))
    return 0


class _Greedy:
    """A learner acting without exploration (for evaluation)."""

    def __init__(self, learner):
        self.learner = learner

    def act(self, obs):
        return self.learner.act(obs, explore=False)


class _Sampled(_Greedy):
    """A learner acting with its own exploration (sampling, epsilon)."""

    def act(self, obs):
        return self.learner.act(obs, explore=True)


def _planner(scenario: Scenario, seed: int):
    from agents.planners import make_planner

    return make_planner(scenario, seed)


# -- the benchmark ----------------------------------------------------------------------------
SUCCESS_SCENARIOS = (("maze_v0", {}), ("maze_v0", {"style": "rooms"}), ("plates_v0", {}), ("tag_v0", {}))


def run(
    model: str, batches, seconds: float, episodes: int, seed: int = 0, device="auto", mode="score",
    max_tokens: int = 8,
) -> dict:  # fmt: skip
    """Print (and return) decisions/s per batch size and, with `episodes`, success per scenario."""
    import platform

    import torch

    from agents.checkpoint import pick_device
    from agents.lm.model import load_model, parameter_count
    from worlds.registry import make_scenario

    device = pick_device(device)
    start = time.perf_counter()
    lm, tokenizer = load_model(model, device)
    threads = torch.get_num_threads()
    print(
        f"model {model}: {parameter_count(lm):,} parameters, loaded in {time.perf_counter() - start:.1f} s; "
        f"{device}, torch {torch.__version__}, {threads} thread{'s' * (threads > 1)}, "
        f"{platform.processor() or platform.machine()}, load average {_load()}"
    )
    if mode == "generate":
        from arena.lm.generation_bench import generation_speed

        maze = make_scenario("maze_v0")
        return {"speed": generation_speed(lm, tokenizer, maze, batches, seconds, seed, model, max_tokens)}
    out = {"speed": speed(lm, tokenizer, make_scenario("maze_v0"), batches, seconds, seed, model)}
    if episodes:
        print(_success_estimate(out["speed"], episodes))
        out["success"] = success(lm, tokenizer, episodes, seed, model)
    return out


def _success_estimate(speed_rows: list[dict], episodes: int) -> str:
    """How long the success part may take: the LM plays every scenario twice (sampled, greedy)
    in `episodes` worlds at once for at most max_cycles steps, at the speed measured at the
    nearest batch size."""
    from worlds.registry import make_scenario

    decisions = 0
    for name, config in SUCCESS_SCENARIOS:
        scenario = make_scenario(name, **config)
        seated = scenario.num_agents if name != "tag_v0" else int((scenario.teams == 0).sum())
        decisions += 2 * episodes * scenario.max_cycles * seated
    row = min(speed_rows, key=lambda r: abs(r["batch"] - episodes))
    minutes = decisions / row["decisions_per_s"] / 60
    return (
        f"\nthe success part: up to {decisions:,} LM decisions, at most ~{minutes:.0f} min at "
        f"{row['decisions_per_s']:,.0f} decisions/s (batch {row['batch']}); episodes that end early take less"
    )


def speed(
    lm, tokenizer, scenario: Scenario, batches, seconds: float, seed: int, name: str = "lm"
) -> list[dict]:
    """Decisions/s of `LMController.act` (text views, prompts, scoring, sampling) on B maze
    worlds, 1 agent each: B decisions a call, 5 candidate actions each."""
    from agents.lm.policy import LMController

    print(f"\ndecisions/s, {scenario.name} (1 agent, {len(scenario.actions)} candidate actions), sampled")
    print(f"{'batch':>6} | {'decisions/s':>11} | {'ms/call':>8} | {'cpu ms/call':>11} | "
          f"{'in the model':>12} | prompt tokens")  # fmt: skip
    rows = []
    for B in batches:
        controller = LMController(lm, tokenizer, scenario, seed=seed, model_name=name)
        model_time = _timed(controller.scorer)
        env = BatchEnv(scenario, B, seed)
        raw = env.reset()
        obs = Observations.of_batch(scenario, env.world, raw, [0])
        tokens = np.mean([len(controller.scorer.encode([p.text])[0]) for p in controller.prompts(obs)])
        env.step(controller.act(obs).reshape(B, 1))  # warm-up (and the prefix cache)
        calls, spent, cpu, model_time[0] = 0, 0.0, 0.0, 0.0
        while spent < seconds or calls < 2:
            obs = Observations.of_batch(scenario, env.world, raw, [0])
            t, c = time.perf_counter(), time.process_time()
            actions = controller.act(obs)
            spent, cpu = spent + time.perf_counter() - t, cpu + time.process_time() - c
            calls += 1
            raw, *_ = env.step(actions.reshape(B, 1))
        row = {"batch": B, "decisions_per_s": B * calls / spent, "ms_per_call": 1000 * spent / calls,
               "cpu_ms_per_call": 1000 * cpu / calls, "model_share": model_time[0] / spent,
               "prompt_tokens": float(tokens)}  # fmt: skip
        rows.append(row)
        print(f"{B:>6} | {row['decisions_per_s']:>11,.0f} | {row['ms_per_call']:>8.1f} | "
              f"{row['cpu_ms_per_call']:>11.1f} | {row['model_share']:>11.0%} | {tokens:.0f}",
              flush=True)  # fmt: skip
    return rows


def _load() -> str:
    """The 1-minute load average (other jobs sharing the CPU slow every figure), where known."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def _timed(scorer) -> list[float]:
    """Wrap `scorer.score` to add its time into the returned one-element list."""
    total = [0.0]
    score = scorer.score

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return score(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - t

    scorer.score = timed
    return total


def success(lm, tokenizer, episodes: int, seed: int, name: str = "lm") -> list[dict]:
    """Zero-shot success per scenario of the LM (sampled and greedy) vs random vs planner, on
    the same seeded episodes. In tag_v0 the contestant plays the hunters against planner
    runners (success: every runner caught)."""
    from agents.lm.policy import LMController
    from agents.planners import make_planner
    from agents.random_agent import RandomAgent
    from worlds.registry import make_scenario

    print(
        f"\nzero-shot success, {episodes} episodes each "
        f"(seeds {seed + 2_000_000}...; the same for every contestant)"
    )
    print(
        f"{'scenario':<28} | {'contestant':<14} | {'success':>7} | {'return':>7} | {'length':>6} | {'s':>5}"
    )
    rows = []
    for scenario_name, config in SUCCESS_SCENARIOS:
        scenario = make_scenario(scenario_name, **config)
        label = scenario_name + (" " + " ".join(f"{k}={v}" for k, v in config.items()) if config else "")
        contestants = {
            f"{name}": LMController(lm, tokenizer, scenario, seed=seed, model_name=name),
            f"{name} greedy": LMController(lm, tokenizer, scenario, seed=seed, greedy=True, model_name=name),
            "random": RandomAgent(seed),
            "planner": make_planner(scenario, seed),
        }
        for who, controller in contestants.items():
            t = time.perf_counter()
            opponent = make_planner(scenario, seed)
            result = play(
                scenario, evaluated_seats(scenario, controller, opponent), episodes, seed + 2_000_000
            )
            result |= {"scenario": label, "contestant": who, "seconds": time.perf_counter() - t}
            rows.append(result)
            print(f"{label:<28} | {who:<14} | {result['success']:>7.2f} | {result['return']:>7.3f} | "
                  f"{result['length']:>6.1f} | {result['seconds']:>5.1f}", flush=True)  # fmt: skip
    return rows
