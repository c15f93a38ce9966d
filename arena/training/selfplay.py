"""Self-play for `arena train --self-play`: each team's learner also meets past snapshots of
the other team's learner, drawn by prioritized fictitious self-play, rated in a ladder as it goes.

A two-team scenario trains both teams' learners at once (tag_v0: hunters and runners). Every
`snapshot_every` env steps (and at step 0) each pooled learner is saved into
`<out>/pool/<seat>_<step>.safetensors` and joins its team's pool as a ladder player of that
name. The first `pool_share` of the B worlds are pool worlds, dealt in turn to the self-play
seats: in a pool world of seat S, S's learner plays against a snapshot of the other team,
drawn by PFSP (`arena.league.pfsp`) from S's results against that pool whenever the world's
episode starts. The other worlds play learner against learner. A learner learns only from the
worlds where it plays itself: its rows where a snapshot stands in for it are inactive.

Every finished episode is a ladder match (`arena.league.db`, rated by `arena.league.ratings`):
the live learners play as `<seat>@latest`, snapshots by their names. The pool, the PFSP tallies,
which snapshot each world plays and the generator behind the draws and the snapshots' actions
are kept in the run checkpoint, so `--resume` goes on exactly; matches already in the ladder
(played after the checkpoint by the run that died) are skipped by their keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from agents.base import Observations, Transition
from arena.league import db, ratings
from arena.league.league import Ladder
from arena.league.pfsp import Payoff
from arena.league.play import outcome_words, team_agents, team_ranks
from arena.records.record import scenario_config
from arena.training.loop import Outcome, Seat
from worlds.errors import BadFileError
from worlds.scenario import Scenario

LADDER = "ladder.sqlite"  # in the run folder, unless --db names another file


@dataclass(frozen=True)
class Snapshot:
    """A frozen copy of a learner in its team's pool; also a ladder player."""

    name: str  # <seat>_<step>
    seat: str
    step: int
    path: str  # absolute: the ladder player's spec

    def to_json(self) -> list:
        return [self.name, self.seat, self.step, self.path]


def learner_name(seat: str) -> str:
    """The ladder name of a team's live learner."""
    return f"{seat}@latest"


def self_play_seats(scenario: Scenario, seats: list[Seat], focal: list[str]) -> None:
    """Self-play needs two teams, each one learning seat; a clear ValueError otherwise."""
    teams = list(scenario.team_names)
    if len(teams) != 2:
        raise ValueError(f"--self-play pairs two teams; {scenario.name} has {len(teams)}")
    if sorted(s.name for s in seats) != sorted(teams):
        raise ValueError("--self-play needs one seat per team (no --independent or per-agent --seat)")
    for seat in seats:
        if not seat.learns or not callable(getattr(seat.controller, "save", None)):
            raise ValueError(f"--self-play: seat {seat.name} ({seat.spec}) must be a learner, not frozen")
    unknown = [name for name in focal if name not in teams]
    if unknown or not focal or len(set(focal)) != len(focal):
        raise ValueError(f"--self-play {','.join(focal)}: name teams of {scenario.name}: {', '.join(teams)}")


def keep_or_save(learner, path: Path) -> Path:
    """The learner's snapshot at `path`, or the file already there when it holds the same
    weights and configuration (a resumed run taking again a snapshot its first life took): its
    bytes vary with safetensors' header order, and the ladder knows the snapshot by its sha256."""
    from agents.checkpoint import save_controller
    from agents.files import read_safetensors

    if not path.exists():
        return save_controller(learner, path)
    fresh = save_controller(learner, path.with_name(path.name + ".new"))
    digests = [
        {k: v for k, v in read_safetensors(f)[0].items() if k.endswith("sha256")} for f in (path, fresh)
    ]
    if digests[0] == digests[1]:
        fresh.unlink()
    else:
        fresh.replace(path)
    return path


class SelfPlay:
    """The pools, the PFSP draws and the ladder of one self-play run (`TrainingLoop.self_play`)."""

    def __init__(
        self,
        scenario: Scenario,
        seats: list[Seat],
        focal: list[str],
        num_worlds: int,
        seed: int,
        out: Path,
        ladder: Path,
        share: float = 0.5,
        power: float = 2.0,
        device="cpu",
    ):
        self_play_seats(scenario, seats, focal)
        self.scenario, self.seats, self.focal = scenario, seats, list(focal)
        self.teams = list(scenario.team_names)
        self.out, self.power, self.device, self.seed = Path(out), power, device, seed
        self.tag = str(self.out.resolve())  # match keys: this run's, apart from others in one ladder
        pool_worlds = max(1, round(share * num_worlds))
        # world b < pool_worlds belongs to focal seat b mod len(focal); -1: learner against learner
        self.world_focal = np.full(num_worlds, -1, np.int64)
        for b in range(pool_worlds):
            self.world_focal[b] = self.teams.index(self.focal[b % len(self.focal)])
        self.pooled = sorted({self.other(name) for name in self.focal}, key=self.teams.index)
        self.pool: dict[str, list[Snapshot]] = {name: [] for name in self.pooled}
        self.payoff = {name: Payoff() for name in self.focal}
        self.playing: list[str | None] = [None] * num_worlds  # the snapshot world b plays
        self.episodes = np.zeros(num_worlds, np.int64)  # finished episodes per world: match keys
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E1F]))
        self.ladder = Ladder(Path(ladder))
        own = {learner_name(s.name): str((self.out / f"{s.name}.safetensors").resolve()) for s in seats}
        self.players = {name: db.Player(name, spec) for name, spec in own.items()}
        if self.ladder.conn is not None:
            db.check_players(self.ladder.conn, list(self.players.values()))
        self._controllers: dict[str, object] = {}
        self._stood_in = np.zeros((num_worlds, 2), bool)  # [b, team]: a snapshot acted for the team

    def other(self, seat: str) -> str:
        return self.teams[1 - self.teams.index(seat)]

    def snapshots(self) -> dict[str, Snapshot]:
        return {s.name: s for pool in self.pool.values() for s in pool}

    # -- the pool ------------------------------------------------------------------------------
    def snapshot(self, step: int) -> list[Snapshot]:
        """Every pooled learner saved into the pool as `<seat>_<step>`, a new ladder player."""
        new = []
        for seat in self.seats:
            if seat.name not in self.pool:
                continue
            name = f"{seat.name}_{step}"
            path = keep_or_save(seat.controller, self.out / "pool" / f"{name}.safetensors")
            snap = Snapshot(name, seat.name, step, str(path.resolve()))
            self._register(snap)
            self.pool[seat.name].append(snap)
            new.append(snap)
        for b in np.flatnonzero(self.world_focal >= 0).tolist():
            if self.playing[b] is None:
                self.draw(b)
        return new

    def _register(self, snap: Snapshot) -> None:
        player = db.Player.of(snap.name, snap.path)
        if self.ladder.conn is None:
            self.ladder.conn = db.open_ladder(self.ladder.path)
        db.check_players(self.ladder.conn, [player])
        with self.ladder.conn:
            db.player_id(self.ladder.conn, player)
        self.players[snap.name] = player

    def draw(self, b: int) -> None:
        """World b's next opponent: a snapshot of the other team, by PFSP."""
        focal = self.teams[self.world_focal[b]]
        pool = self.pool[self.other(focal)]
        probs = self.payoff[focal].weights([s.name for s in pool], self.power)
        self.playing[b] = pool[int(self.rng.choice(len(pool), p=probs))].name

    def controller(self, name: str):
        """A snapshot's controller, loaded once; it samples from the self-play generator."""
        if name not in self._controllers:
            from agents.registry import load_controller

            snap = self.snapshots()[name]
            learner = load_controller(snap.path, device=self.device, scenario=self.scenario)
            learner.rng = self.rng  # one generator, kept in the run checkpoint
            self._controllers[name] = learner
        return self._controllers[name]

    # -- the hooks TrainingLoop calls ----------------------------------------------------------
    def act(self, rows: list[Observations], actions: np.ndarray) -> None:
        """Snapshots' actions into `actions` in the pool worlds, in place of the learners'."""
        self._stood_in[:] = False
        names = np.asarray([name or "" for name in self.playing])
        for seat, seat_rows in zip(self.seats, rows, strict=True):
            if seat.name not in self.pool:
                continue
            team = self.teams.index(seat.name)
            # the worlds of the other team's self-play seat, where a snapshot plays this team
            stand_in = (self.world_focal >= 0) & (self.world_focal != team) & (names != "")
            for name in sorted(set(names[stand_in].tolist())):
                mine = np.flatnonzero(stand_in & (names == name))
                picked = np.isin(seat_rows.world, mine)
                sub = replace(
                    seat_rows,
                    view=seat_rows.view[picked],
                    action_mask=seat_rows.action_mask[picked],
                    world=seat_rows.world[picked],
                    agent=seat_rows.agent[picked],
                )
                chosen = np.asarray(self.controller(name).act(sub, explore=True))
                actions[mine[:, None], seat.agents[None, :]] = chosen.reshape(len(mine), len(seat.agents))
                self._stood_in[mine, team] = True

    def own_rows(self, seat: Seat, transition: Transition) -> None:
        """The learner's rows where a snapshot acted for it are not its experience."""
        stood_in = np.repeat(self._stood_in[:, self.teams.index(seat.name)], len(seat.agents))
        transition.active = np.asarray(transition.active, bool) & ~stood_in

    def ended(self, outcome: Outcome) -> None:
        """Every finished episode into the ladder; PFSP tallies; new opponents drawn."""
        if not outcome.infos["done"].any():
            return
        infos = outcome.infos
        for j, b in enumerate(np.flatnonzero(infos["done"]).tolist()):
            entries = [learner_name(t) for t in self.teams]
            focal = self.world_focal[b]
            if focal >= 0 and self._stood_in[b].any():
                entries[1 - focal] = self.playing[b]
            returns = [infos["episode_return"][j, team_agents(self.scenario, t)].tolist() for t in (0, 1)]
            scores = [float(sum(r)) for r in returns]
            ranks = team_ranks(self.scenario, scores, bool(infos["success"][j]))
            self._record(b, entries, ranks, scores, returns, int(infos["episode_length"][j]))
            self.episodes[b] += 1
            if focal >= 0 and self._stood_in[b].any():
                mine, theirs = ranks[focal], ranks[1 - focal]
                score = 1.0 if mine < theirs else 0.5 if mine == theirs else 0.0
                self.payoff[self.teams[focal]].add(self.playing[b], score)
            if focal >= 0:
                self.draw(b)

    def _record(self, b: int, entries, ranks, scores, returns, steps: int) -> None:
        result = db.MatchResult(
            key=f"self-play/{self.tag}/{b}/{int(self.episodes[b])}", scenario=self.scenario.name,
            config=scenario_config(self.scenario), schedule="self-play", round=int(self.episodes[b]),
            game=b, seed=self.seed + b, teams=entries, ranks=ranks, scores=scores, returns=returns,
            outcome=outcome_words(self.scenario, entries, ranks, scores), steps=steps, seconds=0.0,
        )  # fmt: skip
        self.ladder.add(self.players, result, lambda before: ratings.rate(entries, ranks, before))

    # -- checkpoints and the end ---------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "pool": {seat: [s.to_json() for s in pool] for seat, pool in self.pool.items()},
            "payoff": {seat: p.to_json() for seat, p in self.payoff.items()},
            "playing": list(self.playing),
            "episodes": self.episodes.tolist(),
            "rng": self.rng.bit_generator.state,
        }

    def restore(self, data: dict, where: Path) -> None:
        """The state `to_json` saved; the snapshot files must still be in the pool folder."""
        if len(data["playing"]) != len(self.playing) or len(data["episodes"]) != len(self.episodes):
            raise BadFileError(f"{where}: self-play state is for {len(data['playing'])} worlds")
        for seat in self.pool:
            self.pool[seat] = [Snapshot(str(n), str(s), int(k), str(p)) for n, s, k, p in data["pool"][seat]]
        for snap in self.snapshots().values():
            if not Path(snap.path).is_file():
                raise BadFileError(f"{where}: self-play snapshot {snap.path} is missing")
            self._register(snap)
        self.payoff = {seat: Payoff.from_json(data["payoff"][seat]) for seat in self.focal}
        self.playing = [None if p is None else str(p) for p in data["playing"]]
        self.episodes = np.asarray(data["episodes"], np.int64)
        self.rng.bit_generator.state = data["rng"]

    def summary(self) -> dict:
        """The ladder file, the pools and this run's players' ratings (mu, sigma, mu - 3 sigma)."""
        rated = {}
        if self.ladder.conn is not None:
            for row in ratings.ladder(self.ladder.conn, self.scenario.name):
                if row.player in self.players:
                    rated[row.player] = {
                        "mu": round(row.mu, 3), "sigma": round(row.sigma, 3),
                        "rating": round(row.rating, 3), "games": row.games,
                    }  # fmt: skip
        return {
            "ladder": str(self.ladder.path),
            "pool": {seat: [s.name for s in pool] for seat, pool in self.pool.items()},
            "ratings": rated,
        }

    def words(self) -> str:
        """The summary's ratings as lines for the terminal."""
        lines = [f"self-play ladder {self.ladder.path} (mu - 3 sigma):"]
        for name, r in self.summary()["ratings"].items():
            numbers = f"{r['rating']:7.2f}  mu {r['mu']:6.2f}  sigma {r['sigma']:5.2f}"
            lines.append(f"  {name:<24} {numbers}  {r['games']} games")
        return "\n".join(lines)

    def close(self) -> None:
        self.ladder.close()
        self.ladder.conn = None
