"""The team channel in a match: what LM seats say is kept in the record, comes back in the
replay, and is drawn as a speech bubble over the speaker (a real frame, saved as a PNG)."""

from __future__ import annotations

import numpy as np
import pytest

import worlds
from arena.lm.seats import equip
from arena.match import Match
from arena.records.record import load_record
from arena.records.replay import ReplayMatch
from arena.seats import Seating
from worlds.render import render_rgb

CONFIG = {"max_cycles": 12}
TILE = 32


def talking_match(seed: int = 0) -> Match:
    scenario = worlds.make_scenario("plates_v0", **CONFIG)
    seating = Seating.from_specs(scenario, ["agents=lm"], seed=seed, device="cpu")
    [lm] = equip(seating, scenario, team_channel=True)
    assert lm.channel is not None
    return Match("plates_v0", CONFIG, seating, seed=seed)


def test_messages_are_recorded_replayed_and_drawn_as_bubbles(tmp_path):
    match = talking_match()
    said = []
    for _ in range(6):
        match.step()
        said.append(dict(match.said))
    assert any(said), "the seats said nothing but silence in 6 steps"
    record = match.save(tmp_path / "talk.npz")
    log = load_record(record)
    kept = {(step, agent): extras["say"] for step, agent, extras in log.extras if "say" in extras}
    for step, words in enumerate(said):
        for agent, text in words.items():
            assert kept[(step, agent)] == text
    replay = ReplayMatch(log)
    for step, words in enumerate(said):
        replay.step()
        assert replay.said == words, f"step {step + 1}"
    # the frame: a bubble over each speaker's cell, nothing changed elsewhere
    step = next(k for k, words in enumerate(said) if words)
    replay = ReplayMatch(log)
    for _ in range(step + 1):
        replay.step()
    board = replay.board(tile=TILE)
    plain = render_rgb(replay.scenario, replay.world, tile=TILE)
    changed = np.argwhere((board != plain).any(-1))
    cells = {(int(r) // TILE, int(c) // TILE) for r, c in changed}
    speakers = {tuple(int(x) for x in replay.world.pos[0, i]) for i in said[step]}
    assert cells == speakers
    from arena.episode import save_png

    path = save_png(board, tmp_path / "bubble.png")
    assert path.stat().st_size > 1000


def test_team_channel_needs_an_lm_seat():
    scenario = worlds.make_scenario("plates_v0")
    seating = Seating.from_specs(scenario, ["agents=random"], seed=0)
    with pytest.raises(ValueError, match="language-model seats"):
        equip(seating, scenario, team_channel=True)
