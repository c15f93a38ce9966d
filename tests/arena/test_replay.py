"""Record files: record -> replay gives the identical trajectory and identical frames, bad files
give clear errors, and export writes valid GIF and MP4 files; `watch --headless` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import worlds
from arena.cli import main
from arena.match import Match
from arena.records.record import VERSION, ReplayError, load_record, save_record
from arena.records.replay import ReplayMatch, episode_frames, replay_match, save_video
from arena.seats import Seating
from arena.viewer.hud import View, frame


def played(name="tag_v0", seats=("hunters=planner",), seed=3, config=None, steps=None) -> Match:
    config = config or {}
    seating = Seating.from_specs(
        worlds.make_scenario(name, **config), list(seats), default="random", seed=seed
    )
    match = Match(name, config, seating, seed=seed)
    while not match.done and (steps is None or match.steps < steps):
        match.plan()
        match.step()
    return match


def trajectory(match: Match) -> tuple[list, list, list]:
    """States, HUD frames and thoughts of the match's episode, played from its start."""
    match.reset()
    states, thoughts = [], []

    def draw(m):
        states.append(m.world.to_dict())
        thoughts.append((m.think_kind.copy(), m.think_values.copy()))
        return frame(m, View(legend=False, overlay=True), tile=24)

    frames = match.play(draw)
    return states, frames, thoughts


@pytest.mark.parametrize(
    ("name", "seats", "config"),
    [
        ("tag_v0", ("hunters=planner",), {}),
        ("plates_v0", ("agents=planner",), {}),
        ("maze_v0", (), {"num_agents": 3, "style": "rooms", "size": 11, "max_cycles": 60}),
    ],
)
def test_record_then_replay_gives_the_identical_trajectory_and_frames(tmp_path, name, seats, config):
    original = played(name, seats, seed=11, config=config)
    path = save_record(tmp_path / "episode.npz", _finished(original))
    # The original episode again, from a fresh match with the same seats (controllers reseeded).
    states, frames, thoughts = trajectory(_fresh(name, seats, 11, config))
    replay = replay_match(path)
    r_states, r_frames, r_thoughts = trajectory(replay)
    assert len(r_states) == original.steps + 1 == len(states)
    for a, b in zip(states, r_states, strict=True):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    for a, b in zip(frames, r_frames, strict=True):
        assert np.array_equal(a, b)
    for (ka, va), (kb, vb) in zip(thoughts, r_thoughts, strict=True):
        assert np.array_equal(ka, kb) and np.array_equal(va, vb, equal_nan=True)
    assert replay.returns.tolist() == original.returns.tolist()
    assert replay.outcome() == original.outcome() == load_record(path).summary["outcome"]


def _finished(match: Match):
    match.log.summary = match.summary()
    return match.log


def _fresh(name, seats, seed, config) -> Match:
    seating = Seating.from_specs(
        worlds.make_scenario(name, **config), list(seats), default="random", seed=seed
    )
    return Match(name, config, seating, seed=seed)


def test_a_record_is_small_and_keeps_seats_thoughts_and_words(tmp_path):
    match = played("tag_v0", ("hunters=planner", "runners=random"), seed=5)
    path = match.save(tmp_path / "tag.npz")
    log = load_record(path)
    assert path.stat().st_size < 12_000, path.stat().st_size  # ~100 bytes a step with the plans
    assert log.steps == match.steps and log.seed == 5 and log.config["num_hunters"] == 2
    assert log.labels_at(0) == ["planner", "planner", "random", "random"]
    assert log.think_kind[0].tolist() == [1, 1, 1, 1]  # the planner's and random's probabilities
    words = log.extras_at(0)
    assert set(words) == {0, 1} and words[0]["plan"].startswith("chase")  # the planner's words
    assert len(words[0]["q"]) == 6


def test_an_unfinished_record_replays_to_where_it_stops(tmp_path):
    match = played("maze_v0", (), seed=2, config={"size": 15}, steps=7)
    assert not match.done
    replay = replay_match(match.save(tmp_path / "part.npz"))
    frames = episode_frames(replay, tile=16, hud=False)
    assert len(frames) == 8 and replay.done and replay.outcome() == "The record ends at step 7"
    assert np.array_equal(replay.world.pos, match.world.pos)


def test_a_changed_action_is_caught_as_divergence(tmp_path):
    match = played("tag_v0", (), seed=4, steps=12)
    original, k = np.array(match.log.actions), 5
    caught = []
    for other in range(6):  # some other action changes the world (a blocked one may not)
        if other == original[k, 0]:
            continue
        actions = original.copy()
        actions[k, 0] = other
        match.log.actions = list(actions)
        replay = replay_match(save_record(tmp_path / f"edited{other}.npz", match.log))
        try:
            episode_frames(replay, hud=False)
        except ReplayError as err:
            caught.append(str(err))
    assert caught and all(f"diverged from its record at its step {k + 1}" in e for e in caught)


def _write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"not a record at all"), "not a readable Grid Arena record"),
        (lambda p: _write_npz(p, actions=np.zeros(3)), "no meta entry"),
        (lambda p: _write_npz(p, meta=np.array("{oops")), "not valid JSON"),
        (lambda p: _write_npz(p, meta=np.array('{"format": "other"}')), "format 'other'"),
    ],
)
def test_a_bad_file_is_a_clear_error(tmp_path, make, message):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(ReplayError, match=message):
        load_record(path)


def test_wrong_version_truncated_and_corrupt_records_are_clear_errors(tmp_path, capsys):
    good = played("tag_v0", (), seed=1, steps=10).save(tmp_path / "good.npz")
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    _write_npz(tmp_path / "v9.npz", **{**arrays, "meta": np.array(json.dumps({**meta, "version": 9}))})
    with pytest.raises(ReplayError, match=f"version 9 record; this Grid Arena reads version {VERSION}"):
        load_record(tmp_path / "v9.npz")
    _write_npz(tmp_path / "short.npz", **{**arrays, "actions": arrays["actions"][:4]})
    with pytest.raises(ReplayError, match=r"corrupt: actions have shape \(4, 4\), expected \(10, 4\)"):
        load_record(tmp_path / "short.npz")
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ReplayError, match="not a readable"):
        load_record(tmp_path / "cut.npz")
    assert main(["replay", str(tmp_path / "v9.npz"), "--headless"]) == 2
    assert "version 9" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "x.gif")]) == 2
    assert "no record file" in capsys.readouterr().err


def test_export_writes_a_gif_and_an_mp4_with_every_frame(tmp_path, capsys):
    match = played("tag_v0", ("hunters=planner",), seed=3)
    path = match.save(tmp_path / "tag.npz")
    assert main(["export", str(path), "--out", str(tmp_path / "tag.gif"), "--tile", "24"]) == 0
    assert "replayed identically" in capsys.readouterr().out
    frames = episode_frames(replay_match(path), tile=24)
    assert len({f.shape for f in frames}) == 1  # a video's frames all have one size
    with Image.open(tmp_path / "tag.gif") as gif:
        assert gif.size == (frames[0].shape[1], frames[0].shape[0])
        gif.seek(gif.n_frames - 1)
        assert np.abs(np.asarray(gif.convert("RGB"), int) - frames[-1]).mean() < 8  # palette rounding
    assert main(["export", str(path), "--out", str(tmp_path / "tag.mp4"), "--tile", "24", "--fps", "10"]) == 0
    import imageio_ffmpeg  # the test extra installs it (the video extra)

    reader = imageio_ffmpeg.read_frames(str(tmp_path / "tag.mp4"))
    info = next(reader)
    count = sum(1 for _ in reader)
    h, w = frames[0].shape[:2]
    assert info["size"] == (w + w % 2, h + h % 2) and info["fps"] == 10
    assert count == len(frames) + 15  # the last frame held 1.5 s


def test_mp4_without_its_extra_is_a_clear_error_and_unknown_formats_too(tmp_path, monkeypatch):
    frames = [np.zeros((8, 8, 3), np.uint8)] * 2
    monkeypatch.setitem(__import__("sys").modules, "imageio_ffmpeg", None)
    with pytest.raises(ValueError, match=r"pip install -e '.\[video\]'"):
        save_video(frames, tmp_path / "x.mp4", 6)
    with pytest.raises(ValueError, match=".gif or .mp4"):
        save_video(frames, tmp_path / "x.avi", 6)
    assert not list(tmp_path.iterdir())


def test_watch_headless_records_and_replay_reproduces_it(tmp_path, capsys):
    gif, record, shot = tmp_path / "w.gif", tmp_path / "w.npz", tmp_path / "shot.png"
    args = ["watch", "tag_v0", "--headless", "--seat", "hunters=planner", "--seat", "runners=random"]
    args += ["--seed", "9", "--out", str(gif), "--record", str(record), "--tile", "16"]
    args += ["--screenshot", str(shot), "--screenshot-at", "3", "--overlay"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"wrote {gif}" in printed and f"recorded {record}" in printed
    log = load_record(record)
    assert log.labels_at(0) == ["planner", "planner", "random", "random"]
    replay = replay_match(record)
    assert isinstance(replay, ReplayMatch)
    with Image.open(gif) as image:
        assert image.size == episode_frames(replay, tile=16, overlay=True)[0].shape[1::-1]
    with Image.open(shot) as image:
        assert image.size[0] > 9 * 16
    out = tmp_path / "again.gif"
    assert main(["replay", str(record), "--headless", "--out", str(out)]) == 0
    assert out.exists() and "replayed identically" in capsys.readouterr().out


def test_watch_without_a_display_writes_a_video_and_says_where(tmp_path, monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["watch", "maze_v0", "--seat", "agent_0=random", "--config", "max_cycles=20"]) == 0
    captured = capsys.readouterr()
    assert "no display found" in captured.err
    assert "wrote out/watch_maze_v0.gif" in captured.out and (tmp_path / "out/watch_maze_v0.gif").exists()
    assert main(["play", "maze_v0"]) == 2
    assert "play needs a display" in capsys.readouterr().err


def test_bad_seats_and_configs_are_clear_cli_errors(tmp_path, capsys):
    assert (
        main(["watch", "tag_v0", "--headless", "--seat", "hunter_7=random", "--out", str(tmp_path / "a.gif")])
        == 2
    )
    assert "no agent or team 'hunter_7'" in capsys.readouterr().err
    assert (
        main(["watch", "tag_v0", "--headless", "--config", "colour=red", "--out", str(tmp_path / "a.gif")])
        == 2
    )
    assert "colour" in capsys.readouterr().err
    assert (
        main(["watch", "tag_v0", "--headless", "--seat", "hunter_0=human", "--out", str(tmp_path / "a.gif")])
        == 2
    )
    assert "a human seat needs a window" in capsys.readouterr().err
