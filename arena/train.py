"""Headless batch training: `arena train`.

B batch-mode worlds of one scenario; every team (or agent) is a seat, driven by a learner
(`--team hunters=ppo`), a checkpoint that keeps learning (`--team hunters=runs/x/hunters.safetensors`)
or a fixed controller (`--team runners=random`). Each step every seat acts on its rows
(`Observations.of_batch`), the worlds step, and every learner gets its `Transition`. Around that
loop: a progress line, logs (`arena.logbook`), evaluation on fixed seeds, checkpoints that hold
the whole run (learners, worlds, random generators, log length) so that `--resume` continues a
killed run exactly as if it had not stopped, and at the end a summary table and learning curves.
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from agents.base import Observations, Transition
from arena.episode import write_atomic
from arena.logbook import Logbook, Progress, format_summary, read_records
from worlds.batch import BatchEnv
from worlds.registry import make_scenario
from worlds.scenario import Scenario
from worlds.state import State

ALGOS = ("tabular_q", "dqn", "reinforce", "a2c", "ppo")  # agents.checkpoint.ALGOS, without importing torch
RUN_FORMAT, RUN_VERSION = "grid-arena-run", "1"
CHECKPOINT = "checkpoint.safetensors"
WINDOW = 100  # finished episodes behind the "recent" return and success


# -- what is trained ---------------------------------------------------------------------------
def parse_value(text: str):
    """A command-line value: int, float, true/false/none, else the string itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def parse_pairs(items: list[str], what: str) -> dict:
    """`["size=7", "lr=0.001"]` -> {"size": 7, "lr": 0.001}."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what}: expected KEY=VALUE, got {item!r}")
        pairs[key] = parse_value(value)
    return pairs


def parse_scenario(text: str) -> Scenario:
    """A scenario with variations: `maze_v0`, `maze_v0:size=7:style=rooms`."""
    name, *options = text.split(":")
    return make_scenario(name, **parse_pairs(options, f"scenario {text!r}"))


@dataclass
class Seat:
    """Who drives some agents: all agents of a team (parameter sharing) or a single agent."""

    name: str  # a team name or an agent name
    agents: np.ndarray  # agent indices, int64[k]
    spec: str  # an algorithm name, a controller name or a checkpoint path
    controller: object
    num_actions: int  # the controller's action count (more than the scenario's in a curriculum)
    frozen: bool = False

    @property
    def learns(self) -> bool:
        return not self.frozen and callable(getattr(self.controller, "learn", None))


def seat_plan(scenario: Scenario, teams: dict[str, str], independent: bool = False) -> list[tuple]:
    """(name, agent indices, spec) per seat. Every team is one seat (default `ppo`); an agent
    named in `teams`, or every agent with `independent`, gets a seat of its own."""
    names = scenario.agent_names
    known = set(scenario.team_names) | set(names)
    for name in teams:
        if name not in known:
            raise ValueError(
                f"--team {name}: {scenario.name} has teams {', '.join(scenario.team_names)} "
                f"and agents {', '.join(names)}"
            )
    plan = []
    for t, team in enumerate(scenario.team_names):
        members = [i for i in range(scenario.num_agents) if scenario.teams[i] == t]
        alone = [i for i in members if independent or names[i] in teams]
        shared = [i for i in members if i not in alone]
        if shared:
            plan.append((team, shared, teams.get(team, "ppo")))
        plan += [(names[i], [i], teams.get(names[i], teams.get(team, "ppo"))) for i in alone]
    return plan


def seat_hyper(hyper: dict, seat: str) -> dict:
    """The hyper-parameters for one seat: plain `KEY`s go to every learner, `SEAT.KEY` to one."""
    own = {k: v for k, v in hyper.items() if "." not in k}
    own |= {k.split(".", 1)[1]: v for k, v in hyper.items() if k.split(".", 1)[0] == seat and "." in k}
    return own


def seat_seed(seed: int, k: int) -> int:
    """The seed of seat k's controller: its own stream, apart from the worlds' seeds."""
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])


def make_seat(
    scenario: Scenario,
    name: str,
    agents,
    spec: str,
    seed: int,
    device: str = "auto",
    hyper: dict | None = None,
    num_actions: int | None = None,
    frozen: bool = False,
) -> Seat:
    """A seat driven by a new learner (`spec` in ALGOS), a saved checkpoint or a named controller."""
    actions = len(scenario.actions)
    if spec in ALGOS:
        from agents.checkpoint import make_learner

        extra = {"num_actions": num_actions} if num_actions and num_actions != actions else {}
        controller = make_learner(spec, scenario, device=device, seed=seed, **(hyper or {}), **extra)
    else:
        from agents.registry import make_controller

        controller = make_controller(spec, scenario, seed=seed, device=device)
    config = getattr(controller, "config", None) or {}
    count = int(config.get("num_actions", actions))
    if count < actions:
        trained = config.get("scenario", {}).get("name", "?")
        raise ValueError(
            f"seat {name}: {spec} (trained on {trained}) acts with {count} actions but "
            f"{scenario.name} has {actions}"
        )
    return Seat(name, np.asarray(agents, np.int64), spec, controller, count, frozen)


def seat_rows(scenario: Scenario, state: State, obs: dict, seat: Seat) -> Observations:
    """The seat's rows of a batch observation, world-major (world b, then its agents)."""
    rows = Observations.of_batch(scenario, state, obs, seat.agents)
    extra = seat.num_actions - rows.action_mask.shape[1]
    if extra > 0:  # a controller built for a larger action set: the actions beyond are illegal here
        rows.action_mask = np.pad(rows.action_mask, ((0, 0), (0, extra)))
    return rows


def act(seat: Seat, rows: Observations, explore: bool = True) -> np.ndarray:
    if callable(getattr(seat.controller, "learn", None)):
        return seat.controller.act(rows, explore=explore)
    return seat.controller.act(rows)


# -- the loop ----------------------------------------------------------------------------------
class EpisodeStats:
    """The last `WINDOW` finished training episodes: each seat's return, success, length."""

    def __init__(self, seats: list[str]):
        self.returns = {s: deque(maxlen=WINDOW) for s in seats}
        self.success = deque(maxlen=WINDOW)
        self.length = deque(maxlen=WINDOW)
        self.episodes = 0

    def add(self, infos: dict, seats: list[Seat]) -> None:
        if "episode_return" not in infos:
            return
        for seat in seats:
            self.returns[seat.name].extend(infos["episode_return"][:, seat.agents].mean(1).tolist())
        self.success.extend(infos["success"].astype(float).tolist())
        self.length.extend(infos["episode_length"].astype(float).tolist())
        self.episodes += len(infos["success"])

    def summary(self) -> dict:
        row = {"episodes": self.episodes}
        row["success"] = _mean(self.success)
        row["length"] = _mean(self.length)
        for name, values in self.returns.items():
            row[f"{name}/return"] = _mean(values)
        return row

    def to_json(self) -> dict:
        return {
            "returns": {k: list(v) for k, v in self.returns.items()},
            "success": list(self.success),
            "length": list(self.length),
            "episodes": self.episodes,
        }

    def load_json(self, data: dict) -> None:
        for k, v in data["returns"].items():
            self.returns[k].extend(v)
        self.success.extend(data["success"])
        self.length.extend(data["length"])
        self.episodes = data["episodes"]


def _mean(values) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


class TrainingLoop:
    """B worlds of one scenario played by seats: `step()` acts, steps every world once and feeds
    each learner its Transition. The arena's one training step, reused by the curriculum."""

    def __init__(self, scenario: Scenario, seats: list[Seat], num_worlds: int, seed: int):
        covered = sorted(i for seat in seats for i in seat.agents.tolist())
        if covered != list(range(scenario.num_agents)):
            raise ValueError(f"seats must drive every agent of {scenario.name} exactly once")
        self.scenario, self.seats = scenario, seats
        self.env = BatchEnv(scenario, num_worlds, seed)
        self.obs = self.env.reset()
        self.state = self.env.world.copy()
        self.stats = EpisodeStats([s.name for s in seats])
        self.metrics: dict[str, dict[str, list[float]]] = {s.name: {} for s in seats}  # since last log

    def step(self) -> dict:
        """Every seat acts, every world steps once, every learner learns; returns `infos`."""
        rows = self.rows()
        actions = self.act(rows)
        outcome = self.advance(actions)
        for seat, r in zip(self.seats, rows, strict=True):
            if seat.learns:
                self.learned(seat, seat.controller.learn(self.transition(seat, r, actions, outcome)))
        return outcome.infos

    def rows(self) -> list[Observations]:
        """Each seat's rows of the current observation."""
        return [seat_rows(self.scenario, self.state, self.obs, seat) for seat in self.seats]

    def act(self, rows: list[Observations], skip: Seat | None = None) -> np.ndarray:
        """Actions int64[B, N] of every seat but `skip` (whose columns the caller fills)."""
        worlds = self.env.num_worlds
        actions = np.zeros((worlds, self.scenario.num_agents), np.int64)
        for seat, r in zip(self.seats, rows, strict=True):
            if seat is not skip:
                actions[:, seat.agents] = np.asarray(act(seat, r)).reshape(worlds, len(seat.agents))
        return actions

    def advance(self, actions: np.ndarray) -> Outcome:
        """Step the worlds; keep the new observation and count finished episodes."""
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        state = self.env.world.copy()  # a snapshot: the env steps its own state in place
        outcome = Outcome(rewards, terminated, truncated, infos, state, _last_obs(obs, infos))
        self.stats.add(infos, self.seats)
        self.obs, self.state = obs, state
        return outcome

    def transition(self, seat: Seat, rows: Observations, actions: np.ndarray, outcome: Outcome) -> Transition:
        agents = seat.agents
        return Transition(
            obs=rows,
            action=actions[:, agents].reshape(-1),
            reward=outcome.rewards[:, agents].reshape(-1),
            terminated=outcome.terminated[:, agents].reshape(-1),
            truncated=outcome.truncated[:, agents].reshape(-1),
            next_obs=seat_rows(self.scenario, outcome.state, outcome.last, seat),
            active=outcome.infos["active"][:, agents].reshape(-1),
        )

    def learned(self, seat: Seat, metrics: dict | None) -> None:
        """Keep a learner's update metrics for the next log line."""
        for key, value in (metrics or {}).items():
            self.metrics[seat.name].setdefault(key, []).append(float(value))

    def take_metrics(self) -> dict:
        """Learner metrics averaged over the updates since the last call, `seat/key`."""
        row = {f"{s}/{k}": float(np.mean(v)) for s, m in self.metrics.items() for k, v in m.items()}
        self.metrics = {s.name: {} for s in self.seats}
        return row


@dataclass
class Outcome:
    """What one step of the worlds gave back, for building Transitions."""

    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    infos: dict
    state: State  # the state after the step (a snapshot)
    last: dict  # each agent's observation closing the step (before any reset)


def _last_obs(obs: dict, infos: dict) -> dict:
    """The observation that closed each agent's step: for worlds that were reset, their last
    one before the reset (`final_obs`), else the current one."""
    if not infos["done"].any():
        return obs
    idx = np.flatnonzero(infos["done"])
    last = {key: value.copy() for key, value in obs.items()}
    for key in last:
        last[key][idx] = infos["final_obs"][key]
    return last


def evaluate(
    scenario: Scenario,
    seats: list[Seat],
    num_worlds: int = 32,
    seed: int = 1_000_000,
    device="auto",
    explore: bool = True,
) -> dict:
    """One episode in each of `num_worlds` worlds seeded `seed + b`: success rate, mean length
    and each seat's mean return. Everything random is seeded from `seed`, so the same weights
    always score the same: learners sample their actions (`explore`; greedy with False) from a
    Generator lent for the evaluation, fixed controllers are fresh copies. The training run's
    own generators are left as they were."""
    from agents.registry import make_controller

    players, lent = [], []
    for k, seat in enumerate(seats):
        if callable(getattr(seat.controller, "learn", None)):
            players.append(seat)
            if isinstance(getattr(seat.controller, "rng", None), np.random.Generator):
                lent.append((seat.controller, seat.controller.rng))
                seat.controller.rng = np.random.default_rng(seat_seed(seed, k))
        else:
            copy = make_controller(seat.spec, scenario, seed=seat_seed(seed, k), device=device)
            players.append(Seat(seat.name, seat.agents, seat.spec, copy, seat.num_actions))
    try:
        returns, success, length = _play_once(scenario, players, num_worlds, seed, explore)
    finally:
        for controller, rng in lent:
            controller.rng = rng
    row = {"success": float(success.mean()), "length": float(length.mean())}
    for seat in seats:
        row[f"{seat.name}/return"] = float(returns[:, seat.agents].mean())
    return row


def _play_once(scenario: Scenario, players: list[Seat], num_worlds: int, seed: int, explore: bool):
    """The first episode of every world: returns [B, N], success [B], length [B]."""
    env = BatchEnv(scenario, num_worlds, seed)
    obs = env.reset()
    returns = np.zeros((num_worlds, scenario.num_agents), np.float32)
    success = np.zeros(num_worlds, bool)
    length = np.zeros(num_worlds)
    seen = np.zeros(num_worlds, bool)
    while not seen.all():
        actions = np.zeros((num_worlds, scenario.num_agents), np.int64)
        for seat in players:
            chosen = act(seat, seat_rows(scenario, env.world, obs, seat), explore=explore)
            actions[:, seat.agents] = np.asarray(chosen).reshape(num_worlds, len(seat.agents))
        obs, _, _, _, infos = env.step(actions)
        if infos["done"].any():
            idx = np.flatnonzero(infos["done"])
            new = ~seen[idx]
            first = idx[new]
            returns[first] = infos["episode_return"][new]
            success[first] = infos["success"][new]
            length[first] = infos["episode_length"][new]
            seen[first] = True
    return returns, success, length


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

    def __post_init__(self) -> None:
        for key in ("worlds", "steps", "eval_worlds", "threads"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        for key in ("log_every", "eval_every", "checkpoint_every"):
            if getattr(self, key) is not None and getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")

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
    ):
        """A new run of `config` in `out`, or (`resume`) the run saved there, its config taken
        from the checkpoint with `overrides` (steps, device) applied."""
        self.out = Path(out)
        self.quiet = quiet
        path = self.out / CHECKPOINT
        saved = load_run(path) if resume else None
        if saved is None and path.exists():
            raise ValueError(
                f"{self.out} already holds a run ({path}): continue it with --resume, or pick another --out"
            )
        if saved is not None:
            config = TrainConfig(**{**saved.config, **(overrides or {})})
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
        self.loop = TrainingLoop(self.scenario, self.seats, config.worlds, config.seed)
        self.step = 0
        self.elapsed = 0.0
        self.last_eval: dict | None = None
        if saved is None:
            self.out.mkdir(parents=True, exist_ok=True)
            text = json.dumps(asdict(config), indent=2) + "\n"
            write_atomic(self.out / "config.json", lambda tmp: Path(tmp).write_text(text))
            self.log = Logbook(self.out)
        else:
            self._restore(saved)
            self.log = Logbook(self.out, offset=saved.progress["log_offset"], step=self.step)

    def _seat(self, k: int, name: str, agents: list[int], spec: str, saved) -> Seat:
        config = self.config
        if saved is not None and spec not in ALGOS and Path(self.out / f"{name}.safetensors").exists():
            spec_now = str(self.out / f"{name}.safetensors")  # the run's own copy: the path may be gone
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
        env = self.loop.env
        tensors = {f"env/{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in _env_arrays(env).items()}
        tensors["torch_rng"] = torch.get_rng_state()
        seats = []
        for seat in self.seats:
            entry = {"name": seat.name, "spec": seat.spec}
            if callable(getattr(seat.controller, "state", None)):
                weights, extras = seat.controller.state()
                for key, value in weights.items():
                    tensors[f"seat/{seat.name}/{key}"] = value.detach().cpu().contiguous().clone()
                entry["extras"] = extras
            rng = getattr(seat.controller, "rng", None)
            if isinstance(rng, np.random.Generator):
                entry["rng"] = rng.bit_generator.state
            seats.append(entry)
        progress = {
            "step": self.step,
            "elapsed": self.elapsed,
            "log_offset": self.log.offset(),
            "stats": self.loop.stats.to_json(),
            "metrics": self.loop.metrics,
            "last_eval": self.last_eval,
            "env_rngs": [rng.bit_generator.state for rng in env._rngs],
            "pad": env.world.pad,
            "seats": seats,
        }
        metadata = {
            "format": RUN_FORMAT,
            "version": RUN_VERSION,
            "config": json.dumps(asdict(self.config)),
            "progress": json.dumps(progress),
        }
        from safetensors.torch import save_file

        path = write_atomic(self.out / CHECKPOINT, lambda tmp: save_file(tensors, tmp, metadata=metadata))
        self.log.write_csv()
        return path

    def _restore(self, saved: SavedRun) -> None:
        import torch

        progress, tensors = saved.progress, saved.tensors
        env = self.loop.env
        arrays = {
            k.removeprefix("env/"): v.numpy().copy() for k, v in tensors.items() if k.startswith("env/")
        }
        env.world = State(
            terrain=arrays["terrain"],
            pos=arrays["pos"],
            alive=arrays["alive"],
            goal=arrays["goal"],
            t=arrays["t"],
            pad=progress["pad"],
        )
        if env.world.num_worlds != env.num_worlds:
            raise ValueError(
                f"{saved.path}: holds {env.world.num_worlds} worlds, the run has {env.num_worlds}"
            )
        for rng, state in zip(env._rngs, progress["env_rngs"], strict=True):
            rng.bit_generator.state = state
        env._returns[:] = arrays["returns"]
        env._ended[:] = arrays["ended"]
        self.loop.obs = env._observe()
        self.loop.state = env.world.copy()
        torch.set_rng_state(tensors["torch_rng"])
        by_name = {entry["name"]: entry for entry in progress["seats"]}
        for seat in self.seats:
            entry = by_name.get(seat.name)
            if entry is None:
                raise ValueError(f"{saved.path}: has no seat {seat.name!r}")
            if "extras" in entry:
                prefix = f"seat/{seat.name}/"
                own = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
                seat.controller.load_state({k: v.to(self.device) for k, v in own.items()}, entry["extras"])
            if "rng" in entry:
                seat.controller.rng.bit_generator.state = entry["rng"]
        self.loop.stats.load_json(progress["stats"])
        self.loop.metrics = {s.name: progress["metrics"].get(s.name, {}) for s in self.seats}
        self.step = progress["step"]
        self.elapsed = progress["elapsed"]
        self.last_eval = progress["last_eval"]

    # -- running -------------------------------------------------------------------------------
    def run(self, callback=None) -> dict:
        """Train to `config.steps` env steps; `callback(run)` is called after every iteration
        (tests raise in it to kill a run). Returns the summary."""
        config = self.config
        log_every, eval_every = config.every("log_every"), config.every("eval_every")
        save_every = config.every("checkpoint_every")
        progress = Progress(config.steps, self.step, quiet=self.quiet)
        clock = time.perf_counter()
        base = self.elapsed
        try:
            while self.step < config.steps:
                before, self.step = self.step, self.step + config.worlds
                self.loop.step()
                self.elapsed = base + time.perf_counter() - clock
                if due(before, self.step, log_every) or self.step >= config.steps:
                    record = {"kind": "train", "step": self.step, "time": round(self.elapsed, 3)}
                    record |= self.loop.stats.summary() | self.loop.take_metrics()
                    self.log.write(record)
                    progress.show(self.step, record, self.elapsed - base)
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
        from arena.plots import plot_curves

        self.log.write_csv()
        records = read_records(self.log.jsonl)
        self.log.close()
        curves = plot_curves(records, self.out / "learning_curves.png", title=f"{self.config.scenario}")
        summary = summarize(self, records)
        summary["plots"] = [str(curves)]
        text = json.dumps(summary, indent=2) + "\n"
        write_atomic(self.out / "summary.json", lambda tmp: Path(tmp).write_text(text))
        if not self.quiet:
            print(format_summary(summary))
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


def save_controller(controller, path: Path) -> Path:
    """A learner's own checkpoint for seats (`--seat NAME=PATH`): weights and configuration,
    without experience buffers where the learner can leave them out (the run's checkpoint
    keeps everything)."""
    if "buffers" in inspect.signature(controller.save).parameters:
        return controller.save(path, buffers=False)
    return controller.save(path)


def _env_arrays(env: BatchEnv) -> dict[str, np.ndarray]:
    """The batch env's whole state: the worlds, and the running returns behind `infos`. (Reads
    BatchEnv's private fields; the resume test fails if they change.)"""
    world = env.world
    return {
        "terrain": world.terrain,
        "pos": world.pos,
        "alive": world.alive,
        "goal": world.goal,
        "t": world.t,
        "returns": env._returns,
        "ended": env._ended,
    }


@dataclass
class SavedRun:
    path: Path
    config: dict
    progress: dict
    tensors: dict


def load_run(path: str | Path) -> SavedRun:
    """A run checkpoint; a missing, corrupt or foreign file is a ValueError naming the file."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no run checkpoint to resume (start the run without --resume)")
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
    except Exception as err:  # safetensors raises its own error types for a damaged file
        raise ValueError(f"{path}: corrupt or truncated run checkpoint ({err})") from None
    if metadata.get("format") != RUN_FORMAT:
        raise ValueError(f"{path}: not a grid-arena run checkpoint (format {metadata.get('format')!r})")
    if metadata.get("version") != RUN_VERSION:
        raise ValueError(
            f"{path}: run checkpoint version {metadata.get('version')!r}, expected {RUN_VERSION!r}"
        )
    try:
        config, progress = json.loads(metadata["config"]), json.loads(metadata["progress"])
    except (KeyError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: run checkpoint metadata is damaged ({err})") from None
    return SavedRun(path, config, progress, tensors)


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
        "best_eval_success": max((r["success"] for r in evals), default=None),
        "episodes": last.get("episodes"),
        "seats": seats,
    }


# -- the command line --------------------------------------------------------------------------
RUN_OPTIONS = (
    "team",
    "independent",
    "frozen",
    "hp",
    "worlds",
    "seed",
    "log_every",
    "eval_every",
    "eval_worlds",
    "eval_seed",
    "eval_greedy",
    "checkpoint_every",
)  # fixed once a run starts


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train learners in batch worlds, headless (or a continual-learning --curriculum)",
        description="Train learners in batch-mode worlds: logs, evaluation, checkpoints, --resume, "
        "a summary table and learning curves in --out.",
    )
    p.add_argument("scenario", nargs="?", help="scenario with optional variations, e.g. maze_v0:size=7")
    p.add_argument(
        "--team",
        action="append",
        metavar="NAME=ALGO",
        help=f"who drives a team or one agent: {'|'.join(ALGOS)}, a controller name "
        "(random, planner) or a checkpoint path (keeps learning); default: every team ppo",
    )
    p.add_argument(
        "--independent", action="store_true", default=None, help="one learner per agent, not per team"
    )
    p.add_argument("--frozen", action="append", metavar="NAME", help="a seat that acts but does not learn")
    p.add_argument(
        "--hp",
        action="append",
        metavar="KEY=VALUE",
        help="a hyper-parameter for every new learner, or SEAT.KEY=VALUE for one (e.g. hunters.lr=0.001)",
    )
    p.add_argument("--worlds", type=int, help="batch worlds stepped together (default 64)")
    p.add_argument("--steps", type=int, help="env steps to train, worlds x iterations (default 100000)")
    p.add_argument("--seed", type=int, help="world b is seeded seed + b (default 0)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--out", help="run folder (default runs/SCENARIO, runs/curriculum)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--log-every", type=int, help="env steps between log lines (default steps/100)")
    p.add_argument("--eval-every", type=int, help="env steps between evaluations (default steps/10)")
    p.add_argument("--eval-worlds", type=int, help="evaluation episodes, one per world (default 32)")
    p.add_argument("--eval-seed", type=int, help="evaluation worlds are seeded this + b (default 1000000)")
    p.add_argument(
        "--eval-greedy",
        action="store_true",
        default=None,
        help="evaluate learners' greedy actions (default: sample, as they play in watch/play)",
    )
    p.add_argument("--checkpoint-every", type=int, help="env steps between checkpoints (default steps/10)")
    p.add_argument(
        "--export", metavar="DIR", help="also write <scenario>_<seat>.safetensors into DIR at the end"
    )
    p.add_argument("--quiet", action="store_true", help="no progress line and no summary")
    c = p.add_argument_group("continual learning")
    c.add_argument(
        "--curriculum", metavar="TASKS", help="tasks in order, e.g. maze_v0,plates_v0,tag_v0:size=11"
    )
    c.add_argument(
        "--steps-per-task", type=int, default=50_000, help="env steps on each task (default 50000)"
    )
    c.add_argument(
        "--continual",
        default="none",
        help="methods to compare, comma-separated: none (sequential fine-tuning), replay, ewc, "
        "joint (all tasks at once) (default none)",
    )
    c.add_argument("--algo", default="ppo", choices=ALGOS, help="the curriculum's learner (default ppo)")
    c.add_argument("--opponent", default="random", help="controller of the other teams (default random)")
    p.set_defaults(func=train_command)


def train_command(args) -> int:
    if args.curriculum:
        from arena.curriculum import curriculum_command

        return curriculum_command(args)
    given = [name for name in RUN_OPTIONS if getattr(args, name) is not None]
    named = ["scenario"] * bool(args.scenario) + given
    if args.resume:
        if args.out is None:
            raise ValueError("--resume needs the --out folder of the run to continue")
        if given or args.scenario:
            raise ValueError(
                "--resume takes the run's settings from its checkpoint; only --steps, --device, "
                f"--export and --quiet may be given (got {', '.join(named)})"
            )
        config = None
        overrides = {"device": args.device, "threads": args.threads} | (
            {"steps": args.steps} if args.steps else {}
        )
    else:
        overrides = None
        defaults = TrainConfig()
        config = TrainConfig(
            scenario=args.scenario or defaults.scenario,
            teams=parse_teams(args.team or []),
            independent=bool(args.independent),
            frozen=args.frozen or [],
            hyper=parse_pairs(args.hp or [], "--hp"),
            worlds=_given(args.worlds, defaults.worlds),
            steps=_given(args.steps, defaults.steps),
            seed=_given(args.seed, defaults.seed),
            device=args.device,
            threads=args.threads,
            log_every=args.log_every,
            eval_every=args.eval_every,
            eval_worlds=_given(args.eval_worlds, defaults.eval_worlds),
            eval_seed=_given(args.eval_seed, defaults.eval_seed),
            eval_greedy=bool(args.eval_greedy),
            checkpoint_every=args.checkpoint_every,
        )
    out = args.out or f"runs/{config.scenario.split(':')[0]}"
    run = Run(config, out, resume=args.resume, quiet=args.quiet, overrides=overrides)
    if args.resume and run.step >= run.config.steps:
        raise ValueError(f"{out}: the run already reached {run.step:,} steps; give a larger --steps to go on")
    if not args.quiet:
        print(describe(run), flush=True)
    try:
        run.run()
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; `arena train --out {out} --resume` continues from the last checkpoint",
            file=sys.stderr,
        )
        return 130
    if args.export:
        for path in run.export(args.export):
            print(f"exported {path}")
    return 0


def _given(value, default):
    return default if value is None else value


def parse_teams(items: list[str]) -> dict[str, str]:
    teams = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name or not spec:
            raise ValueError(f"--team: expected NAME=ALGO (e.g. hunters=ppo), got {item!r}")
        teams[name] = spec
    return teams


def describe(run: Run) -> str:
    seats = ", ".join(f"{s.name}={s.spec}{' (frozen)' if s.frozen else ''}" for s in run.seats)
    start = f", resuming at step {run.step:,}" if run.step else ""
    return (
        f"arena train {run.config.scenario}: {seats}; {run.config.worlds} worlds, "
        f"{run.config.steps:,} env steps, seed {run.config.seed}, device {run.device}{start} -> {run.out}"
    )
