"""The `arena` command as a user runs it: headless episodes, a results table, a GIF and a PNG."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from arena.cli import main
from arena.episode import frame_ms, save_png
from worlds.registry import SCENARIOS

CHECKPOINTS = Path(__file__).resolve().parents[2] / "assets" / "checkpoints"


def test_run_writes_a_playable_gif_and_prints_every_episode(tmp_path, capsys):
    assert main(["run", "tag_v0", "--episodes", "2", "--seed", "5", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    rows = [line.split() for line in printed.splitlines() if line.strip()[:1].isdigit()]
    assert [(row[0], row[2]) for row in rows] == [("0", "5"), ("1", "6")]
    steps = int(rows[0][3])
    # the shipped trained agents play by default: both teams' checkpoints are named
    assert "hunters=tag_v0_hunters.safetensors, runners=tag_v0_runners.safetensors" in printed
    with Image.open(tmp_path / "tag_v0.gif") as gif:
        assert gif.size == (9 * 32, 9 * 32)
        # Pillow merges identical neighbouring frames and adds up their durations, so the
        # whole episode shows as the reset frame + one frame per step + a held last frame.
        total = 0
        for k in range(gif.n_frames):
            gif.seek(k)
            total += gif.info["duration"]
        assert total == steps * frame_ms(6) + 1500
    with Image.open(tmp_path / "tag_v0.png") as png:
        assert png.size == (9 * 32, 9 * 32)


def test_run_takes_a_map_and_agent_count(tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "maze_v0",
                "--map",
                "maze_classic",
                "--agents",
                "2",
                "--episodes",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert "agent_1=" in capsys.readouterr().out


def test_run_seat_overrides_a_shipped_team(tmp_path, capsys):
    assert main(["run", "tag_v0", "--episodes", "1", "--seat", "runners=random", "--out", str(tmp_path)]) == 0
    assert "hunters=tag_v0_hunters.safetensors, runners=random" in capsys.readouterr().out


def test_run_seats_an_agent_that_ships_a_checkpoint_of_its_own(tmp_path, capsys):
    """signal_v0 ships its speaker (agent_0) apart from the team's listener."""
    assert main(["run", "signal_v0", "--episodes", "1", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "agents=signal_v0_agents.safetensors, agent_0=signal_v0_agent_0.safetensors" in printed


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "maze_v0", "--stepz", "10"], "unrecognized arguments: --stepz 10 (did you mean --steps?)"),
        (
            ["watch", "maze_v0", "--seat", "agents=nothere.safetensors"],
            "nothere.safetensors: no such checkpoint",
        ),
        (["train", "maze_v0", "--seat", "agents=ppoo"], "(did you mean ppo?)"),
        (["run", "--seed", "-1"], "argument --seed: a seed is a whole number >= 0"),
        (["watch", "maze_v0", "--headless", "--out", "x.webm"], "the video must end in .gif or .mp4"),
        (
            [
                "watch",
                "tag_v0",
                "--headless",
                "--seat",
                "hunters=assets/checkpoints/maze_v0_agents.safetensors",
            ],
            "maze_v0_agents.safetensors: checkpoint was trained on maze_v0",
        ),
    ],
)
def test_a_new_users_mistakes_get_a_message_that_names_the_fix(argv, message, capsys):
    with contextlib.suppress(SystemExit):  # argparse exits for its own errors
        assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_scenario_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    assert main(["run", "chess_v0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "chess_v0" in err and "known scenarios: " + ", ".join(SCENARIOS) in err


def test_a_failed_write_leaves_no_file_behind(tmp_path):
    target = tmp_path / "frame.png"
    with pytest.raises(TypeError):
        save_png(np.zeros((4, 4, 3), dtype=object), target)
    assert list(tmp_path.iterdir()) == []
