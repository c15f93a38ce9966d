"""League matches, many at once: the games of one side of a pairing run as B batch worlds.

World b of a batch is seeded `seed + b`, so a match is one episode of one world with its own
seed, exactly the episode `arena replay` re-runs from its record. Two ways to meet:

- teams: a scenario with two or more teams (tag_v0, flags_v0): entry k drives every agent of
  team k. In tag the hunters win when every runner is caught, else the runners; elsewhere the
  team with the higher return wins, equal returns are a draw.
- turns: a one-team scenario (maze, plates, forage, harvest): each entry plays the whole team
  on the same seeds in its own worlds; the higher team return ranks first (equal: a draw).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from arena.league.schedule import Game
from arena.records.record import EpisodeLog, save_record, scenario_config, state_digest
from arena.training.loop import Seat, seat_rows
from worlds.batch import BatchEnv
from worlds.scenario import Scenario

WINNER_ON_SUCCESS = {"tag_v0": 0}  # scenario -> the team that wins when the episode is a success


@dataclass
class Played:
    """What one match gave: per entry its rank (0 best), team return and agents' returns."""

    game: Game
    ranks: list[int]
    scores: list[float]
    returns: list[list[float]]
    outcome: str
    steps: int
    seconds: float
    record: str | None = None  # the record file, once saved (`save_played`)
    log: EpisodeLog | None = None  # the match as a record, when played with `record`


def num_entries(scenario: Scenario) -> int:
    """How many sides a match has: the teams, or 1 when the scenario has a single team."""
    return len(scenario.team_names)


def make_player_controller(spec: str, scenario: Scenario, seed: int, device: str = "auto"):
    """The controller of a league player; a checkpoint must fit the scenario (a clear error
    naming the file otherwise). Humans play through `arena play --ladder`. A spec may name one
    controller per team, `hunters=A.safetensors,runners=B.safetensors` (a dict by team then)."""
    if "," in spec or spec.partition("=")[0] in scenario.team_names:
        return _per_team(spec, scenario, seed, device)
    if spec.partition(":")[0] == "human":
        raise ValueError("a human plays in the viewer: `arena play SCENARIO --ladder FILE --name NAME`")
    if Path(spec).is_file():
        from agents.registry import load_controller

        return load_controller(spec, device=device, scenario=scenario)
    from agents.registry import make_controller

    return make_controller(spec, scenario, seed=seed, device=device)


def _per_team(spec: str, scenario: Scenario, seed: int, device: str) -> dict:
    out = {}
    for k, part in enumerate(spec.split(",")):
        team, sep, one = part.partition("=")
        if not sep or team not in scenario.team_names or team in out:
            raise ValueError(
                f"player {spec!r}: a controller per team is TEAM=CONTROLLER,... with teams "
                f"{', '.join(scenario.team_names)}, each once"
            )
        out[team] = make_player_controller(one, scenario, seed + k, device)
    missing = [t for t in scenario.team_names if t not in out]
    if missing:
        raise ValueError(f"player {spec!r} names no controller for {', '.join(missing)}")
    return out


def controller_for(controllers: dict, name: str, scenario: Scenario, team: int):
    """Player `name`'s controller when it plays team `team`."""
    own = controllers[name]
    return own[scenario.team_names[team]] if isinstance(own, dict) else own


def team_agents(scenario: Scenario, team: int) -> np.ndarray:
    return np.flatnonzero(scenario.teams == team).astype(np.int64)


def play_games(
    scenario: Scenario,
    games: list[Game],
    controllers: dict[str, object],
    record: bool = False,
) -> list[Played]:
    """Plays `games` (one side of one pairing: same entries, consecutive seeds) at once; with
    `record`, each `Played` carries its match as an `EpisodeLog` (`save_played` writes it)."""
    if not games:
        return []
    entries, seed = games[0].entries, games[0].seed
    if [g.seed for g in games] != list(range(seed, seed + len(games))) or any(
        g.entries != entries for g in games
    ):
        raise ValueError("a batch holds one side's games with consecutive seeds")
    start = time.perf_counter()
    if num_entries(scenario) > 1:
        seats = [
            Seat(
                name,
                team_agents(scenario, k),
                name,
                controller_for(controllers, name, scenario, k),
                len(scenario.actions),
            )  # fmt: skip
            for k, name in enumerate(entries)
        ]
        runs = [_run(scenario, seats, seed, len(games), record)]
    else:
        everyone = np.arange(scenario.num_agents, dtype=np.int64)
        runs = []
        for name in entries:  # each entry's turn: the whole team, in worlds of its own
            seat = Seat(
                name, everyone, name, controller_for(controllers, name, scenario, 0), len(scenario.actions)
            )
            runs.append(_run(scenario, [seat], seed, len(games), record))
    seconds = (time.perf_counter() - start) / len(games)
    out = []
    for b, game in enumerate(games):
        played = _judge(scenario, game, runs, b, seconds)
        if record:
            played.log = _log(scenario, game, runs, b, played)
        out.append(played)
    return out


@dataclass
class _Run:
    """First episodes of B worlds: returns [B, N], success [B], length [B], and per world its
    actions and digests when recording."""

    returns: np.ndarray
    success: np.ndarray
    length: np.ndarray
    labels: list[str]
    actions: list | None
    digests: list | None


def _run(scenario: Scenario, seats: list[Seat], seed: int, num_worlds: int, record: bool) -> _Run:
    env = BatchEnv(scenario, num_worlds, seed)
    obs = env.reset()
    n = scenario.num_agents
    returns = np.zeros((num_worlds, n), np.float64)
    success = np.zeros(num_worlds, bool)
    length = np.zeros(num_worlds, np.int64)
    seen = np.zeros(num_worlds, bool)
    actions_log = [[] for _ in range(num_worlds)] if record else None
    digests = [[state_digest(env.world, b)] for b in range(num_worlds)] if record else None
    labels = [""] * n
    for seat in seats:
        for i in seat.agents.tolist():
            labels[i] = seat.name
    while not seen.all():
        actions = np.zeros((num_worlds, n), np.int64)
        for seat in seats:
            chosen = seat.controller.act(seat_rows(scenario, env.world, obs, seat))
            actions[:, seat.agents] = np.asarray(chosen).reshape(num_worlds, len(seat.agents))
        if record:
            alive = env.world.alive
            for b in np.flatnonzero(~seen).tolist():
                actions_log[b].append(np.where(alive[b], actions[b], -1).astype(np.int8))
        obs, _, _, _, infos = env.step(actions)
        done = infos["done"]
        if record:
            for j, b in enumerate(np.flatnonzero(done).tolist()):
                if not seen[b]:
                    digests[b].append(state_digest(infos["final_state"], j))
            for b in np.flatnonzero(~seen & ~done).tolist():
                digests[b].append(state_digest(env.world, b))
        if done.any():
            idx = np.flatnonzero(done)
            first = ~seen[idx]
            returns[idx[first]] = infos["episode_return"][first]
            success[idx[first]] = infos["success"][first]
            length[idx[first]] = infos["episode_length"][first]
            seen[idx[first]] = True
    return _Run(returns, success, length, labels, actions_log, digests)


def dense_ranks(scores: list[float]) -> list[int]:
    """0 for the best score, equal scores share a rank (a draw)."""
    levels = sorted({round(s, 6) for s in scores}, reverse=True)
    return [levels.index(round(s, 6)) for s in scores]


def team_ranks(scenario: Scenario, scores: list[float], success: bool) -> list[int]:
    """Each team's rank in a team game: by the scenario's success where it names a winner
    (tag: hunters when every runner is caught), else by team return."""
    winner = WINNER_ON_SUCCESS.get(scenario.name)
    if winner is None:
        return dense_ranks(scores)
    won = winner if success else 1 - winner
    return [0 if k == won else 1 for k in range(len(scores))]


def _judge(scenario: Scenario, game: Game, runs: list[_Run], b: int, seconds: float) -> Played:
    if len(runs) == 1:  # teams
        run = runs[0]
        teams = range(num_entries(scenario))
        returns = [run.returns[b, team_agents(scenario, k)].tolist() for k in teams]
        scores = [float(sum(r)) for r in returns]
        ranks = team_ranks(scenario, scores, bool(run.success[b]))
        steps = int(run.length[b])
    else:  # turns
        returns = [run.returns[b].tolist() for run in runs]
        scores = [float(sum(r)) for r in returns]
        ranks = dense_ranks(scores)
        steps = int(max(run.length[b] for run in runs))
    return Played(
        game, ranks, scores, returns, outcome_words(scenario, game.entries, ranks, scores), steps, seconds
    )


def outcome_words(scenario: Scenario, entries, ranks: list[int], scores: list[float]) -> str:
    names = scenario.team_names if num_entries(scenario) > 1 else None
    parts = [f"{entries[k]}{f' ({names[k]})' if names else ''} {scores[k]:+.2f}" for k in range(len(ranks))]
    best = [k for k, r in enumerate(ranks) if r == 0]
    verdict = "draw" if len(best) == len(ranks) else f"{' and '.join(entries[k] for k in best)} wins"
    return f"{verdict}: " + ", ".join(parts)


def save_played(played: Played, folder: Path) -> Path:
    """Writes a match played with `record` as a record file named by its key (`arena replay`
    opens it), and notes the file in `played.record`."""
    name = played.game.key.replace("/", "__").replace("#", "-") + ".npz"
    path = save_record(Path(folder) / name, played.log)
    played.record = str(path)
    return path


def _log(scenario: Scenario, game: Game, runs: list[_Run], b: int, played: Played) -> EpisodeLog:
    """The match as a record; in a game of turns, the first entry's turn (each turn is a
    separate episode)."""
    run = runs[0]
    return EpisodeLog(
        scenario=scenario.name,
        config=scenario_config(scenario),
        seed=game.seed,
        agents=list(scenario.agent_names),
        action_names=list(scenario.actions),
        actions=run.actions[b],
        think_kind=[np.zeros(scenario.num_agents, np.uint8)] * len(run.actions[b]),
        think_values=[],
        digests=run.digests[b],
        seats=[[0, i, label] for i, label in enumerate(run.labels)],
        summary={
            "steps": int(run.length[b]),
            "returns": dict(zip(scenario.agent_names, run.returns[b].round(6).tolist(), strict=True)),
            "success": bool(run.success[b]),
            "outcome": played.outcome,
            "key": game.key,
        },
    )
