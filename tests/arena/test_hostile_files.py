"""Hostile and careless files: every bad map, record, learner checkpoint and run checkpoint is
one clear error naming the file (a `worlds.errors.ArenaError`, a ValueError), never a
traceback, a hang or a memory blow-up; and the run folder's lock, temp files and full disks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import worlds
from agents.checkpoint import make_learner
from agents.files import read_safetensors, stale_temp_files
from agents.learner import digest, metadata_digest
from agents.registry import load_controller
from arena.cli import main
from arena.match import Match
from arena.records.record import ReplayError, load_record, save_record
from arena.records.replay import replay_match
from arena.seats import Seating
from arena.training.run import CHECKPOINT, Run, TrainConfig, load_run
from arena.training.runfile import RunLock, write_run_file
from worlds.errors import ArenaError, BadFileError, RunLockedError, SaveError

MAZE = "maze_v0:size=5:max_cycles=20"


def one_line_naming(err: BaseException, path: Path) -> None:
    message = str(err)
    assert isinstance(err, ArenaError) and isinstance(err, ValueError), type(err)
    assert "\n" not in message and str(path) in message, message


# -- run checkpoints -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    config = TrainConfig(
        scenario=MAZE, teams={"agents": "tabular_q"}, worlds=4, steps=4 * 10, eval_worlds=2, eval_every=0
    )
    Run(config, folder, quiet=True).run()
    return folder


def copy_run(saved_run: Path, tmp_path: Path) -> Path:
    for name in os.listdir(saved_run):
        if (saved_run / name).is_file():
            (tmp_path / name).write_bytes((saved_run / name).read_bytes())
    return tmp_path


def rewrite(path: Path, tensors=None, progress=None, config=None, **metadata) -> None:
    """Change a run checkpoint and give it a valid checksum again: what a file from elsewhere,
    or a hand-edited one, looks like."""
    meta, saved = read_safetensors(path)
    meta = {k: v for k, v in meta.items() if k != "sha256"}
    saved |= tensors or {}
    if progress is not None:
        meta["progress"] = json.dumps(progress(json.loads(meta["progress"])))
    if config is not None:
        meta["config"] = json.dumps(config(json.loads(meta["config"])))
    write_run_file(path, saved, meta | metadata)


def state(path: Path, key: str) -> torch.Tensor:
    return read_safetensors(path)[1][f"env/{key}"].clone()


def pos_at(value: int):
    def change(path):
        pos = state(path, "pos")
        pos[0, 0] = value
        return {"env/pos": pos}

    return change


def set_state(key: str, value):
    def change(path):
        t = state(path, key)
        if t.dtype == torch.bool:
            t.view(torch.uint8).reshape(-1)[0] = value  # a byte no bool tensor should hold
        else:
            t.reshape(-1)[0] = value
        return {f"env/{key}": t}

    return change


def walled(path):
    terrain, pos = state(path, "terrain"), state(path, "pos")
    pad = 3
    terrain[0, int(pos[0, 0, 0]) + pad, int(pos[0, 0, 1]) + pad] = 2  # a wall under agent 0
    return {"env/terrain": terrain}


HOSTILE_STATE = [
    ("position 2**30", pos_at(2**30), "outside the 5x5 map"),
    ("position 1000", pos_at(1000), "outside the 5x5 map"),
    ("position -1", pos_at(-1), "outside the 5x5 map"),
    ("terrain code 200", set_state("terrain", 200), "cell code 200"),
    ("t = -5", set_state("t", -5), "state 't'"),
    ("t past max_cycles", set_state("t", 21), "state 't'"),
    ("alive = 2", set_state("alive", 2), "state 'alive'"),
    ("last_move 9", set_state("last_move", 9), "last_move"),
    ("goal outside", set_state("goal", 77), "state 'goal'"),
    ("agent in a wall", walled, "on wall"),
    ("pos as int64", lambda p: {"env/pos": state(p, "pos").long()}, "dtype int64, expected int32"),
    ("terrain cut", lambda p: {"env/terrain": state(p, "terrain")[:, :-1].contiguous()}, "has shape"),
    ("one world short", lambda p: {"env/t": state(p, "t")[:3]}, r"has shape \(3,\)"),
    ("returns nan", lambda p: {"env/returns": state(p, "returns") * float("nan")}, "'returns'"),
]


@pytest.mark.parametrize(("problem", "change", "words"), HOSTILE_STATE, ids=[r[0] for r in HOSTILE_STATE])
def test_run_checkpoint_world_state_is_checked_before_use(saved_run, tmp_path, problem, change, words):
    folder = copy_run(saved_run, tmp_path)
    path = folder / CHECKPOINT
    rewrite(path, tensors=change(path))
    with pytest.raises(BadFileError, match=words) as caught:
        Run(None, folder, resume=True, quiet=True, overrides={"steps": 80})
    one_line_naming(caught.value, path)


HOSTILE_PROGRESS = [
    ("pad 99", lambda p: p | {"pad": 99}, "'pad' is 99"),
    ("no pad", lambda p: {k: v for k, v in p.items() if k != "pad"}, "has no 'pad'"),
    ("no stats", lambda p: {k: v for k, v in p.items() if k != "stats"}, "has no 'stats'"),
    ("log_offset -1", lambda p: p | {"log_offset": -1}, "'log_offset' is -1, below 0"),
    ("step a string", lambda p: p | {"step": "40"}, "'step' is '40'"),
    ("bad rng state", lambda p: p | {"env_rngs": [{"bit_generator": "MT19937"}] * 4}, "damaged run"),
    ("too few rngs", lambda p: p | {"env_rngs": p["env_rngs"][:1]}, "1 world generators"),
    ("progress a list", lambda p: [], "progress is list"),
    ("seat entry null", lambda p: p | {"seats": [None]}, "seat entry None"),
]


@pytest.mark.parametrize(
    ("problem", "change", "words"), HOSTILE_PROGRESS, ids=[r[0] for r in HOSTILE_PROGRESS]
)
def test_run_checkpoint_progress_is_checked(saved_run, tmp_path, problem, change, words):
    folder = copy_run(saved_run, tmp_path)
    path = folder / CHECKPOINT
    rewrite(path, progress=change)
    with pytest.raises(BadFileError, match=words) as caught:
        Run(None, folder, resume=True, quiet=True, overrides={"steps": 80})
    one_line_naming(caught.value, path)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda c: [], "config is list"),
        (lambda c: c | {"worlds": 10**9}, "worlds must be at most"),
        (lambda c: c | {"worlds": 4.5}, "worlds must be a whole number"),
        (lambda c: c | {"bogus": 1}, "does not fit"),
        (lambda c: c | {"scenario": "maze_v0:size=20001"}, "size must be 1..255"),
    ],
)
def test_run_checkpoint_config_is_checked(saved_run, tmp_path, change, words):
    folder = copy_run(saved_run, tmp_path)
    rewrite(folder / CHECKPOINT, config=change)
    with pytest.raises(ValueError, match=words) as caught:
        Run(None, folder, resume=True, quiet=True, overrides={"steps": 80})
    assert "\n" not in str(caught.value)


def test_a_flipped_byte_anywhere_is_refused(saved_run, tmp_path):
    folder = copy_run(saved_run, tmp_path)
    path = folder / CHECKPOINT
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # in the last tensor's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(BadFileError, match="do not match their checksum") as caught:
        load_run(path)
    one_line_naming(caught.value, path)
    # the metadata too: same length, another step count
    meta, tensors = read_safetensors(saved_run / CHECKPOINT)
    meta["progress"] = meta["progress"].replace('"step": 40', '"step": 44')
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(BadFileError, match="do not match their checksum"):
        load_run(path)


def test_the_resumed_run_still_matches(saved_run, tmp_path):
    """The checks pass on what the run itself wrote."""
    folder = copy_run(saved_run, tmp_path)
    run = Run(None, folder, resume=True, quiet=True, overrides={"steps": 80})
    assert run.step == 40
    run.run()
    assert load_run(folder / CHECKPOINT).progress["step"] == 80


# -- the run folder: lock, temp files, full disks -------------------------------------------------
def test_a_second_trainer_on_one_folder_is_refused(saved_run, tmp_path, capsys):
    folder = copy_run(saved_run, tmp_path)
    lock = RunLock(folder)
    try:
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            Run(None, folder, resume=True, quiet=True, overrides={"steps": 80})
        code = main(["train", "--out", str(folder), "--resume", "--steps", "80", "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "another arena train" in err
    finally:
        lock.release()
    assert (folder / "log.jsonl").stat().st_size > 0  # the refused runs did not touch the log
    Run(None, folder, resume=True, quiet=True, overrides={"steps": 80})  # free again


def test_resume_removes_temp_files_of_killed_writes(saved_run, tmp_path):
    folder = copy_run(saved_run, tmp_path)
    (folder / ".checkpoint.safetensors.ab3_x9zq.safetensors").write_bytes(b"")
    (folder / ".agents.safetensors.k2j4h5g6.tmp").write_bytes(b"x" * 1000)
    (folder / ".tmpq1w2e3r4").write_bytes(b"x")
    assert len(stale_temp_files(folder)) == 3
    Run(None, folder, resume=True, quiet=True, overrides={"steps": 80})
    assert stale_temp_files(folder) == []
    assert (folder / CHECKPOINT).exists() and (folder / ".lock").exists()


KILLED_WRITER = """
import os, signal, sys
import safetensors.torch
from arena.training.run import Run, TrainConfig

real = safetensors.torch.save_file
saves = []

def dying(tensors, filename, metadata=None):
    saves.append(filename)
    if "checkpoint" in os.path.basename(filename) and len(saves) > 2:
        real(tensors, filename, metadata=metadata)  # the whole temp file, not yet renamed
        os.kill(os.getpid(), signal.SIGKILL)
    real(tensors, filename, metadata=metadata)

safetensors.torch.save_file = dying
config = TrainConfig(scenario=sys.argv[2], teams={"agents": "tabular_q"}, worlds=4, steps=4 * 40,
                     eval_worlds=2, eval_every=0, checkpoint_every=4 * 10)
Run(config, sys.argv[1], quiet=True).run()
"""


def test_kill_during_the_checkpoint_write_leaves_nothing_a_resume_keeps(tmp_path):
    folder = tmp_path / "run"
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(folder), MAZE], env=env, timeout=300
    )
    assert proc.returncode == -signal.SIGKILL
    assert any(p.name.startswith(f".{CHECKPOINT}.") for p in stale_temp_files(folder))
    assert load_run(folder / CHECKPOINT).progress["step"] == 40  # the last whole checkpoint
    run = Run(None, folder, resume=True, quiet=True)
    assert stale_temp_files(folder) == [] and run.step == 40
    run.run()
    assert load_run(folder / CHECKPOINT).progress["step"] == 160


def test_a_full_disk_is_one_clear_error_and_leaves_no_temp_file(saved_run, tmp_path, monkeypatch, capsys):
    import safetensors
    import safetensors.torch

    def full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise safetensors.SafetensorError(
            "Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
            'message: "No space left on device" })'
        )

    folder = copy_run(saved_run, tmp_path)
    monkeypatch.setattr(safetensors.torch, "save_file", full)
    run = Run(None, folder, resume=True, quiet=True, overrides={"steps": 80})
    with pytest.raises(SaveError, match="No space left on device") as caught:
        run.save()
    assert "\n" not in str(caught.value) and str(folder) in str(caught.value)
    assert stale_temp_files(folder) == []
    run._lock.release()
    code = main(["train", "--out", str(folder), "--resume", "--steps", "80", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "No space left on device" in err


# -- learner checkpoints --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def learner_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("learner") / "agents.safetensors"
    make_learner("tabular_q", worlds.make_scenario("maze_v0", size=5), "cpu").save(path)
    return path


def rewrite_learner(src: Path, dst: Path, change) -> None:
    from safetensors.torch import save_file

    meta, tensors = read_safetensors(src)
    meta = change(dict(meta))
    meta["sha256"] = digest(tensors)
    meta["meta_sha256"] = metadata_digest(meta)
    save_file(tensors, str(dst), metadata=meta)


def _config(change):
    return lambda m: m | {"config": json.dumps(change(json.loads(m["config"])))}


BAD_LEARNER_META = [
    ("config []", _config(lambda c: []), "'config' is list"),
    ("config null", _config(lambda c: None), "'config' is NoneType"),
    ("no hyper", _config(lambda c: {k: v for k, v in c.items() if k != "hyper"}), "has no 'hyper'"),
    ("scenario a string", _config(lambda c: c | {"scenario": "maze_v0"}), "'scenario' is 'maze_v0'"),
    ("num_actions 10**9", _config(lambda c: c | {"num_actions": 10**9}), "not 1..64"),
    (
        "scenario config bad",
        _config(lambda c: c | {"scenario": {"name": "maze_v0", "config": {"size": 9.0}}}),
        "size must be a whole number",
    ),  # fmt: skip
    ("extras a list", lambda m: m | {"extras": "[]"}, "'extras' is list"),
    ("config not JSON", lambda m: m | {"config": "{"}, "metadata is damaged"),
]


@pytest.mark.parametrize(
    ("problem", "change", "words"), BAD_LEARNER_META, ids=[r[0] for r in BAD_LEARNER_META]
)
def test_learner_checkpoint_metadata_is_checked(learner_file, tmp_path, problem, change, words):
    path = tmp_path / "bad.safetensors"
    rewrite_learner(learner_file, path, change)
    with pytest.raises(BadFileError, match=words) as caught:
        load_controller(path, "cpu")
    one_line_naming(caught.value, path)


def test_learner_metadata_is_covered_by_its_checksum(learner_file, tmp_path):
    from safetensors.torch import save_file

    meta, tensors = read_safetensors(learner_file)
    path = tmp_path / "edited.safetensors"
    save_file(tensors, str(path), metadata=meta | {"extras": meta["extras"].replace("1", "2", 1)})
    with pytest.raises(BadFileError, match="metadata does not match its checksum"):
        load_controller(path, "cpu")


# -- records --------------------------------------------------------------------------------------
def played(name: str, config: dict, seed: int) -> Match:
    seating = Seating.from_specs(worlds.make_scenario(name, **config), [], default="random", seed=seed)
    match = Match(name, config, seating, seed=seed)
    while not match.done:
        match.plan()
        match.step()
    return match


@pytest.fixture(scope="module")
def record_file(tmp_path_factory) -> Path:
    match = played("maze_v0", {"size": 5, "max_cycles": 10}, 1)
    return save_record(tmp_path_factory.mktemp("record") / "episode.npz", match.log)


def rewrite_record(src: Path, dst: Path, meta=None, **arrays) -> Path:
    with np.load(src) as data:
        saved = {k: data[k] for k in data.files}
    if meta is not None:
        saved["meta"] = np.array(json.dumps(meta(json.loads(str(saved["meta"])))))
    saved |= arrays
    with open(dst, "wb") as f:
        np.savez_compressed(f, **saved)
    return dst


def _cfg(**changes):
    return lambda m: m | {"config": m["config"] | changes}


BAD_RECORDS = [
    ("meta a list", lambda m: [1, 2], "meta entry is JSON list"),
    ("meta a string", lambda m: "hello", "meta entry is JSON str"),
    ("seat of agent 99", lambda m: m | {"seats": [[0, 99, "random"]]}, "seats entry [0, 99]"),
    ("seat not a list", lambda m: m | {"seats": {"a": 1}}, "seats must be a list"),
    ("fps 0", lambda m: m | {"fps": 0}, "fps is 0"),
    ("fps nan", lambda m: m | {"fps": float("nan")}, "fps is nan"),
    ("steps a float", lambda m: m | {"steps": 1.5}, "steps is 1.5"),
    ("num_agents 4.0", _cfg(num_agents=4.0), "num_agents must be a whole number"),
    ("size 20001", _cfg(size=20001), "size must be 1..255"),
    ("view_size 99999", _cfg(view_size=99999), "view_size must be 3..31"),
    ("max_cycles nan", _cfg(max_cycles=float("nan")), "max_cycles must be a whole number"),
    ("unknown key", _cfg(colour="red"), "unknown config key 'colour'"),
    ("map /dev/zero", _cfg(map="/dev/zero"), "neither ships with Grid Arena nor is embedded"),
    ("map /etc/passwd", _cfg(map="/etc/passwd"), "neither ships"),
    ("map ../ path", _cfg(map="../maps/plates_small"), "neither ships"),
    ("embedded map broken", _cfg(map="#0.G\n#x.#\n"), "embedded map"),
    ("unknown scenario", lambda m: m | {"scenario": "chess_v0"}, "unknown scenario 'chess_v0'"),
    ("agents renamed", lambda m: m | {"agents": ["bob"]}, "agents ['bob']"),
]


@pytest.mark.parametrize(("problem", "meta", "words"), BAD_RECORDS, ids=[r[0] for r in BAD_RECORDS])
def test_hostile_records_are_refused_before_use(record_file, tmp_path, problem, meta, words):
    path = rewrite_record(record_file, tmp_path / "bad.npz", meta)
    with pytest.raises(ReplayError, match=re.escape(words)) as caught:
        replay_match(path)
    one_line_naming(caught.value, path)


def test_think_kind_out_of_range(record_file, tmp_path):
    steps = load_record(record_file).steps
    path = rewrite_record(
        record_file, tmp_path / "bad.npz",
        think_kind=np.full((steps, 1), 7, np.uint8), think_values=np.zeros((steps, 1, 5), np.float32),
    )  # fmt: skip
    with pytest.raises(ReplayError, match="think_kind holds kinds outside 0..2"):
        load_record(path)


def test_records_embed_local_maps_and_replay_without_them(tmp_path):
    map_path = tmp_path / "mine.txt"
    map_path.write_text("#######\n#0...G#\n#.###.#\n#.....#\n#######\n", encoding="utf-8")
    match = played("maze_v0", {"map": str(map_path), "max_cycles": 8}, 2)
    path = save_record(tmp_path / "episode.npz", match.log)
    map_path.unlink()
    log = load_record(path)
    assert "\n" in log.config["map"]
    replay = replay_match(path)
    replay.play(lambda m: None)
    assert replay.steps == match.steps
    shipped = played("plates_v0", {"map": "plates_small", "max_cycles": 5}, 0)
    assert shipped.log.config["map"] == "plates_small"  # shipped maps are named, not embedded


# -- the command line -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--episodes", "0"],
        ["run", "--episodes", "-1"],
        ["watch", "maze_v0", "--headless", "--speed", "0"],
        ["watch", "maze_v0", "--headless", "--speed", "-2"],
        ["watch", "maze_v0", "--headless", "--speed", "nan"],
        ["export", "x.npz", "--out", "x.gif", "--fps", "0"],
    ],
    ids=" ".join,
)
def test_bad_numbers_on_the_command_line_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2 and "must be" in capsys.readouterr().err


def test_nan_config_on_the_command_line_is_one_line(tmp_path, capsys):
    code = main(["train", "maze_v0:max_cycles=nan", "--out", str(tmp_path / "r"), "--steps", "8", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "max_cycles" in err


def test_a_hostile_record_on_the_command_line_is_one_line(record_file, tmp_path, capsys):
    path = rewrite_record(record_file, tmp_path / "bad.npz", _cfg(map="/etc/passwd"))
    assert main(["export", str(path), "--out", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err


def test_huge_maps_fail_early_or_scale_down(tmp_path, capsys):
    from arena.options import check_frames, frame_stride

    assert frame_stride((9, 9), 32, 257) == 1
    stride = frame_stride((255, 255), 32, 257)
    assert (255 * 32 // stride) ** 2 * 3 * 257 <= 2 << 30 < (255 * 32 // (stride - 1)) ** 2 * 3 * 257
    with pytest.raises(ArenaError, match="GiB, above the 2 GiB limit"):
        check_frames((255, 255), 48, 257, "x.gif")
    big = tmp_path / "big.txt"
    big.write_text(
        "#" * 200 + "\n" + ("#0" + "." * 197 + "G\n") + ("#" + "." * 198 + "#\n") * 197 + "#" * 200 + "\n"
    )
    code = main(["watch", "maze_v0", "--headless", "--map", str(big), "--out", str(tmp_path / "w.gif")])
    assert code == 2 and "limit" in capsys.readouterr().err
