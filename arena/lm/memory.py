"""`arena lm memory`: does a knowledge base help an LM seat? Success with and without, measured.

On `--tasks` held-out tasks of a family (`worlds.tasks(FAMILY, "test", seed)`: unseen layouts
and knob combinations), an LM seat plays `--attempts` rounds of `--worlds` episodes each (all
worlds of a task share its layout). Without memory the rounds are independent tries; with
memory the seat recalls from a knowledge base that every finished episode adds to, so round k
draws on rounds 1..k-1. Two ways to fill the base:

* `retry` (default): a fresh store per task: what one layout's earlier tries teach its later ones;
* `transfer`: one store through the whole task sequence, and only each task's first round is
  scored: what other layouts teach a new one.

Both conditions use the same seeds (model sampling and worlds). Success per round is averaged
over the tasks, with its standard error over tasks. `--memory PATH` keeps the store (in
`transfer` mode the one store; in `retry` mode PATH-<task>) instead of a temporary folder.
Recall options through `--hp`: k (neighbours, 8), weight (of the memory's vote, 0.5), radius
(cosine distance, 0.3), lines (memory lines in the prompt, 0).
"""

from __future__ import annotations

import json
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np

from arena.lm.trials import fmt, play_round, summary, team_seats
from arena.options import add_threads_option

RECALL_OPTIONS = {"k": int, "weight": float, "radius": float, "lines": int}


def recall_options(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in RECALL_OPTIONS:
            raise ValueError(f"--hp takes {', '.join(f'{k}=' for k in RECALL_OPTIONS)}..., got {pair!r}")
        try:
            out[key] = RECALL_OPTIONS[key](value)
        except ValueError:
            raise ValueError(f"--hp {key} must be a {RECALL_OPTIONS[key].__name__}, got {value!r}") from None
    return out


def measure(
    family: str,
    tasks: int,
    attempts: int,
    worlds: int,
    seed: int = 0,
    model: str = "default",
    mode: str = "retry",
    memory: str | None = None,
    options: dict | None = None,
    device: str = "cpu",
    log=print,
) -> dict:
    """Success per round with and without memory (see the module docstring)."""
    import worlds as w
    from agents.lm.recall import Recall
    from agents.registry import make_controller

    if mode not in ("retry", "transfer"):
        raise ValueError(f"mode must be retry or transfer, got {mode!r}")
    task_list = list(islice(w.tasks(family, "test", seed), tasks))
    folder = Path(memory).parent if memory else Path(tempfile.mkdtemp(prefix="arena-memory-"))
    results = {}
    for condition in ("without", "with"):
        per_round = np.zeros((len(task_list), attempts))
        length = np.zeros((len(task_list), attempts))
        ret = np.zeros((len(task_list), attempts))
        start = time.perf_counter()
        for t, task in enumerate(task_list):
            scenario = task.make_scenario()
            lm = make_controller(f"lm:{model}", scenario, seed=seed + t, device=device)
            if condition == "with":
                if mode == "transfer":
                    path = Path(memory) if memory else folder / "transfer.kb"
                else:
                    path = Path(f"{memory}-{t}") if memory else folder / f"task{t}.kb"
                lm.recall = Recall.open(path, scenario, **(options or {}))
            seats = team_seats(scenario, lm, seed=seed)
            rounds = 1 if mode == "transfer" else attempts
            for k in range(rounds):
                env_seed = seed + 10_000 * t + worlds * k
                played = play_round(scenario, seats, worlds, env_seed)
                per_round[t, k] = played["success"].mean()
                length[t, k], ret[t, k] = played["length"].mean(), played["return"].mean()
            if lm.recall is not None:
                lm.recall.store.save()
            log(f"{condition:7s} {task.label}: " + " ".join(f"{x:.2f}" for x in per_round[t, :rounds]))
        rounds = 1 if mode == "transfer" else attempts
        results[condition] = {
            "per_task": per_round[:, :rounds].tolist(),
            "rounds": [summary(per_round[:, k]) for k in range(rounds)],
            "all": summary(per_round[:, :rounds].mean(1)),
            "return": summary(ret[:, :rounds].mean(1)),
            "length": summary(length[:, :rounds].mean(1)),
            "return_rounds": [summary(ret[:, k]) for k in range(rounds)],
            "per_task_return": ret[:, :rounds].tolist(),
            "seconds": round(time.perf_counter() - start, 1),
        }
    diff = np.array(results["with"]["per_task"]).mean(1) - np.array(results["without"]["per_task"]).mean(1)
    results["difference"] = summary(diff)  # paired over tasks
    gain = np.array(results["with"]["per_task_return"]).mean(1) - np.array(
        results["without"]["per_task_return"]
    ).mean(1)
    results["return_difference"] = summary(gain)
    results["setup"] = {
        "family": family,
        "tasks": [t.label for t in task_list],
        "attempts": attempts,
        "worlds": worlds,
        "seed": seed,
        "model": model,
        "mode": mode,
        "options": options or {},
    }
    return results


def report(results: dict) -> str:
    setup = results["setup"]
    rounds = len(results["with"]["rounds"])
    head = f"{setup['family']} ({setup['mode']}): {len(setup['tasks'])} held-out tasks x {rounds} rounds"
    head += f" x {setup['worlds']} episodes, model {setup['model']}, recall {setup['options'] or 'defaults'}"
    lines = [head, "success | " + " | ".join(f"round {k + 1}" for k in range(rounds)) + " | all"]
    for condition in ("without", "with"):
        r = results[condition]
        cells = [fmt(*x) for x in r["rounds"]] + [fmt(*r["all"])]
        lines.append(f"{condition} memory | " + " | ".join(cells))
    lines.append("return | " + " | ".join(f"round {k + 1}" for k in range(rounds)) + " | all | length")
    for condition in ("without", "with"):
        r = results[condition]
        cells = [fmt(*x) for x in r["return_rounds"]] + [fmt(*r["return"]), fmt(*r["length"])]
        lines.append(f"{condition} memory | " + " | ".join(cells))
    lines.append(
        f"with - without, paired over tasks: success {fmt(*results['difference'])}, "
        f"return {fmt(*results['return_difference'])}"
    )
    return "\n".join(lines)


def memory_command(args) -> int:
    from arena.lm.commands import _threads

    _threads(args.threads)
    for name in ("tasks", "attempts", "worlds"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1")
    results = measure(
        args.family, args.tasks, args.attempts, args.worlds, args.seed, args.model, args.mode,
        args.memory, recall_options(args.hp), args.device, log=(lambda _: None) if args.json else print,
    )  # fmt: skip
    print(json.dumps(results) if args.json else report(results))
    return 0


def add_parser(cmds) -> None:
    mem = cmds.add_parser("memory", help="success of an LM seat with a knowledge base vs without")
    mem.add_argument("family", nargs="?", default="maze", help="task family (worlds.tasks), held-out split")
    mem.add_argument("--tasks", type=int, default=8)
    mem.add_argument("--attempts", type=int, default=4, help="rounds per task (retry mode)")
    mem.add_argument("--worlds", type=int, default=8, help="episodes per round, played at once")
    mem.add_argument("--mode", choices=("retry", "transfer"), default="retry")
    mem.add_argument("--model", default="default")
    mem.add_argument("--memory", default=None, metavar="PATH", help="keep the store(s) here")
    mem.add_argument("--hp", nargs="*", default=[], metavar="K=V", help="recall: k, weight, radius, lines")
    mem.add_argument("--seed", type=int, default=0)
    mem.add_argument("--device", default="cpu")
    add_threads_option(mem)
    mem.add_argument("--json", action="store_true")
    mem.set_defaults(func=memory_command)
