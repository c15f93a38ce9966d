"""Continual learning: `arena train --curriculum maze_v0,plates_v0,tag_v0 --steps-per-task N`.

One learner trains on a sequence of tasks (scenarios, or variations such as `maze_v0:size=7`, or
tasks drawn from `worlds.tasks`: `tasks:maze:train:8` is the first 8 of the maze family's train
stream, each a fixed layout labelled like `maze-9-rooms-a2@48213`; see `task_stream`).
It drives the first team of every task (maze and plates: `agents`; tag: `hunters`), with
parameter sharing across that team; the other teams are played by `--opponent` (random). Tasks
differ in their action sets (tag has 6 actions, maze and plates 5): the learner is built with
the largest count and the actions a task lacks are masked out of its rows.

Before training and after each task, the learner is evaluated on every task with fixed seeds
(one episode in each of `eval_worlds` worlds; actions sampled, or greedy with `--eval-greedy`):
the untrained row gives the baseline b[j], the rest the matrix R[i, j] (success rate on task j
after training on task i).
From them, as in Lopez-Paz & Ranzato (2017) and Chaudhry et al. (2018):

    ACC = mean_j R[T-1, j]                                   (average final performance)
    BWT = mean_{j<T-1} (R[T-1, j] - R[j, j])                  (backward transfer)
    FWT = mean_{j>0} (R[j-1, j] - b[j])                       (forward transfer)
    forgetting = mean_{j<T-1} (max_{l<T-1} R[l, j] - R[T-1, j])

Methods (`--continual`, several compared in one call): `none` (sequential fine-tuning),
`replay` and `ewc` (the learner's own methods against forgetting, its hyper-parameter
`continual`), and `joint` (the baseline that trains on all tasks at once: each step every
task's worlds step together and the learner learns from all their rows; same total env steps).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from agents.checkpoint import save_controller
from agents.plasticity import PLASTICITY_DEFAULTS
from arena.episode import write_atomic
from arena.training.joint import joint_step, mean_of
from arena.training.logbook import Logbook, Progress, read_records
from arena.training.loop import (
    ALGOS,
    LM_ALGOS,
    Seat,
    TrainingLoop,
    evaluate,
    make_seat,
    parse_pairs,
    parse_scenario,
    seat_seed,
)
from arena.training.plasticity import (
    REMEDIES,
    Remedy,
    continual_world,
    format_speed,
    learning_speed,
    plot_speed,
    take_settings,
)
from worlds.scenario import Scenario
from worlds.tasks import SPLITS
from worlds.tasks import tasks as task_generator

METHODS = ("none", "replay", "ewc", "joint", *REMEDIES)
LEARNER = "learner"  # the seat name of the curriculum's learner in every task
TASK_COUNT = 5  # tasks a `tasks:FAMILY` item expands into when it gives no count


@dataclass(frozen=True)
class Task:
    label: str  # as given: "maze_v0:size=7"
    scenario: Scenario

    @property
    def protagonists(self) -> list[int]:
        """The agents of the first team: the ones the learner drives."""
        return [i for i in range(self.scenario.num_agents) if self.scenario.teams[i] == 0]


def parse_curriculum(text: str) -> list[Task]:
    """`maze_v0,plates_v0,tag_v0:size=11` -> tasks; `tasks:FAMILY[:split][:count]` items expand
    into tasks of `worlds.tasks` (see `task_stream`). They must share the view size."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError("--curriculum: no tasks given (e.g. maze_v0,plates_v0,tag_v0)")
    tasks = [
        task
        for item in items
        for task in (task_stream(item) if item.startswith("tasks:") else [Task(item, parse_scenario(item))])
    ]
    labels = [t.label for t in tasks]
    if len(set(labels)) != len(labels):
        raise ValueError(f"--curriculum: a task is listed twice in {text!r}")
    views = {t.label: t.scenario.view_size for t in tasks}
    if len(set(views.values())) > 1:
        raise ValueError(
            f"--curriculum: every task must have the same view_size (one learner sees them all): {views}"
        )
    return tasks


def task_stream(item: str) -> list[Task]:
    """`tasks:FAMILY[:split][:count][:KEY=VALUE...]` -> the first `count` (default
    `TASK_COUNT`) tasks of `worlds.tasks(FAMILY, split, seed)`, labelled as the stream labels
    them. `seed=N` picks another stream (default 0); other KEY=VALUE pairs override every task's
    config (`max_cycles=20`). Split, count and pairs may come in any order after the family."""
    family, *parts = item.removeprefix("tasks:").split(":")
    split, count, overrides = "train", TASK_COUNT, {}
    for part in parts:
        if part in SPLITS:
            split = part
        elif part.isdigit():
            count = int(part)
        else:
            overrides |= parse_pairs([part], f"--curriculum {item!r}")
    if count < 1:
        raise ValueError(f"--curriculum {item!r}: the count of tasks must be >= 1")
    stream = task_generator(family, split, int(overrides.pop("seed", 0)))
    return [Task(t.label, t.make_scenario(**overrides)) for t in islice(stream, count)]


def transfer_metrics(R, baseline=None) -> dict:
    """ACC, BWT, FWT and forgetting of a T x T matrix R[i, j] (performance on task j after
    training on task i) and the untrained baseline b[j]; None where undefined (T = 1, or FWT
    without a baseline)."""
    R = np.asarray(R, dtype=float)
    if R.ndim != 2 or R.shape[0] != R.shape[1]:
        raise ValueError(f"R must be a square T x T matrix, got shape {R.shape}")
    T = len(R)
    out = {"acc": float(R[-1].mean()), "bwt": None, "fwt": None, "forgetting": None}
    if T > 1:
        out["bwt"] = float(np.mean(R[-1, :-1] - np.diag(R)[:-1]))
        out["forgetting"] = float(np.mean(R[:-1, :-1].max(0) - R[-1, :-1]))
        if baseline is not None:
            b = np.asarray(baseline, dtype=float)
            out["fwt"] = float(np.mean([R[j - 1, j] - b[j] for j in range(1, T)]))
    return out


# -- one method ------------------------------------------------------------------------------------
class Curriculum:
    """One method's pass through the tasks with one learner, writing into `out/<method>/`."""

    def __init__(
        self,
        tasks: list[Task],
        method: str,
        out: Path,
        algo: str = "ppo",
        steps_per_task: int = 50_000,
        worlds: int = 64,
        seed: int = 0,
        device: str = "auto",
        hyper: dict | None = None,
        opponent: str = "random",
        eval_worlds: int = 32,
        eval_seed: int = 1_000_000,
        log_every: int | None = None,
        eval_greedy: bool = False,
        quiet: bool = False,
    ):
        if method not in METHODS:
            raise ValueError(f"--continual: unknown method {method!r}; use some of {', '.join(METHODS)}")
        self.tasks, self.method, self.algo = tasks, method, algo
        self.out = Path(out) / method
        self.steps_per_task, self.worlds, self.seed = steps_per_task, worlds, seed
        self.device, self.opponent, self.quiet = device, opponent, quiet
        self.eval_worlds, self.eval_seed, self.eval_greedy = eval_worlds, eval_seed, eval_greedy
        self.log_every = log_every or max(worlds, steps_per_task // 20)
        self.num_actions = max(len(t.scenario.actions) for t in tasks)
        self.hyper = dict(hyper or {})
        if method in ("replay", "ewc"):
            self.hyper["continual"] = method
        settings = take_settings(self.hyper)  # the plasticity remedies' own --hp keys
        import torch

        torch.manual_seed(seed)  # every method starts from the same state of torch's generator
        self.learner = self.new_learner(0)
        self.remedy = Remedy(method, settings, lambda i: self.new_learner(1000 + i), seed)
        self.remedy.start(self.learner)
        self.log = Logbook(self.out, tensorboard=False)
        self.step = 0

    def new_learner(self, k: int):
        """A learner for every task: built for the first, with the largest action set (an LM
        learner scores its scenario's action names: built for the task that has them all)."""
        tasks = self.tasks
        home = max(tasks, key=lambda t: len(t.scenario.actions)) if self.algo in LM_ALGOS else tasks[0]
        return make_seat(
            home.scenario, LEARNER, home.protagonists, self.algo, seat_seed(self.seed, k), self.device,
            self.hyper, num_actions=self.num_actions,
        ).controller  # fmt: skip

    def seats(self, task: Task) -> list[Seat]:
        """The learner on the first team, the opponent on the others."""
        learner, algo, count = self.learner, self.algo, self.num_actions
        return task_seats(task, learner, algo, count, self.opponent, self.seed, self.device)

    def evaluate_all(self) -> tuple[list[float], list[float]]:
        """Success rate and the learner's mean return on every task (fixed seeds)."""
        success, returns = [], []
        for task in self.tasks:
            seats = self.seats(task)
            row = evaluate(
                task.scenario, seats, self.eval_worlds, self.eval_seed, self.device, not self.eval_greedy
            )
            success.append(row["success"])
            returns.append(row[f"{LEARNER}/return"])
        return success, returns

    def run(self) -> dict:
        """Baseline, training (sequential or joint), the matrix and its metrics."""
        start = time.perf_counter()
        base_success, base_return = self.evaluate_all()
        self._log_eval("untrained", base_success, base_return)
        R_success, R_return = [], []
        if self.method == "joint":
            self._train_joint()
            s, r = self.evaluate_all()
            self._log_eval("joint", s, r)
            R_success, R_return = [s], [r]
        else:
            for i, task in enumerate(self.tasks):
                if i > 0:
                    self.learner = self.remedy.before_task(i, self.learner)
                self._train_on(i, task)
                self.learner.end_task(task.label)
                s, r = self.evaluate_all()
                self._log_eval(task.label, s, r)
                R_success.append(s)
                R_return.append(r)
        self.log.write_csv()
        self.log.close()
        save_controller(self.learner, self.out / f"{LEARNER}.safetensors")
        result = {
            "method": self.method,
            "baseline_success": base_success,
            "baseline_return": base_return,
            "R_success": R_success,
            "R_return": R_return,
            "steps": self.step,
            "seconds": round(time.perf_counter() - start, 1),
        }
        if self.method == "joint":
            result["metrics_success"] = {"acc": float(np.mean(R_success[-1]))}
            result["metrics_return"] = {"acc": float(np.mean(R_return[-1]))}
        else:
            result["metrics_success"] = transfer_metrics(R_success, base_success)
            records = read_records(self.out / "log.jsonl")
            result["plasticity"] = learning_speed(records, [t.label for t in self.tasks])
            result["metrics_return"] = transfer_metrics(R_return, base_return)
        return result

    def _train_on(self, i: int, task: Task) -> None:
        loop = TrainingLoop(task.scenario, self.seats(task), self.worlds, self.seed + 100_000 * i)
        end = self.step + self.steps_per_task
        self.log.write({"kind": "task", "method": self.method, "task": task.label, "step": self.step})
        progress = Progress(end, self.step, quiet=self.quiet, label=f"{self.method} {task.label}")
        clock = time.perf_counter()
        while self.step < end:
            before, self.step = self.step, self.step + self.worlds
            loop.step()
            if self.step // self.log_every > before // self.log_every or self.step >= end:
                row = loop.stats.summary() | loop.take_metrics()
                self._log_train(task.label, row)
                progress.show(self.step, row, time.perf_counter() - clock)
        progress.close()

    def _train_joint(self) -> None:
        """All tasks at once: the worlds are shared out among the tasks, each step every task
        steps, and the learner acts on and learns from all their rows together."""
        per_task = max(1, self.worlds // len(self.tasks))
        loops = [
            TrainingLoop(task.scenario, self.seats(task), per_task, self.seed + 100_000 * i)
            for i, task in enumerate(self.tasks)
        ]
        end = self.steps_per_task * len(self.tasks)
        width = per_task * len(self.tasks)
        progress = Progress(end, 0, quiet=self.quiet, label="joint")
        clock = time.perf_counter()
        while self.step < end:
            before, self.step = self.step, self.step + width
            joint_step(loops, self.learner)
            if self.step // self.log_every > before // self.log_every or self.step >= end:
                rows = [loop.stats.summary() for loop in loops]
                for task, row in zip(self.tasks, rows, strict=True):
                    self._log_train(task.label, row)
                self._log_train("joint", loops[0].take_metrics())  # the learner's update metrics
                shown = {key: mean_of(rows, key) for key in ("success", f"{LEARNER}/return")}
                progress.show(self.step, shown, time.perf_counter() - clock)
        progress.close()

    def _log_train(self, task: str, row: dict) -> None:
        self.log.write({"kind": "train", "method": self.method, "task": task, "step": self.step} | row)

    def _log_eval(self, after: str, success: list[float], returns: list[float]) -> None:
        for task, s, r in zip(self.tasks, success, returns, strict=True):
            self.log.write({
                "kind": "matrix", "method": self.method, "after": after, "task": task.label,
                "step": self.step, "success": s, "return": r,
            })  # fmt: skip


def task_seats(
    task: Task, learner, algo: str, num_actions: int, opponent: str, seed: int, device: str = "auto"
) -> list[Seat]:
    """The learner on the task's first team, the opponent controller on the others."""
    scenario = task.scenario
    seats = [Seat(LEARNER, np.asarray(task.protagonists), algo, learner, num_actions)]
    for t, team in enumerate(scenario.team_names[1:], start=1):
        members = [i for i in range(scenario.num_agents) if scenario.teams[i] == t]
        seats.append(make_seat(scenario, team, members, opponent, seat_seed(seed, t), device))
    return seats


# -- all methods ---------------------------------------------------------------------------------
def run_curriculum(
    tasks: list[Task], methods: list[str], out: str | Path, quiet: bool = False, **kwargs
) -> dict:
    """Every method in turn (same seed), then `curriculum.json`, the heatmaps and a table."""
    from arena.training.plots import plot_curves, plot_matrix, plot_stages

    out = Path(out)
    labels = [t.label for t in tasks]
    results = {}
    for method in methods:
        if not quiet:
            print(
                f"{method}: {' -> '.join(labels) if method != 'joint' else ' + '.join(labels)}",
                file=sys.stderr,
            )
        curriculum = Curriculum(tasks, method, out, quiet=quiet, **kwargs)
        result = curriculum.run()
        folder = out / method
        rows = labels if method != "joint" else ["all tasks (joint)"]
        result["heatmap"] = str(plot_matrix(
            result["R_success"], labels, folder / "matrix.png", baseline=result["baseline_success"],
            title=f"{method}: success rate R[i, j]", row_labels=rows,
        ))  # fmt: skip
        records = read_records(folder / "log.jsonl")
        result["curves"] = str(plot_curves(
            task_curves(records), folder / "learning_curves.png", boundaries=task_starts(records),
            title=f"{method}: the learner's training episodes on {', '.join(labels)}",
        ))  # fmt: skip
        results[method] = result
    results = earlier_methods(out, labels, kwargs, results) | results
    reference = results.get("scratch", {}).get("plasticity", {}).get("auc")
    for result in results.values():
        if "plasticity" in result:
            auc = result["plasticity"]["auc"]
            result["continual_world"] = continual_world(result["R_success"], auc, reference)
    summary = {"tasks": labels, "methods": results, "settings": dict(kwargs)}
    summary["stages_plot"] = str(plot_stages(results, labels, out / "stages.png"))
    if any("plasticity" in r for r in results.values()):
        summary["speed_plot"] = str(plot_speed(results, out / "learning_speed.png"))
    text = json.dumps(summary, indent=2) + "\n"
    write_atomic(out / "curriculum.json", lambda tmp: Path(tmp).write_text(text))
    if not quiet:
        print(format_results(summary))
        pngs = ", ".join(f"{m}/matrix.png, {m}/learning_curves.png" for m in methods)
        print(f"wrote {out}/: curriculum.json, stages.png, {pngs}")
    return summary


def earlier_methods(out: Path, labels: list[str], settings: dict, new: dict) -> dict:
    """The methods an earlier call wrote into `out/curriculum.json` with the same tasks and
    settings (the remedies' own --hp aside), so methods compared across calls share one table
    (and `scratch`, run once, is the reference of every later call's forward transfer)."""
    path = out / "curriculum.json"
    if not path.is_file():
        return {}
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        same = saved["tasks"] == labels and _comparable(saved["settings"]) == _comparable(settings)
        return {m: r for m, r in saved["methods"].items() if m not in new} if same else {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # not ours to read: it is written afresh


def _comparable(settings: dict) -> dict:
    settings = json.loads(json.dumps(settings))
    hyper = {k: v for k, v in (settings.get("hyper") or {}).items() if k not in PLASTICITY_DEFAULTS}
    return settings | {"hyper": hyper}


def task_curves(records: list[dict]) -> list[dict]:
    """Training records keyed by task (`TASK/success`, `TASK/return`, `TASK/length`), so each
    task draws its own line."""
    out = []
    for r in records:
        if r.get("kind") == "train" and r["task"] != "joint":
            task = r["task"]
            out.append({
                "kind": "train", "step": r["step"], f"{task}/success": r.get("success"),
                f"{task}/return": r.get(f"{LEARNER}/return"), f"{task}/length": r.get("length"),
            })  # fmt: skip
    return out


def task_starts(records: list[dict]) -> list[tuple[int, str]]:
    """(step, task) where each task's training begins (sequential methods)."""
    return [(r["step"], r["task"]) for r in records if r.get("kind") == "task"]


def format_results(summary: dict) -> str:
    def num(value, fmt="+.2f"):
        return "-" if value is None else format(value, fmt)

    labels = summary["tasks"]
    lines = [f"success rate after the curriculum ({' -> '.join(labels)}):"]
    head = ["method", "ACC", "BWT", "FWT", "forgetting", *labels]
    body = []
    for method, result in summary["methods"].items():
        m = result["metrics_success"]
        final = result["R_success"][-1]
        body.append([method, num(m["acc"], ".2f"), num(m.get("bwt")), num(m.get("fwt")),
                     num(m.get("forgetting"), ".2f"), *(f"{v:.2f}" for v in final)])  # fmt: skip
    first = next(iter(summary["methods"].values()))
    body.append(["untrained", "", "", "", "", *(f"{v:.2f}" for v in first["baseline_success"])])
    widths = [max(len(str(row[k])) for row in [head, *body]) for k in range(len(head))]
    for row in [head, *body]:
        lines.append(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    lines.insert(2, "-+-".join("-" * w for w in widths))
    for method, result in summary["methods"].items():
        if method == "joint":
            continue
        lines.append(f"\n{method}: R[i, j] success (rows: after training on task i)")
        for label, row in zip(labels, result["R_success"], strict=True):
            lines.append(f"  {label:<24} " + " ".join(f"{v:5.2f}" for v in row))
    return "\n".join(lines) + format_speed(summary)


def curriculum_command(args) -> int:
    """`arena train --curriculum ...`."""
    if args.resume:
        raise ValueError("--resume is for single-scenario runs; a curriculum run starts over")
    if args.algo not in ALGOS + LM_ALGOS:
        raise ValueError(f"--algo must be one of {', '.join(ALGOS + LM_ALGOS)}")
    methods = [m.strip() for m in args.continual.split(",") if m.strip()]
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"--continual: unknown method {method!r}; use some of {', '.join(METHODS)}")
    if args.steps_per_task < 1:
        raise ValueError(f"--steps-per-task must be >= 1, got {args.steps_per_task}")
    tasks = parse_curriculum(args.curriculum)
    import torch

    torch.set_num_threads(max(1, args.threads))
    run_curriculum(
        tasks,
        methods,
        args.out or "runs/curriculum",
        quiet=args.quiet,
        algo=args.algo,
        steps_per_task=args.steps_per_task,
        worlds=args.worlds or 64,
        seed=args.seed or 0,
        device=args.device,
        hyper=parse_pairs(args.hp or [], "--hp"),
        opponent=args.opponent,
        eval_worlds=args.eval_worlds or 32,
        eval_seed=1_000_000 if args.eval_seed is None else args.eval_seed,
        log_every=args.log_every,
        eval_greedy=bool(args.eval_greedy),
    )
    return 0
