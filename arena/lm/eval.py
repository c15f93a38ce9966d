"""`arena lm eval`: a progress score from 0 to 100 per scenario for any seat spec (after BALROG).

The evaluated controller (built by `agents.registry.make_controller`, so every spec the registry
knows works: `lm`, `lm:PATH`, an LM checkpoint, ...) plays the scenario's first team: every
agent of a cooperative scenario, tag's hunters, flags' west team. Any other team is played by
the scripted planner. The progress score of a scenario is

- a *goal* scenario (the scenario's `success` is the evaluated team's goal: maze, plates, tag,
  forage, keys, signal): 100 x the success rate;
- a *score* scenario (flags: captures; harvest: the orchard's collective return):
  100 x (score - random) / (planner - random), the evaluated team's return normalized between
  random legal actions (0) and the planner (100) playing the same team on the same seeds
  against the same opponents. The mean is clipped to 0..100; the raw value is kept too.

Each figure is a mean over episodes with its standard error. World b of a scenario is seeded
`EVAL_SEED + seed + b`, far from every seed the shipped model's distillation used. The random
and planner baselines are measured on those seeds and kept in a small JSON cache, keyed by the
scenario, its config, the seeds and a digest of the engine's and the planners' code.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.base import Observations
from arena.lm.meter import Meter
from worlds.batch import BatchEnv
from worlds.registry import SCENARIOS
from worlds.scenario import Scenario

EVAL_SEED = 10_000_000
GOAL, SCORE = "success", "score"
# score scenarios and what their score is: the evaluated team's return, summed over its agents
SCORED = {"flags_v0": "captures (team return)", "harvest_v0": "collective return"}
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = Path("out") / "lm_eval" / "baselines.json"
# the figures of a scenario the seat cannot play: None
UNPLAYED = ("progress", "progress_se", "progress_raw", "success", "success_se", "score", "score_se", "length")
UNPLAYED += ("decisions", "decisions_per_s", "tokens", "tokens_per_decision")


def metric(scenario: Scenario) -> str:
    return SCORE if scenario.name in SCORED else GOAL


def evaluated_agents(scenario: Scenario, team: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(the evaluated team's agents, everyone else's): the planner plays the others."""
    teams = np.asarray(scenario.teams)
    return np.flatnonzero(teams == team), np.flatnonzero(teams != team)


# -- playing ----------------------------------------------------------------------------------
@dataclass
class Episodes:
    """The first episode of each seeded world: per episode its success, the evaluated team's
    score (its agents' returns summed), every agent's return and the length."""

    success: np.ndarray  # bool[E]
    score: np.ndarray  # float[E]
    returns: np.ndarray  # float[E, N]
    length: np.ndarray  # int[E]

    def to_json(self) -> dict:
        return {
            "success": self.success.astype(int).tolist(),
            "score": self.score.astype(float).tolist(),  # full precision: the cache gives back the same
            "returns": self.returns.astype(float).tolist(),
            "length": self.length.astype(int).tolist(),
        }

    @classmethod
    def from_json(cls, d: dict) -> Episodes:
        return cls(
            np.asarray(d["success"], bool),
            np.asarray(d["score"], float),
            np.asarray(d["returns"], float),
            np.asarray(d["length"], np.int64),
        )


def play(
    scenario: Scenario, controller, opponent, episodes: int, seed: int, worlds: int = 64, team: int = 0
) -> Episodes:
    """The first episode of `episodes` worlds (world b seeded `seed + b`, played `worlds` at a
    time): `controller` drives team `team`'s agents, `opponent` everyone else's. Only live
    agents of unfinished episodes are asked to act."""
    mine, others = evaluated_agents(scenario, team)
    seats = [(mine, controller)] + ([(others, opponent)] if len(others) else [])
    parts = []
    for start in range(0, episodes, worlds):
        parts.append(_play_worlds(scenario, seats, min(worlds, episodes - start), seed + start))
    success, returns, length = (np.concatenate(x) for x in zip(*parts, strict=True))
    return Episodes(success, returns[:, mine].sum(1), returns, length)


def _play_worlds(scenario: Scenario, seats, n: int, seed: int):
    env = BatchEnv(scenario, n, seed)
    raw = env.reset()
    recording = np.ones(n, dtype=bool)
    success = np.zeros(n, dtype=bool)
    returns = np.zeros((n, scenario.num_agents))
    length = np.zeros(n, dtype=np.int64)
    while recording.any():
        actions = np.zeros((n, scenario.num_agents), dtype=np.int64)
        for agents, controller in seats:
            obs = Observations.of_batch(scenario, env.world, raw, agents)
            live = np.flatnonzero(env.world.alive[obs.world, obs.agent] & recording[obs.world])
            if len(live):
                sub = Observations(
                    scenario,
                    obs.state,
                    obs.view[live],
                    obs.action_mask[live],
                    obs.world[live],
                    obs.agent[live],
                )
                actions[sub.world, sub.agent] = controller.act(sub)
        raw, _, _, _, info = env.step(actions)
        done = np.flatnonzero(info["done"] & recording)
        if len(done):
            at = np.searchsorted(np.flatnonzero(info["done"]), done)
            success[done], length[done] = info["success"][at], info["episode_length"][at]
            returns[done] = info["episode_return"][at]
            recording[done] = False
    return success, returns, length


# -- the score --------------------------------------------------------------------------------
def normalized(score: np.ndarray, random: float, planner: float) -> np.ndarray | None:
    """100 x (score - random) / (planner - random) per episode; None when the two baselines
    tie (no scale to measure on)."""
    if abs(planner - random) < 1e-9:
        return None
    return 100.0 * (np.asarray(score, float) - random) / (planner - random)


def mean_se(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, float)
    se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return float(values.mean()), se


def progress(kind: str, played: Episodes, random: Episodes, planner: Episodes) -> dict:
    """The progress score of `played` (mean clipped to 0..100, its standard error, the raw mean)."""
    if kind == GOAL:
        values = 100.0 * played.success
    else:
        values = normalized(played.score, float(random.score.mean()), float(planner.score.mean()))
        if values is None:
            return {"progress": None, "progress_se": None, "progress_raw": None}
    mean, se = mean_se(values)
    return {"progress": float(np.clip(mean, 0.0, 100.0)), "progress_se": se, "progress_raw": mean}


# -- baselines --------------------------------------------------------------------------------
def code_digest() -> str:
    """A digest of the code the baselines depend on: the engine and the planners."""
    h = hashlib.sha256()
    files = sorted((ROOT / "worlds").rglob("*.py")) + sorted((ROOT / "agents" / "planners").glob("*.py"))
    for path in [*files, ROOT / "agents" / "random_agent.py"]:
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def baselines(
    scenario: Scenario,
    episodes: int,
    first: int,
    worlds: int,
    cache: Path | None,
    team: int = 0,
    seed: int = 0,
) -> tuple[dict[str, Episodes], bool]:
    """Random legal actions and the planner on the evaluated team, the planner opposite, in
    worlds seeded `first + b`, every controller seeded `seed` (as the evaluated seat is, so a
    `random` or `planner` seat replays its baseline exactly): ({"random": ..., "planner": ...},
    whether they came from the cache)."""
    from agents.planners import make_planner
    from agents.random_agent import RandomAgent
    from arena.records.record import scenario_config

    config = json.dumps(scenario_config(scenario), sort_keys=True, default=str)
    key = (
        f"{scenario.name}|{config}|team={team}|episodes={episodes}|first={first}|seed={seed}|{code_digest()}"
    )
    kept = _cached(_read_cache(cache).get(key), episodes, scenario.num_agents)
    if kept is not None:
        return kept, True
    opponent = make_planner(scenario, seed)
    out = {
        "random": play(scenario, RandomAgent(seed), opponent, episodes, first, worlds, team),
        "planner": play(
            scenario,
            make_planner(scenario, seed),
            make_planner(scenario, seed),
            episodes,
            first,
            worlds,
            team,
        ),
    }
    if cache is not None:
        stored = _read_cache(cache)  # again: another eval may have written meanwhile
        stored[key] = {k: v.to_json() for k, v in out.items()}
        _write_cache(cache, stored)
    return out, False


def _cached(entry, episodes: int, num_agents: int) -> dict[str, Episodes] | None:
    """A cache entry's baselines, or None when it is missing or not what this code writes."""
    try:
        out = {who: Episodes.from_json(entry[who]) for who in ("random", "planner")}
    except (KeyError, TypeError, ValueError):
        return None
    shapes = [(len(e.success), len(e.score), e.returns.shape, len(e.length)) for e in out.values()]
    return out if all(s == (episodes, episodes, (episodes, num_agents), episodes) for s in shapes) else None


def _read_cache(path: Path | None) -> dict:
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}  # a broken cache is only a cache: measure again and rewrite it
    return data if isinstance(data, dict) and data.get("format") == "lm-eval-baselines" else {}


def _write_cache(path: Path, stored: dict) -> None:
    from agents.files import write_atomic

    stored["format"] = "lm-eval-baselines"
    text = json.dumps(stored, separators=(",", ":"))
    write_atomic(path, lambda tmp: Path(tmp).write_text(text))


# -- one scenario -----------------------------------------------------------------------------
@dataclass
class ScenarioResult:
    """What `evaluate` found in one scenario (`played` None when the seat cannot play it)."""

    label: str
    scenario: Scenario
    seed: int  # world b played seed + b
    played: Episodes | None
    baselines: dict[str, Episodes]
    report: dict


def parse_scenarios(text: str) -> list[tuple[str, Scenario]]:
    """`all` or `maze_v0,tag_v0:size=11` -> [(label, scenario)]."""
    from arena.training.loop import parse_scenario

    items = list(SCENARIOS) if text.strip() == "all" else [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise ValueError("--scenarios: name at least one scenario, or all")
    return [(item, parse_scenario(item)) for item in items]


def evaluate(
    spec: str,
    label: str,
    scenario: Scenario,
    episodes: int,
    seed: int = 0,
    worlds: int = 64,
    device: str = "auto",
    cache: Path | None = DEFAULT_CACHE,
) -> ScenarioResult:
    """Play `spec` on the scenario's first team (the planner opposite) and measure it."""
    from agents.planners import make_planner
    from agents.registry import make_controller

    first = EVAL_SEED + seed
    mine, others = evaluated_agents(scenario)
    kind = metric(scenario)
    start = time.perf_counter()
    base, cached = baselines(scenario, episodes, first, worlds, cache, seed=seed)
    report = {
        "scenario": label,
        "name": scenario.name,
        "metric": kind,
        "score_is": SCORED.get(scenario.name, "success (0/1)"),
        "team": scenario.team_names[0],
        "agents": [scenario.agent_names[i] for i in mine],
        "opponents": "planner" if len(others) else None,
        "opponent_team": ",".join(scenario.team_names[1:]) or None,
        "opponent_agents": [scenario.agent_names[i] for i in others],
        "episodes": episodes,
        "seeds": [first, first + episodes - 1],
        "baselines_cached": cached,
    }
    for who, eps in base.items():
        report[who] = _summary(eps) | {"progress": progress(kind, eps, **base)["progress"]}
    try:
        meter = Meter(make_controller(spec, scenario, seed=seed, device=device))
        played = play(scenario, meter, make_planner(scenario, seed), episodes, first, worlds)
    except ValueError as err:  # a tokenizer that cannot spell an action, a checkpoint of other views
        from arena.cli import one_line

        report |= {"playable": False, "reason": one_line(err)} | dict.fromkeys(UNPLAYED)
        report["seconds"] = time.perf_counter() - start
        return ScenarioResult(label, scenario, first, None, base, report)
    tokens = meter.tokens.totals() if meter.tokens is not None else None
    report |= {"playable": True, "reason": None} | progress(kind, played, **base) | _summary(played)
    report |= {
        "decisions": meter.decisions,
        "decisions_per_s": meter.decisions / max(meter.seconds, 1e-9),
        "tokens": tokens,
        "tokens_per_decision": (
            {k: v / max(meter.decisions, 1) for k, v in tokens.items()} if tokens is not None else None
        ),
        "seconds": time.perf_counter() - start,
    }
    return ScenarioResult(label, scenario, first, played, base, report)


def _summary(eps: Episodes) -> dict:
    success, success_se = mean_se(eps.success)
    score, score_se = mean_se(eps.score)
    return {
        "success": success,
        "success_se": success_se,
        "score": score,
        "score_se": score_se,
        "length": float(eps.length.mean()),
    }


def overall(reports: list[dict]) -> dict:
    """The mean progress over the scenarios, one that the seat cannot play counting 0 (as BALROG
    averages over every environment), and over the played ones alone."""
    values = [r["progress"] for r in reports]
    played = [v for v, r in zip(values, reports, strict=True) if r["playable"] and v is not None]
    everyone = [0.0 if v is None else v for v in values]
    return {
        "progress": float(np.mean(everyone)) if everyone else None,
        "progress_se": float(np.sqrt(sum(r["progress_se"] ** 2 for r in reports if r["progress_se"])))
        / max(len(reports), 1),
        "progress_played": float(np.mean(played)) if played else None,
        "scenarios": len(reports),
        "played": len(played),
    }
