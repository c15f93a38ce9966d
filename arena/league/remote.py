"""League matches on Ray (`arena league ... --ray [ADDRESS]`): batches played across a cluster,
results committed on the driver in schedule order.

Each Ray actor (`MatchTable`, one CPU each, up to one per CPU of the cluster) holds its own copy
of the league's players, loaded once; checkpoint files travel with the actor, so the machines
need no shared disk. The driver hands out batches of a round as actors come free (two in
flight per actor, so none waits while the driver writes) and commits each batch's matches to
the SQLite ladder as soon as every batch before it in the schedule has been written: the ladder
gets the same rows and ratings as a league played on one machine, and a match is written the
moment its turn comes, never held back to the end.

When a worker process dies (a machine lost, `ray.kill`, the OOM killer) Ray restarts its actor
and runs the calls it had in flight again (`max_task_retries`); a batch plays the same the
second time (`arena.league.roster`). Matches already written stay written, and if the driver
itself dies, the same command resumes from the ladder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from arena.cluster import connect
from arena.league.play import Played, play_games
from arena.league.roster import Roster, team_specs
from arena.league.schedule import Game
from worlds.registry import make_scenario

IN_FLIGHT = 2  # batches queued on each actor: one playing, one ready to start
RETRIES = 3  # times Ray replays a batch whose actor died before giving up on the league


class MatchTable:
    """A Ray actor: plays batches of one league's matches with its own copy of the players."""

    def __init__(self, scenario: str, config: dict, players: dict[str, str], seed: int, device: str, files):
        local = unpack_files(files)
        specs = {name: local_spec(spec, local) for name, spec in players.items()}
        self.scenario = make_scenario(scenario, **config)
        self.roster = Roster(specs, self.scenario, seed, device)

    def play(self, games: list[Game], record: bool) -> list[Played]:
        return play_games(self.scenario, games, self.roster.for_batch(games), record)


class RayTables:
    """The league's batches, played by `MatchTable` actors on the cluster at `address`."""

    def __init__(self, address: str, spec, record: bool = False):
        self.ray = connect(address)
        self.record = record
        self.args = (spec.scenario, spec.config or {}, spec.players, spec.seed, spec.device)
        self.files = checkpoint_files(spec.players)
        self.actor_class = self.ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=RETRIES)(MatchTable)
        self.actors: list = []
        self.name = f"arena-league-{uuid.uuid4().hex[:8]}"

    def _grow(self, batches: int) -> None:
        """One actor per CPU of the cluster, no more than there are batches to play."""
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        while len(self.actors) < max(1, min(cpus, batches)):
            name = f"{self.name}-{len(self.actors)}"
            self.actors.append(self.actor_class.options(name=name).remote(*self.args, self.files))

    def play(self, batches: list[list[Game]]) -> Iterator[list[Played]]:
        """Each batch's results, in the order of `batches`, each as soon as it and every batch
        before it have finished."""
        if not batches:
            return
        self._grow(len(batches))
        ray = self.ray
        free = [actor for actor in self.actors for _ in range(IN_FLIGHT)]
        waiting = list(enumerate(batches))[::-1]  # popped from the end: schedule order
        running: dict = {}  # ObjectRef -> (batch index, actor)
        finished: dict[int, list[Played]] = {}
        ahead = 0  # the next batch to hand back
        while ahead < len(batches):
            while free and waiting:
                index, games = waiting.pop()
                actor = free.pop(0)
                running[actor.play.remote(games, self.record)] = (index, actor)
            if ahead not in finished:
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    index, actor = running.pop(ref)
                    finished[index] = ray.get(ref)
                    free.append(actor)
            while ahead in finished:
                yield finished.pop(ahead)
                ahead += 1

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []


def checkpoint_files(players: dict[str, str]) -> dict[str, bytes]:
    """The bytes of every checkpoint file a player names, by the path it names."""
    files = {}
    for spec in players.values():
        for _, one in team_specs(spec) or [("", spec)]:
            if Path(one).is_file():
                files[one] = Path(one).read_bytes()
    return files


def unpack_files(files: dict[str, bytes]) -> dict[str, str]:
    """Writes the shipped checkpoints into this machine's temp folder, named by content (so
    actors sharing a machine share the copies; written atomically, as several may race)."""
    folder = Path(tempfile.gettempdir()) / "arena-league"
    folder.mkdir(parents=True, exist_ok=True)
    local = {}
    for path, data in files.items():
        target = folder / f"{hashlib.sha256(data).hexdigest()[:20]}{Path(path).suffix}"
        if not target.exists():
            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        local[path] = str(target)
    return local


def local_spec(spec: str, local: dict[str, str]) -> str:
    """The player's spec with its checkpoint paths replaced by this machine's copies."""
    parts = team_specs(spec)
    if parts is None:
        return local.get(spec, spec)
    return ",".join(f"{team}={local.get(one, one)}" for team, one in parts)
