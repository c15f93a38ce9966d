"""A person's game in the viewer (keys posted as pygame events under SDL's dummy driver)
lands in the ladder and moves the ratings of the person and of the opponents."""

from __future__ import annotations

import json
import sqlite3

import pytest

from arena.cli import main
from arena.league import db, ratings
from arena.viewer.hud import pygame

PLAY = ["play", "tag_v0", "--seat", "hunters=human", "--seat", "runners=random", "--config", "size=7"]


@pytest.fixture
def dummy_display(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")


def test_a_human_game_lands_in_the_ladder(dummy_display, tmp_path, capsys):
    path = tmp_path / "arena.sqlite"
    pygame.init()
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_d, mod=0))  # held: east all game
    args = [*PLAY, "--config", "max_cycles=25", "--speed", "2000", "--quit-at-end"]
    assert main([*args, "--ladder", str(path), "--name", "alice"]) == 0
    assert f"ladder {path}:" in capsys.readouterr().out
    with sqlite3.connect(path) as c:
        (teams, ranks, schedule, steps), *more = c.execute(
            "SELECT teams, ranks, schedule, steps FROM matches"
        )
        specs = dict(c.execute("SELECT name, spec FROM players"))
    assert not more and json.loads(teams) == ["alice", "random"] and schedule == "human" and steps > 0
    assert specs == {"alice": "human", "random": "random"}
    conn = db.open_ladder(path)
    rated = db.latest_ratings(conn, "tag_v0")
    conn.close()
    winner, loser = ("alice", "random") if json.loads(ranks) == [0, 1] else ("random", "alice")
    assert rated[winner][0] > ratings.MU > rated[loser][0]


def test_a_file_that_is_not_a_ladder_stops_play_before_the_game(dummy_display, tmp_path, capsys):
    bad = tmp_path / "notes.sqlite"
    bad.write_text("not a database")
    assert main([*PLAY, "--ladder", str(bad), "--name", "alice", "--quit-at-end"]) == 2
    assert "notes.sqlite: not a ladder" in capsys.readouterr().err
    assert main(["play", "maze_v0", "--ladder", str(tmp_path / "l.sqlite"), "--quit-at-end"]) == 2
    assert "has one team" in capsys.readouterr().err
