"""The install split: the environments need none of the extras (torch, transformers, pygame,
matplotlib, openskill, safetensors), and the `arena` command names the extra that is missing."""

from __future__ import annotations

import subprocess
import sys

HEAVY = {"torch", "transformers", "pygame", "matplotlib", "openskill", "safetensors"}
BLOCK = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HEAVY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""


def run_without_extras(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=300, check=False
    )


def test_the_environments_need_no_extra():
    done = run_without_extras(
        """
import worlds
for name in worlds.SCENARIOS:
    env = worlds.make_parallel(name, render_mode="rgb_array")
    obs, infos = env.reset(seed=0)
    env.step({a: 0 for a in env.agents})
    assert env.render().ndim == 3
    aec = worlds.make_env(name)
    aec.reset(seed=0)
worlds.make_batch("tag_v0", 8, seed=0).reset()
assert not {"torch", "pygame", "transformers"} & set(sys.modules)
print("ok")
"""
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_arena_command_names_the_missing_extra():
    done = run_without_extras("from arena.cli import main; sys.exit(main(['scenarios']))")
    assert done.returncode == 2
    assert "pip install 'grid-arena[arena]'" in done.stderr
    assert "Traceback" not in done.stderr
