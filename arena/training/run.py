"""Headless batch training: `arena train`.

B batch-mode worlds of one scenario; every team (or agent) is a seat, driven by a learner
(`--seat hunters=ppo`; on a language model `--seat agents=lm_ppo` or `lm_ppo:MODEL`), a checkpoint
that keeps learning (`--seat hunters=runs/x/hunters.safetensors`) or a fixed controller
(`--seat runners=random`). Each step every seat acts on its rows
(`Observations.of_batch`), the worlds step, and every learner gets its `Transition`. Around that
loop: a progress line, logs (`arena.training.logbook`), evaluation on fixed seeds, checkpoints that hold
the whole run (learners, worlds, random generators, log length) so that `--resume` continues a
killed run exactly as if it had not stopped, and at the end a summary table and learning curves.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agents.checkpoint import save_controller
from arena.episode import write_atomic
from arena.training.logbook import Logbook, Progress, format_summary, read_records
from arena.training.loop import (
    ALGOS,
    Seat,
    TrainingLoop,
    evaluate,
    learner_algo,
    make_seat,
    parse_scenario,
    seat_hyper,
    seat_plan,
    seat_seed,
)
from arena.training.loopstate import loop_state, restore_loop
from arena.training.runfile import (
    CHECKPOINT,
    RUN_FORMAT,
    RUN_VERSION,
    RunLock,
    SavedRun,
    load_run,
    remove_stale_temp_files,
    write_run_file,
)
from worlds.errors import ArenaError, BadFileError, ConfigError

__all__ = ["CHECKPOINT", "Run", "SavedRun", "TrainConfig", "load_run"]
# bounds on a run's sizes, so a config read from a checkpoint cannot ask for all the memory
MAX_WORLDS = 65_536
MAX_THREADS = 1024


# -- a run: config, checkpoints, logs ----------------------------------------------------------
@dataclass
class TrainConfig:
    """Everything `arena train` needs to start (and, saved in the checkpoint, to resume) a run."""

    scenario: str = "maze_v0"  # a name with optional variations: "maze_v0:size=7"
    teams: dict[str, str] = field(default_factory=dict)  # seat name -> algorithm/controller/path
    independent: bool = False  # one learner per agent instead of one per team
    frozen: list[str] = field(default_factory=list)  # seats that act but do not learn
    hyper: dict = field(default_factory=dict)  # learner hyper-parameters for every new learner
    worlds: int = 64
    steps: int = 100_000  # env steps: worlds x loop iterations
    seed: int = 0
    device: str = "auto"
    threads: int = 1  # torch CPU threads: one is fastest for these small nets on a busy machine
    log_every: int | None = None  # env steps; None: about 100 lines a run
    eval_every: int | None = None  # env steps; None: 10 evaluations a run; 0: only at the end
    eval_worlds: int = 32
    eval_seed: int = 1_000_000  # evaluation worlds are seeded eval_seed + b, whatever --seed
    eval_greedy: bool = False  # evaluate the greedy policy (argmax) instead of sampling from it
    checkpoint_every: int | None = None  # env steps; None: 10 checkpoints a run
    self_play: list[str] = field(default_factory=list)  # teams that also meet the other's snapshots
    snapshot_every: int | None = None  # env steps between self-play snapshots; None: 10 a run
    pool_share: float = 0.5  # the share of worlds where a snapshot plays the other team
    pfsp_power: float = 2.0  # PFSP draws opponents with weight (1 - win rate)^power
    db: str | None = None  # the self-play ladder; None: <out>/ladder.sqlite
    workers: int = 0  # rollout workers stepping the worlds (arena.training.workers); 0: this process

    def __post_init__(self) -> None:
        ints = ("worlds", "steps", "seed", "eval_worlds", "eval_seed", "threads", "workers")
        optional = ("log_every", "eval_every", "checkpoint_every", "snapshot_every")
        for key in ints + optional:
            value = getattr(self, key)
            if (value is not None or key in ints) and (type(value) is not int):
                raise ConfigError(f"{key} must be a whole number, got {value!r}")
        for key in ("worlds", "steps", "eval_worlds", "threads"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        for key, high in (("worlds", MAX_WORLDS), ("eval_worlds", MAX_WORLDS), ("threads", MAX_THREADS)):
            if getattr(self, key) > high:
                raise ConfigError(f"{key} must be at most {high}, got {getattr(self, key)}")
        for key in optional:
            if getattr(self, key) is not None and getattr(self, key) < 0:
                raise ConfigError(f"{key} must be >= 0, got {getattr(self, key)}")
        if not 0 <= self.workers <= self.worlds:
            raise ConfigError(f"workers must be between 0 and worlds ({self.worlds}), got {self.workers}")
        if not isinstance(self.scenario, str) or not isinstance(self.teams, dict):
            raise ConfigError(f"scenario must be a string and teams a table, got {self.scenario!r}")
        if not isinstance(self.hyper, dict) or not isinstance(self.frozen, list):
            raise ConfigError(f"hyper must be a table and frozen a list, got {self.hyper!r}, {self.frozen!r}")
        self._check_self_play()

    def _check_self_play(self) -> None:
        if not isinstance(self.self_play, list) or not all(isinstance(t, str) for t in self.self_play):
            raise ConfigError(f"self_play must be a list of team names, got {self.self_play!r}")
        share, power = self.pool_share, self.pfsp_power
        if type(share) not in (int, float) or not 0 < share <= 1:
            raise ConfigError(f"pool_share must be a number in (0, 1], got {share!r}")
        if type(power) not in (int, float) or not 0 <= power <= 100:
            raise ConfigError(f"pfsp_power must be a number in [0, 100], got {power!r}")
        if self.db is not None and not isinstance(self.db, str):
            raise ConfigError(f"db must be a file name, got {self.db!r}")

    def every(self, key: str) -> int:
        """The interval in env steps (0: never, but for the end of the run)."""
        value = getattr(self, key)
        if value is not None:
            return value
        return max(self.worlds, self.steps // (100 if key == "log_every" else 10))


def due(before: int, after: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (before, after]."""
    return every > 0 and after // every > before // every


class Run:
    """One `arena train` run in its folder `out`: built new, or restored from its checkpoint."""

    def __init__(
        self,
        config: TrainConfig | None,
        out: str | Path,
        resume: bool = False,
        quiet: bool = False,
        overrides: dict | None = None,
        ray_address: str | None = None,
    ):
        """A new run of `config` in `out`, or (`resume`) the run saved there, its config taken
        from the checkpoint with `overrides` (steps, device) applied. With `workers` in the
        config, `ray_address` puts the rollout workers on a Ray cluster (`arena.cluster`)."""
        self.out = Path(out)
        self.quiet = quiet
        self.ray_address = ray_address
        path = self.out / CHECKPOINT
        if resume and not path.exists():
            load_run(path)  # says there is nothing to resume, before a lock creates the folder
        self._lock = RunLock(self.out)  # before anything in the folder is read or written
        try:
            self._start(config, path, resume, overrides)
        except BaseException:
            self._lock.release()
            raise

    def _start(self, config: TrainConfig | None, path: Path, resume: bool, overrides: dict | None) -> None:
        if resume:
            remove_stale_temp_files(self.out)  # what a kill -9 during a write left behind
        saved = load_run(path) if resume else None
        if saved is None and path.exists():
            raise ArenaError(
                f"{self.out} already holds a run ({path}): continue it with --resume, or pick another --out"
            )
        if saved is not None:
            try:
                config = TrainConfig(**{**saved.config, **(overrides or {})})
            except TypeError as err:
                raise BadFileError(
                    f"{path}: run checkpoint config does not fit this Grid Arena ({err})"
                ) from None
            except ConfigError as err:
                raise BadFileError(f"{path}: run checkpoint config: {err}") from None
        self.config = config
        self.scenario = parse_scenario(config.scenario)
        import torch

        from agents.checkpoint import pick_device

        self.device = pick_device(config.device)
        torch.manual_seed(config.seed)
        torch.set_num_threads(config.threads)
        seats = set(self.scenario.team_names) | set(self.scenario.agent_names)
        unknown = set(config.frozen) - seats
        if unknown:
            raise ValueError(f"--frozen {', '.join(sorted(unknown))}: no such seat")
        plan = seat_plan(self.scenario, config.teams, config.independent)
        named = {key.split(".", 1)[0] for key in config.hyper if "." in key}
        if named - {name for name, _, _ in plan}:
            raise ValueError(
                f"--hp {', '.join(sorted(named))}.KEY: the seats are {', '.join(n for n, _, _ in plan)}"
            )
        self.seats = [self._seat(k, name, agents, spec, saved) for k, (name, agents, spec) in enumerate(plan)]
        if config.workers:
            from arena.training.workers import WorkerLoop

            if config.self_play:
                raise ConfigError("--workers does not combine with --self-play")
            self.loop = WorkerLoop(
                self.scenario, self.seats, config.worlds, config.seed, config.workers, config.scenario,
                self.ray_address, config.threads,
            )  # fmt: skip
        else:
            self.loop = TrainingLoop(self.scenario, self.seats, config.worlds, config.seed)
        self.step = 0
        self.elapsed = 0.0
        self.last_eval: dict | None = None
        if saved is None:
            self.out.mkdir(parents=True, exist_ok=True)
        self.self_play = self._self_play()
        if saved is None:
            text = json.dumps(asdict(config), indent=2) + "\n"
            write_atomic(self.out / "config.json", lambda tmp: Path(tmp).write_text(text))
            self.log = Logbook(self.out)
        else:
            try:
                self._restore(saved)
            except ArenaError:
                raise
            except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as err:
                reason = " ".join(str(err).split()) or type(err).__name__
                raise BadFileError(f"{saved.path}: damaged run checkpoint ({reason})") from None
            self.log = Logbook(self.out, offset=saved.progress["log_offset"], step=self.step)

    def _self_play(self):
        """The run's `arena.training.selfplay.SelfPlay`, hooked into its loop; None without --self-play."""
        config = self.config
        if not config.self_play:
            return None
        from arena.training.selfplay import LADDER, SelfPlay

        ladder = Path(config.db) if config.db else self.out / LADDER
        self_play = SelfPlay(
            self.scenario, self.seats, config.self_play, config.worlds, config.seed, self.out, ladder,
            config.pool_share, config.pfsp_power, self.device,
        )  # fmt: skip
        self.loop.self_play = self_play
        return self_play

    def _seat(self, k: int, name: str, agents: list[int], spec: str, saved) -> Seat:
        config = self.config
        own = self.out / f"{name}.safetensors"
        if saved is not None and learner_algo(spec) not in ALGOS and own.exists():
            # the run's own copy: a checkpoint's path may be gone, an LM's folder or extra too
            spec_now = str(own)
        else:
            spec_now = spec
        seat = make_seat(
            self.scenario,
            name,
            agents,
            spec_now,
            seat_seed(config.seed, k),
            self.device,
            seat_hyper(config.hyper, name),
            frozen=name in config.frozen,
        )
        seat.spec = spec
        return seat

    # -- checkpoints ---------------------------------------------------------------------------
    def save(self) -> Path:
        """The whole run in one safetensors file, written atomically, and each learner's own
        checkpoint `<seat>.safetensors` beside it (what `--seat NAME=PATH` loads)."""
        import torch

        for seat in self.seats:
            if hasattr(seat.controller, "save"):
                save_controller(seat.controller, self.out / f"{seat.name}.safetensors")
        tensors, loop = loop_state(self.loop)
        tensors["torch_rng"] = torch.get_rng_state()
        progress = {
            "step": self.step,
            "elapsed": self.elapsed,
            "log_offset": self.log.offset(),
            "stats": loop["stats"],
            "metrics": loop["metrics"],
            "last_eval": self.last_eval,
            "env_rngs": loop["env_rngs"],
            "pad": loop["pad"],
            "seats": loop["seats"],
        }
        if self.self_play is not None:
            progress["self_play"] = self.self_play.to_json()
        metadata = {
            "format": RUN_FORMAT,
            "version": RUN_VERSION,
            "config": json.dumps(asdict(self.config)),
            "progress": json.dumps(progress),
        }
        path = write_run_file(self.out / CHECKPOINT, tensors, metadata)
        self.log.write_csv()
        return path

    def _restore(self, saved: SavedRun) -> None:
        import torch

        progress, tensors = saved.progress, saved.tensors
        restore_loop(self.loop, tensors, progress, saved.path, self.device)
        torch.set_rng_state(tensors["torch_rng"])
        self.step = progress["step"]
        self.elapsed = progress["elapsed"]
        self.last_eval = progress["last_eval"]
        if self.self_play is not None:
            self.self_play.restore(progress["self_play"], saved.path)

    # -- running -------------------------------------------------------------------------------
    def run(self, callback=None) -> dict:
        """Train to `config.steps` env steps; `callback(run)` is called after every iteration
        (tests raise in it to kill a run). Returns the summary. Torch's kernels are the
        deterministic ones meanwhile, so that a resumed run on a GPU ends as the one left alone."""
        from agents.checkpoint import deterministic

        try:
            with deterministic():
                return self._run(callback)
        finally:
            self.loop.close()
            if self.self_play is not None:
                self.self_play.close()
            self._lock.release()  # the run is over, finished or dead

    def _run(self, callback) -> dict:
        config = self.config
        log_every, eval_every = config.every("log_every"), config.every("eval_every")
        save_every = config.every("checkpoint_every")
        snapshot_every = config.every("snapshot_every")
        if self.self_play is not None and not self.self_play.snapshots():
            self.self_play.snapshot(self.step)  # the pools start with the learners as they begin
        progress = Progress(config.steps, self.step, quiet=self.quiet)
        clock = time.perf_counter()
        base = self.elapsed
        try:
            while self.step < config.steps:
                left = -(-(config.steps - self.step) // config.worlds)  # loop iterations to go
                before = self.step
                self.step += config.worlds * self.loop.play(left, self.step)
                if self.self_play is not None and due(before, self.step, snapshot_every):
                    self.self_play.snapshot(self.step)
                self.elapsed = base + time.perf_counter() - clock
                if due(before, self.step, log_every) or self.step >= config.steps:
                    record = {"kind": "train", "step": self.step, "time": round(self.elapsed, 3)}
                    record |= self.loop.stats.summary() | self.loop.take_metrics()
                    self.log.write(record)
                    progress.show(self.step, record, self.elapsed - base, self.last_eval)
                if due(before, self.step, eval_every) or self.step >= config.steps:
                    self.evaluate()
                if due(before, self.step, save_every) or self.step >= config.steps:
                    self.save()
                if callback is not None:
                    callback(self)
        finally:
            progress.close()
        return self.finish()

    def evaluate(self) -> dict:
        config = self.config
        row = evaluate(
            self.scenario,
            self.seats,
            config.eval_worlds,
            config.eval_seed,
            self.device,
            not config.eval_greedy,
        )
        self.last_eval = {"kind": "eval", "step": self.step, "time": round(self.elapsed, 3)} | row
        self.log.write(self.last_eval)
        return self.last_eval

    def finish(self) -> dict:
        """Plots, the summary table (printed) and `summary.json`."""
        from arena.training.plots import plot_curves

        self.log.write_csv()
        records = read_records(self.log.jsonl)
        self.log.close()
        curves = plot_curves(records, self.out / "learning_curves.png", title=f"{self.config.scenario}")
        summary = summarize(self, records)
        summary["plots"] = [str(curves)]
        if self.self_play is not None:
            summary["self_play"] = self.self_play.summary()
        text = json.dumps(summary, indent=2) + "\n"
        write_atomic(self.out / "summary.json", lambda tmp: Path(tmp).write_text(text))
        if not self.quiet:
            print(format_summary(summary))
            if self.self_play is not None:
                print(self.self_play.words())
            files = ["log.jsonl", "log.csv", CHECKPOINT]
            files += [f"{s.name}.safetensors" for s in self.seats if hasattr(s.controller, "save")]
            print(f"wrote {self.out}/: {', '.join([*files, curves.name, 'summary.json'])}")
        return summary

    def export(self, folder: str | Path) -> list[Path]:
        """Copies of the learners' checkpoints as `<scenario>_<seat>.safetensors` (assets/checkpoints)."""
        paths = []
        for seat in self.seats:
            if hasattr(seat.controller, "save"):
                paths.append(
                    save_controller(
                        seat.controller, Path(folder) / f"{self.scenario.name}_{seat.name}.safetensors"
                    )
                )
        return paths


# -- output ------------------------------------------------------------------------------------
def summarize(run: Run, records: list[dict]) -> dict:
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    last, final = (train[-1] if train else {}), (evals[-1] if evals else {})
    seats = []
    for seat in run.seats:
        key = f"{seat.name}/return"
        seats.append(
            {
                "seat": seat.name,
                "agents": [run.scenario.agent_names[i] for i in seat.agents],
                "controller": seat.spec,
                "learns": seat.learns,
                "train_return": last.get(key),
                "eval_return": final.get(key),
                "checkpoint": str(run.out / f"{seat.name}.safetensors")
                if hasattr(seat.controller, "save")
                else None,
            }
        )
    return {
        "scenario": run.config.scenario,
        "steps": run.step,
        "seconds": round(run.elapsed, 1),
        "steps_per_s": round(run.step / max(run.elapsed, 1e-9), 1),
        "train_success": last.get("success"),
        "eval_success": final.get("success"),
        "eval_success_se": final.get("success_se"),
        "best_eval_success": max((r["success"] for r in evals), default=None),
        "episodes": last.get("episodes"),
        "seats": seats,
    }
