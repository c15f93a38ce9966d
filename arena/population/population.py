"""Population-based training (`arena train SCENARIO --population N`): the driver.

N members (`arena.population.member`) train the same scenario side by side, each with its own
worlds and its own hyper-parameters drawn from documented ranges (`arena.population.space`).
Every `exploit_every` env steps each member is scored (a goal scenario: evaluation on fixed
seeds; two learning teams: a ladder among the members, `arena.population.ladder`), the weakest
share copies the strongest share's weights and hyper-parameters and explores them
(`arena.population.exploit`), and the whole population is checkpointed. The driver makes every
decision from the members' results with its own generator, so a run on Ray actors
(`arena.population.hosts.OnRay`) takes the same decisions as one in this process.

The run folder (`--out`):

- `population.safetensors`: the whole population after the last interval (`--resume` goes on
  from it: a killed run loses at most the interval in flight);
- `log.jsonl` / `log.csv`: every member's curve: `train` records (recent episodes) and `eval`
  records (score, success or rating, hyper-parameters, lineage) tagged with the member;
- `lineage.jsonl`: who started with what, and every copy: when, who copied whom, the scores,
  the hyper-parameters before and after and how each was explored;
- `members/<member>_<seat>.safetensors`: each member's learners as last evaluated (seats for
  `arena watch/play`, players for `arena league`);
- `population.png`, `summary.json` at the end.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from agents.checkpoint import save_controller
from arena.episode import write_atomic
from arena.population.config import (
    CHECKPOINT,
    POPULATION_FORMAT,
    POPULATION_VERSION,
    PopulationConfig,
    SavedPopulation,
    load_population,
)
from arena.population.exploit import truncation
from arena.population.hosts import Here, OnRay
from arena.population.ladder import rate
from arena.population.member import MemberSpec, rebuild
from arena.population.space import PBT_ALGOS, explore, sample, search_space
from arena.training.logbook import Logbook, read_records
from arena.training.loop import ALGOS, learner_algo, parse_scenario, seat_plan
from arena.training.runfile import RunLock, remove_stale_temp_files, write_run_file
from worlds.errors import ArenaError, BadFileError, ConfigError

LINEAGE = "lineage.jsonl"
PLOT = "population.png"
STREAM = 0x9B7  # the driver's generator and the members' seeds derive from [seed, STREAM, ...]


def member_seed(seed: int, k: int) -> int:
    """Member k's seed: its worlds are seeded this + b, its learners from it."""
    return int(np.random.SeedSequence([seed, STREAM, k]).generate_state(1)[0])


class Population:
    """One population run in its folder `out`: new, or (`resume`) the one saved there."""

    def __init__(
        self,
        config: PopulationConfig | None,
        out: str | Path,
        resume: bool = False,
        quiet: bool = False,
        overrides: dict | None = None,
        ray: str | None = None,
    ):
        self.out = Path(out)
        self.quiet = quiet
        self.hosts = None
        path = self.out / CHECKPOINT
        if resume and not path.exists():
            load_population(path)  # says there is nothing to resume, before the lock makes a folder
        self._lock = RunLock(self.out)
        try:
            self._start(config, path, resume, overrides, ray)
        except BaseException:
            self.close()
            raise

    def _start(self, config, path: Path, resume: bool, overrides: dict | None, ray: str | None) -> None:
        if resume:
            remove_stale_temp_files(self.out)
        saved = load_population(path) if resume else None
        if saved is None and path.exists():
            raise ArenaError(f"{self.out} already holds a population ({path}): continue it with --resume")
        if saved is not None:
            config = _saved_config(saved, overrides)
        self.config = config
        self.scenario = parse_scenario(config.scenario)
        self.algo, self.ladder = self._plan()
        self.space, self.fixed = search_space(self.algo, config.hyper)
        self.names = [f"m{k}" for k in range(config.population)]
        self.rng = np.random.default_rng(np.random.SeedSequence([config.seed, STREAM]))
        self.step, self.elapsed, self.payloads = 0, 0.0, None
        if saved is None:
            self.searched = {name: sample(self.space, self.rng) for name in self.names}
            self.root = {name: name for name in self.names}
            self.lineage = [
                {"kind": "start", "step": 0, "member": n, "root": n, "hyper": self.searched[n]}
                for n in self.names
            ]
        else:
            self._read_progress(saved)
        import torch

        torch.set_num_threads(config.threads)
        specs = [
            MemberSpec(name, config.scenario, config.teams, self.fixed, self.searched[name], config.worlds,
                       member_seed(config.seed, k), config.device, config.threads)
            for k, name in enumerate(self.names)
        ]  # fmt: skip
        self.hosts = OnRay(specs, ray) if ray else Here(specs)
        if saved is None:
            text = json.dumps(asdict(config), indent=2) + "\n"
            write_atomic(self.out / "population.json", lambda tmp: Path(tmp).write_text(text))
            self.log = Logbook(self.out, tensorboard=False)
        else:
            self._restore_members(saved)
            self.log = Logbook(self.out, offset=saved.progress["log_offset"], tensorboard=False)
        self._write_lineage()

    def _plan(self) -> tuple[str, bool]:
        """The learners' algorithm, and whether members are scored in a ladder (two teams,
        both learning) rather than on the scenario's success."""
        scenario, teams = self.scenario, self.config.teams
        for name, spec in teams.items():
            if name not in scenario.team_names:
                raise ConfigError(
                    f"--seat {name}: {scenario.name}'s teams are {', '.join(scenario.team_names)}"
                )
            algo = learner_algo(spec)
            if (algo is not None and algo not in PBT_ALGOS) or spec.endswith(".safetensors") or "/" in spec:
                raise ConfigError(
                    f"--seat {name}={spec}: a population trains new {'|'.join(PBT_ALGOS)} learners "
                    "(or a team plays a fixed controller: random, planner)"
                )
        plan = seat_plan(scenario, teams)
        algos = {spec for _, _, spec in plan if spec in ALGOS}
        if len(algos) != 1:
            raise ConfigError(
                f"--population: the learning teams share one algorithm, got {sorted(algos) or 'none'}"
            )
        ladder = len(scenario.team_names) == 2 and all(spec in ALGOS for _, _, spec in plan)
        return algos.pop(), ladder

    # -- resume ---------------------------------------------------------------------------------
    def _read_progress(self, saved: SavedPopulation) -> None:
        progress = saved.progress
        by_name = {entry["name"]: entry for entry in progress["members"]}
        if sorted(by_name) != sorted(self.names):
            raise BadFileError(f"{saved.path}: holds members {sorted(by_name)}, the config {self.names}")
        try:
            self.searched = {n: {k: float(v) for k, v in by_name[n]["searched"].items()} for n in self.names}
            self.root = {n: str(by_name[n]["root"]) for n in self.names}
            self.rng.bit_generator.state = progress["rng"]
        except (KeyError, TypeError, ValueError) as err:
            raise BadFileError(f"{saved.path}: damaged population checkpoint ({err})") from None
        self.lineage = progress["lineage"]
        self.step, self.elapsed = progress["step"], progress["elapsed"]

    def _restore_members(self, saved: SavedPopulation) -> None:
        by_name = {entry["name"]: entry for entry in saved.progress["members"]}
        calls = []
        for k, name in enumerate(self.names):
            prefix = f"member/{name}/"
            own = {key.removeprefix(prefix): v for key, v in saved.tensors.items() if key.startswith(prefix)}
            calls.append((k, "restore", (own, by_name[name]["data"], str(saved.path))))
        try:
            self.hosts.call(calls)
        except ArenaError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as err:
            reason = " ".join(str(err).split()) or type(err).__name__
            raise BadFileError(f"{saved.path}: damaged population checkpoint ({reason})") from None

    # -- running --------------------------------------------------------------------------------
    def run(self, callback=None) -> dict:
        """Train every member to `config.steps`; `callback(population)` after every interval
        (tests raise in it to kill a run). Returns the summary."""
        try:
            return self._run(callback)
        finally:
            self.close()

    def _run(self, callback) -> dict:
        config, n = self.config, len(self.names)
        every = config.interval()
        clock, base = time.perf_counter(), self.elapsed
        while self.step < config.steps:
            until = min((self.step // every + 1) * every, config.steps)
            trained = self.hosts.call([(k, "train", (until, config.log_interval())) for k in range(n)])
            for records in trained:
                for record in records:
                    self.log.write(record)
            self.step = trained[0][-1]["step"]
            self.elapsed = base + time.perf_counter() - clock
            self.payloads = self.hosts.call([(k, "weights", ()) for k in range(n)])
            scores = self.evaluate()
            copies = self.exploit(scores) if self.step < config.steps else []
            self.save()
            self._show(scores, copies, base)
            if callback is not None:
                callback(self)
        return self.finish()

    def evaluate(self) -> dict[str, tuple]:
        """Every member's score, as a tuple compared in order; one eval record each."""
        config, n = self.config, len(self.names)
        explore_ = not config.eval_greedy
        if self.ladder:
            everyone = self.hosts.share(dict(zip(self.names, self.payloads, strict=True)))
            games = self.hosts.call(
                [
                    (k, "play_home", (everyone, config.eval_worlds, config.eval_seed, explore_))
                    for k in range(n)
                ]
            )
            rows = rate(self.names, [match for home in games for match in home])
            scores = {name: (row["rating"],) for name, row in rows.items()}
        else:
            found = self.hosts.call(
                [(k, "evaluate", (config.eval_worlds, config.eval_seed, explore_)) for k in range(n)]
            )
            rows = dict(zip(self.names, found, strict=True))
            learning = [name for name in self.payloads[0]]
            scores = {
                name: (row["success"], sum(row[f"{seat}/return"] for seat in learning))
                for name, row in rows.items()
            }
        for name in self.names:
            record = {"kind": "eval", "member": name, "step": self.step, "time": round(self.elapsed, 3)}
            record |= {"score": scores[name][0], "root": self.root[name]} | rows[name]
            if not self.ladder:  # the tie-break of equal success: the learning seats' return
                record["return"] = scores[name][1]
            record |= {f"hp/{key}": value for key, value in self.searched[name].items()}
            self.log.write(record)
        return scores

    def exploit(self, scores: dict[str, tuple]) -> list[dict]:
        """Truncation selection, then explore: the weakest take the strongest's weights and
        perturbed hyper-parameters. Returns the lineage events."""
        config = self.config
        events, calls = [], []
        for copy in truncation(scores, config.exploit_share, self.rng):
            source = self.searched[copy.source]
            new, how = explore(source, self.space, self.rng, config.resample_chance)
            events.append({
                "kind": "exploit", "step": self.step, "member": copy.member, "from": copy.source,
                "root": self.root[copy.source], "score": scores[copy.member][0],
                "from_score": scores[copy.source][0], "hyper_before": self.searched[copy.member],
                "from_hyper": source, "hyper": new, "explore": how,
            })  # fmt: skip
            payload = self.payloads[self.names.index(copy.source)]
            calls.append((self.names.index(copy.member), "adopt", (payload, new)))
        self.hosts.call(calls)  # all sources were copied before any member changed
        for event in events:
            self.searched[event["member"]] = event["hyper"]
            self.root[event["member"]] = event["root"]
        self.lineage += events
        return events

    def save(self) -> Path:
        """The whole population in one file, atomically; the lineage, the CSV log and the
        members' learners beside it."""
        states = self.hosts.call([(k, "state", ()) for k in range(len(self.names))])
        tensors, members = {}, []
        for name, (own, data) in zip(self.names, states, strict=True):
            tensors |= {f"member/{name}/{key}": value for key, value in own.items()}
            members.append(
                {"name": name, "searched": self.searched[name], "root": self.root[name], "data": data}
            )
        progress = {
            "step": self.step, "elapsed": self.elapsed, "log_offset": self.log.offset(),
            "rng": self.rng.bit_generator.state, "members": members, "lineage": self.lineage,
        }  # fmt: skip
        metadata = {
            "format": POPULATION_FORMAT,
            "version": POPULATION_VERSION,
            "config": json.dumps(asdict(self.config)),
            "progress": json.dumps(progress),
        }
        path = write_run_file(self.out / CHECKPOINT, tensors, metadata)
        self._write_lineage()
        self.log.write_csv()
        self._save_members()
        return path

    def _write_lineage(self) -> Path:
        text = "".join(json.dumps(event) + "\n" for event in self.lineage)
        return write_atomic(self.out / LINEAGE, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def _save_members(self) -> list[Path]:
        paths = []
        for name, payload in zip(self.names, self.payloads or [], strict=False):
            for seat, learner in payload.items():
                paths.append(
                    save_controller(rebuild(learner, self.scenario, "cpu"), self.member_file(name, seat))
                )
        return paths

    def member_file(self, name: str, seat: str) -> Path:
        return self.out / "members" / f"{name}_{seat}.safetensors"

    def _show(self, scores: dict, copies: list[dict], base: float) -> None:
        if self.quiet:
            return
        best = max(self.names, key=lambda name: scores[name])
        what = "rating" if self.ladder else "success"
        copied = ", ".join(f"{e['member']}<-{e['from']}" for e in copies) or "none"
        line = (
            f"{self.step:,}/{self.config.steps:,} env steps per member: best {best} {what} "
            f"{scores[best][0]:.2f}; copies {copied}; {self.elapsed - base:,.0f} s"
        )
        print(line, file=sys.stderr, flush=True)

    # -- the end --------------------------------------------------------------------------------
    def finish(self) -> dict:
        """The plot, the summary (printed) and `summary.json`."""
        from arena.population.plots import plot_population
        from arena.population.summary import format_summary, summarize

        self.log.write_csv()
        records = read_records(self.log.jsonl)
        self.log.close()
        title = f"{self.config.scenario}: {len(self.names)} {self.algo} members"
        plot = plot_population(records, self.lineage, self.space, self.out / PLOT, title)
        summary = summarize(self, records) | {"plots": [str(plot)]}
        text = json.dumps(summary, indent=2) + "\n"
        write_atomic(self.out / "summary.json", lambda tmp: Path(tmp).write_text(text))
        if not self.quiet:
            print(format_summary(summary))
            files = f"log.jsonl, log.csv, {LINEAGE}, {CHECKPOINT}, members/, {PLOT}, summary.json"
            print(f"wrote {self.out}/: {files}")
        return summary

    def export(self, folder: str | Path, member: str) -> list[Path]:
        """`member`'s learners as `<scenario>_<seat>.safetensors` in `folder`."""
        payload = self.payloads[self.names.index(member)]
        return [
            save_controller(
                rebuild(p, self.scenario, "cpu"), Path(folder) / f"{self.scenario.name}_{seat}.safetensors"
            )
            for seat, p in payload.items()
        ]

    def close(self) -> None:
        if self.hosts is not None:
            self.hosts.close()
            self.hosts = None
        self._lock.release()


def _saved_config(saved: SavedPopulation, overrides: dict | None) -> PopulationConfig:
    try:
        return PopulationConfig(**{**saved.config, **(overrides or {})})
    except TypeError as err:
        raise BadFileError(f"{saved.path}: population config does not fit this Grid Arena ({err})") from None
    except ConfigError as err:
        raise BadFileError(f"{saved.path}: population config: {err}") from None
