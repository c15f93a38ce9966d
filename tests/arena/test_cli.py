"""The `arena` command as a user runs it: headless episodes, a results table, a GIF and a PNG."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from arena.cli import main
from arena.episode import frame_ms, save_png
from worlds.registry import SCENARIOS


def test_run_writes_a_playable_gif_and_prints_every_episode(tmp_path, capsys):
    assert main(["run", "tag_v0", "--episodes", "2", "--seed", "5", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    rows = [line.split() for line in printed.splitlines() if line.strip()[:1].isdigit()]
    assert [row[:2] for row in rows] == [["0", "5"], ["1", "6"]]
    steps = int(rows[0][2])
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


def test_unknown_scenario_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    assert main(["run", "chess_v0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "chess_v0" in err and "known scenarios: " + ", ".join(SCENARIOS) in err


def test_a_failed_write_leaves_no_file_behind(tmp_path):
    target = tmp_path / "frame.png"
    with pytest.raises(TypeError):
        save_png(np.zeros((4, 4, 3), dtype=object), target)
    assert list(tmp_path.iterdir()) == []
