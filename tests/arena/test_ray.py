"""Leagues and rollout workers on a real local Ray (`--ray`: 127.0.0.1, two CPUs): the same
ladder rows and ratings as on one machine, a killed worker loses no finished match, rollout
actors train exactly as worker processes do (one killed mid-run included), and the paths without
`--ray` never import Ray."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from arena.cluster import LOCAL, connect
from arena.league.league import LeagueSpec, run_league
from arena.training.run import CHECKPOINT, Run, TrainConfig

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[ray]")')
pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[2]
TAG = {"size": 7, "max_cycles": 30}
CKPT = ",".join(f"{team}=assets/checkpoints/tag_v0_{team}.safetensors" for team in ("hunters", "runners"))


@pytest.fixture(scope="module")
def local_ray():
    connect(LOCAL, num_cpus=2)
    yield ray
    ray.shutdown()


def ladder_rows(path: Path) -> dict[str, list]:
    """Everything the ladder holds but ids, wall times and finishing times."""
    with sqlite3.connect(path) as c:
        return {
            "players": c.execute("SELECT name, spec, checkpoint_sha256 FROM players ORDER BY id").fetchall(),
            "matches": c.execute(
                """SELECT key, scenario, config, schedule, round, game, seed, teams, ranks, scores,
                   returns, outcome, steps FROM matches ORDER BY id"""
            ).fetchall(),
            "ratings": c.execute(
                """SELECT m.key, p.name, r.mu, r.sigma FROM ratings r JOIN matches m ON m.id = r.match_id
                   JOIN players p ON p.id = r.player_id ORDER BY r.id"""
            ).fetchall(),
        }


def test_a_league_on_ray_writes_the_rows_and_ratings_of_a_local_one(local_ray, tmp_path):
    # Swiss rounds pair on the ratings so far; the checkpoint player travels to the actors as bytes
    players = {"greedy": "planner", "rand": "random", "ppo": CKPT}
    spec = LeagueSpec("tag_v0", players, config=TAG, games=2, schedule="swiss", rounds=2, batch=1)
    here = run_league(spec, tmp_path / "here.sqlite", progress=False)
    there = run_league(spec, tmp_path / "ray.sqlite", progress=False, ray_address=LOCAL)
    assert here["played"] == there["played"] == 8  # 2 rounds x 1 pairing x 2 sides x 2 games
    assert ladder_rows(tmp_path / "ray.sqlite") == ladder_rows(tmp_path / "here.sqlite")


def count(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as c:
            return c.execute("SELECT count(*) FROM matches").fetchone()[0]
    except sqlite3.OperationalError:  # the tables are being created
        return 0


def test_a_ray_worker_killed_mid_league_loses_no_match(local_ray, tmp_path):
    spec = LeagueSpec("tag_v0", {"greedy": "planner", "rand": "random"}, config=TAG, games=20, batch=1)
    path = tmp_path / "ray.sqlite"
    league = threading.Thread(target=run_league, args=(spec, path, False, LOCAL))
    league.start()
    deadline = time.monotonic() + 120
    while count(path) < 3 and league.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    victim = next(name for name in ray.util.list_named_actors() if name.startswith("arena-league-"))
    ray.kill(ray.get_actor(victim), no_restart=False)  # its process dies; Ray restarts the actor
    killed_at = count(path)
    league.join(300)
    assert not league.is_alive()
    assert 3 <= killed_at < 40, "the league must still be playing when the worker dies"
    run_league(spec, tmp_path / "here.sqlite", progress=False)
    assert ladder_rows(path) == ladder_rows(tmp_path / "here.sqlite")  # all 40, each once, same ratings


def test_rollout_actors_train_as_worker_processes_do_even_when_one_dies(local_ray, tmp_path):
    ppo = {"rollout": 8, "epochs": 2, "minibatches": 2, "hidden": 32}
    cfg = TrainConfig(
        scenario="tag_v0:size=7:max_cycles=15", teams={"hunters": "ppo", "runners": "random"},
        hyper={f"hunters.{k}": v for k, v in ppo.items()}, worlds=4, steps=4 * 24,
        eval_every=0, checkpoint_every=0, eval_worlds=3, workers=2,
    )  # fmt: skip
    Run(cfg, tmp_path / "processes", quiet=True).run()
    killed = []

    def kill_once(run):  # after the first fragment, one actor's process dies
        if not killed:
            killed.append(run.loop.pool.actors[0])
            ray.kill(killed[0])

    on_ray = Run(cfg, tmp_path / "ray", quiet=True, ray_address=LOCAL)
    on_ray.run(kill_once)
    assert on_ray.step == 96 and killed
    for name in (CHECKPOINT, "hunters.safetensors"):
        a, b = load_file(tmp_path / "processes" / name), load_file(tmp_path / "ray" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_the_paths_without_ray_never_import_it(tmp_path):
    script = f"""
import sys
from arena.cli import main
assert main(["league", "tag_v0", "--player", "a=planner", "--player", "b=random", "--games", "1",
             "--config", "size=7", "--db", {str(tmp_path / "l.sqlite")!r}, "--quiet"]) == 0
assert main(["train", "maze_v0:size=5", "--steps", "16", "--worlds", "4", "--workers", "2",
             "--hp", "rollout=4", "--hp", "hidden=16", "--out", {str(tmp_path / "run")!r}, "--quiet"]) == 0
assert "ray" not in sys.modules, "ray was imported"
"""
    argv = [sys.executable, "-c", script]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
