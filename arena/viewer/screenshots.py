"""The README's screenshots, drawn by the viewer's own code on offscreen surfaces:

    python -m arena.viewer.screenshots [--out docs]

* `screenshot_tag_v0.png`: a person has taken over hunter_0 (WASD) mid-episode against the
  planners, thoughts shown above the agents and hunter_1's in the panel;
* `screenshot_plates_v0.png`: two people on one keyboard (WASD and arrows) in turn-based mode.

Seats start with the planner so the scene is a real game position, then people take over, as
they would with Tab and H in the window. No window and no display are needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from arena.episode import save_png
from arena.match import Match
from arena.seats import Seating
from arena.viewer.hud import View, draw, pygame, to_array
from worlds.registry import make_scenario

SIZE = (980, 760)


def scene(name: str, seed: int, steps: int, take: list[int], view: View, **config) -> pygame.Surface:
    seating = Seating.from_specs(make_scenario(name, **config), [], default="planner", seed=seed)
    match = Match(name, config, seating, seed=seed)
    for _ in range(steps):
        match.plan()
        match.step()
    for agent in take:
        match.take_over(agent)
    match.plan()
    surface = pygame.Surface(SIZE)
    view.waiting = [match.agents[i] for i in take] if view.turn_based else []
    draw(surface, match, view)
    return surface


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs", help="folder for the PNGs (default docs)")
    out = Path(parser.parse_args(argv).out)
    shots = {
        "screenshot_tag_v0.png": scene("tag_v0", 1, 4, [0], View(overlay=True, selected=1)),
        "screenshot_plates_v0.png": scene("plates_v0", 3, 2, [0, 1], View(overlay=True, turn_based=True)),
    }
    written = [save_png(to_array(surface), out / name) for name, surface in shots.items()]
    for path in written:
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main()
