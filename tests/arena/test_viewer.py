"""The viewer under SDL's dummy video driver: posted keyboard events move human agents as
mapped, pause/step/speed/restart work, frames show each agent's colour at its cell, and the HUD
shows the right scores."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import worlds
from arena.match import Match
from arena.seats import Seating
from arena.viewer.hud import View, draw, hud_text, pygame
from arena.viewer.window import Viewer, record_path
from worlds.render import agent_colour

NOOP, NORTH, SOUTH, EAST, WEST = range(5)
DELTAS = {NORTH: (-1, 0), SOUTH: (1, 0), EAST: (0, 1), WEST: (0, -1)}
WASD = {NORTH: pygame.K_w, SOUTH: pygame.K_s, EAST: pygame.K_d, WEST: pygame.K_a}
ARROWS = {NORTH: pygame.K_UP, SOUTH: pygame.K_DOWN, EAST: pygame.K_RIGHT, WEST: pygame.K_LEFT}


@pytest.fixture
def viewer_of(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    opened = []

    def make(scenario, seats, seed=0, default="random", started=True, **options):
        config = options.pop("config", {})
        seating = Seating.from_specs(
            worlds.make_scenario(scenario, **config), seats, default=default, seed=seed
        )
        viewer = Viewer(Match(scenario, config, seating, seed=seed), size=(900, 640), **options)
        viewer.view.waiting_start = viewer.view.waiting_start and not started  # as if a key was pressed
        opened.append(viewer)
        return viewer

    yield make
    for viewer in opened:
        viewer.close()


def press(key: int) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0))


def release(key: int) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key, mod=0))


def free_move(match: Match, agent: int) -> int:
    """A legal move of `agent` into a cell nobody stands in now."""
    pos = match.world.pos[0]
    legal = match.obs[match.agents[agent]]["action_mask"]
    others = {tuple(p) for j, p in enumerate(pos.tolist()) if j != agent}
    for move, (dy, dx) in DELTAS.items():
        if legal[move] and (pos[agent, 0] + dy, pos[agent, 1] + dx) not in others:
            return move
    raise AssertionError("the agent is boxed in")


def test_play_waits_for_a_first_key_which_is_not_a_move(viewer_of):
    viewer = viewer_of("maze_v0", ["agent_0=human"], seed=3, started=False)
    tick = 1 / viewer.view.speed
    for _ in range(3):
        viewer.frame(tick)
    assert viewer.match.steps == 0 and viewer.view.waiting_start
    press(pygame.K_d)
    viewer.frame(0.0)
    assert not viewer.view.waiting_start and viewer.match.steps == 0
    viewer.frame(tick)
    assert viewer.match.steps == 1 and viewer.match.last_actions[0] == NOOP  # the start key did not move
    watched = viewer_of("maze_v0", ["agent_0=random"], seed=3, started=False)
    watched.frame(tick)
    assert watched.match.steps == 1  # no human: no gate


def test_keys_move_the_humans_agent_in_real_time_and_nothing_pressed_is_noop(viewer_of):
    viewer = viewer_of("maze_v0", ["agent_0=human"], seed=3, config={"style": "open", "size": 9})
    match = viewer.match
    tick = 1 / viewer.view.speed
    viewer.frame(0.0)
    assert match.steps == 0
    for _ in range(3):
        move = free_move(match, 0)
        start = match.world.pos[0, 0].copy()
        press(WASD[move])
        release(WASD[move])
        viewer.frame(tick)
        assert match.last_actions[0] == move
        assert (match.world.pos[0, 0] - start).tolist() == list(DELTAS[move])
    before, steps = match.world.pos[0, 0].copy(), match.steps
    viewer.frame(tick)  # real time: the world goes on, the idle human does noop
    assert match.steps == steps + 1 and match.last_actions[0] == NOOP
    assert (match.world.pos[0, 0] == before).all()


def test_turn_based_waits_for_both_players_on_one_keyboard(viewer_of):
    viewer = viewer_of("plates_v0", ["agent_0=human", "agent_1=human"], seed=1, turn_based=True)
    match = viewer.match
    assert [h.keys for h in match.humans()] == ["wasd", "arrows"]
    viewer.frame(10.0)
    assert match.steps == 0, "turn-based: nobody pressed, nothing happens however long"
    m0, m1 = free_move(match, 0), free_move(match, 1)
    press(WASD[m0])
    viewer.frame(10.0)
    assert match.steps == 0 and viewer.view.waiting == ["agent_1"]
    assert "Your move: agent_1" in hud_text(match, viewer.view)
    press(ARROWS[m1])
    viewer.frame(0.0)
    assert match.steps == 1 and match.last_actions.tolist() == [m0, m1]


def test_pause_single_step_speed_and_restart(viewer_of):
    viewer = viewer_of("tag_v0", [], seed=2)
    match = viewer.match
    start = match.world.pos[0].copy()
    press(pygame.K_SPACE)
    viewer.frame(5.0)
    assert viewer.view.paused and match.steps == 0
    press(pygame.K_PERIOD)
    viewer.frame(5.0)
    assert match.steps == 1
    viewer.frame(5.0)
    assert match.steps == 1
    press(pygame.K_SPACE)
    viewer.frame(3.0 / viewer.view.speed + 1e-6)
    assert not viewer.view.paused and match.steps == 4
    speed = viewer.view.speed
    press(pygame.K_EQUALS)
    viewer.frame(0.0)
    assert viewer.view.speed > speed
    press(pygame.K_MINUS)
    press(pygame.K_MINUS)
    viewer.frame(0.0)
    assert viewer.view.speed < speed
    press(pygame.K_r)
    viewer.frame(0.0)
    assert match.steps == 0 and (match.world.pos[0] == start).all() and match.seed == 2
    press(pygame.K_n)
    viewer.frame(0.0)
    assert match.seed == 3 and match.steps == 0
    press(pygame.K_ESCAPE)
    assert not viewer.frame(0.0)


def test_tab_and_h_take_an_agent_over_and_hand_it_back(viewer_of):
    viewer = viewer_of("maze_v0", [], seed=5, config={"style": "open", "size": 9, "num_agents": 2})
    match = viewer.match
    press(pygame.K_TAB)
    press(pygame.K_TAB)
    press(pygame.K_h)
    viewer.frame(0.0)
    assert viewer.view.selected == 1 and match.seating.label(1) == "human (WASD)"
    move = free_move(match, 1)
    start = match.world.pos[0, 1].copy()
    press(WASD[move])
    release(WASD[move])
    press(pygame.K_SPACE)  # pause, then step: agent_0 (random) may not walk into agent_1's way
    viewer.frame(0.0)
    assert match.last_actions[1] == -1 and match.steps == 0
    press(pygame.K_PERIOD)
    viewer.frame(0.0)
    assert match.last_actions[1] == move
    moved = match.world.pos[0, 1] - start
    assert moved.tolist() in (list(DELTAS[move]), [0, 0])  # [0, 0] only if agent_0 stepped in the way
    press(pygame.K_h)
    viewer.frame(0.0)
    assert match.seating.label(1) == "random"


def test_each_agent_shows_in_its_colour_at_its_cell_at_any_window_size(viewer_of):
    viewer = viewer_of("tag_v0", [], seed=0)
    match = viewer.match
    for size in ((900, 640), (1400, 1000), (520, 420)):
        screen = pygame.display.set_mode(size, pygame.RESIZABLE)
        board = draw(screen, match, viewer.view)
        tile = board.w // match.world.shape[1]
        assert board.w == tile * match.world.shape[1] and board.h == tile * match.world.shape[0]
        image = pygame.surfarray.array3d(screen).transpose(1, 0, 2).astype(int)
        for i, (row, col) in enumerate(match.world.pos[0].tolist()):
            cell = image[board.y + row * tile : board.y + (row + 1) * tile, board.x + col * tile :][:, :tile]
            near = np.abs(cell - agent_colour(i)).sum(-1) < 40
            assert near.mean() > 0.1, f"agent {i} colour missing at its cell, window {size}"
            for j in range(match.scenario.num_agents):  # and no other agent's colour there
                if j != i:
                    assert (np.abs(cell - agent_colour(j)).sum(-1) < 40).mean() < 0.02


def test_the_hud_shows_each_agents_return_and_the_outcome(viewer_of):
    viewer = viewer_of("tag_v0", [], seed=7, default="planner", speed=60)
    match = viewer.match
    while not match.done:
        viewer.frame(1.0)
    # The returns, summed independently from a fresh env fed the recorded actions.
    env = worlds.make_parallel("tag_v0")
    env.reset(seed=7)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    for row in match.log.actions:
        _, rewards, *_ = env.step(
            {a: int(row[k]) for k, a in enumerate(env.possible_agents) if a in env.agents}
        )
        for a, r in rewards.items():
            totals[a] += r
    text = hud_text(match, viewer.view)
    for name, total in totals.items():
        line = next(line for line in text if line.startswith(name + " "))
        assert line.endswith(f"{total:+.2f}"), line
    hunters = totals["hunter_0"] + totals["hunter_1"]
    assert any(f"hunters {hunters:+.2f}" in line for line in text)
    assert match.outcome() in text and match.outcome().startswith(("Hunters win", "Runners win"))


def test_overlay_draws_each_thinking_agents_chosen_bar_above_it(viewer_of):
    viewer = viewer_of("tag_v0", [], seed=1, default="planner")
    match = viewer.match
    match.plan()
    screen = pygame.display.get_surface()
    board = draw(screen, match, View(overlay=False))
    plain = pygame.surfarray.array3d(screen).transpose(1, 0, 2).astype(int)
    draw(screen, match, View(overlay=True))
    shown = pygame.surfarray.array3d(screen).transpose(1, 0, 2).astype(int)
    tile = board.w // match.world.shape[1]
    for i, (row, col) in enumerate(match.world.pos[0].tolist()):
        assert match.think_kind[i] == 1  # the planner shows probabilities
        top = board.y + row * tile
        above = slice(max(board.y, top - tile), top) if row > 0 else slice(top + tile, top + 2 * tile)
        span = slice(board.x + col * tile - tile // 2, board.x + (col + 1) * tile + tile // 2)
        before, after = plain[above, span], shown[above, span]
        assert (before != after).any(), f"no card near agent {i}"
        colour = np.abs(after - agent_colour(i)).sum(-1) < 30
        assert colour.sum() > (np.abs(before - agent_colour(i)).sum(-1) < 30).sum()


def test_a_played_episode_is_recorded_on_quit(viewer_of, tmp_path):
    viewer = viewer_of("tag_v0", [], seed=0, record=tmp_path / "game.npz")
    for _ in range(5):
        viewer.frame(1 / viewer.view.speed)
    press(pygame.K_r)  # restart: the first (unfinished) episode is saved
    viewer.frame(0.0)
    viewer.frame(1 / viewer.view.speed)
    viewer.close()
    assert [p.name for p in viewer.saved] == ["game.npz", "game-1.npz"]
    assert record_path(tmp_path / "a.replay.npz", 2).name == "a-2.replay.npz"


def test_watch_in_a_window_plays_to_the_end_records_and_screenshots(monkeypatch, tmp_path, capsys):
    from arena.cli import main
    from arena.records.record import load_record

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    record, shot = tmp_path / "w.npz", tmp_path / "w.png"
    args = ["watch", "tag_v0", "--seat", "hunters=planner", "--seat", "runners=random", "--speed", "2000"]
    assert main([*args, "--quit-at-end", "--record", str(record), "--screenshot", str(shot)]) == 0
    log = load_record(record)
    assert log.summary["outcome"] and log.steps == log.summary["steps"] > 0
    assert f"wrote {shot}" in capsys.readouterr().out
    with Image.open(shot) as image:
        assert image.size[0] > 9 * 32


def test_readme_screenshots_are_drawn_by_the_viewer(tmp_path):
    from arena.viewer.screenshots import SIZE
    from arena.viewer.screenshots import main as screenshots

    written = screenshots(["--out", str(tmp_path)])
    assert [p.name for p in written] == ["screenshot_tag_v0.png", "screenshot_plates_v0.png"]
    for path in written:
        with Image.open(path) as image:
            assert image.size == SIZE


def test_every_scenario_states_its_objective_in_the_panel():
    from arena.viewer.hud import OBJECTIVES

    assert set(OBJECTIVES) == set(worlds.SCENARIOS)


def test_a_long_controller_label_is_elided_in_the_middle_to_fit():
    from arena.viewer.hud import _fit, font

    face = font(12)
    text = "checkpoints/very_long_folder_name/plates_v0_agents.safetensors  ·  won"
    fitted = _fit(text, 200, face)
    assert face.size(fitted)[0] <= 200 and "…" in fitted
    assert fitted.startswith("checkpoints") and fitted.endswith("won")


def test_thought_cards_keep_off_other_agents_and_each_other(viewer_of):
    from arena.viewer.hud import _place

    board = pygame.Rect(0, 0, 9 * 48, 9 * 48)
    cell = pygame.Rect(4 * 48, 4 * 48, 48, 48)
    above = cell.move(0, -48).inflate(-12, -12)  # another agent's body right above
    card = _place(pygame.Rect(0, 0, 70, 30), cell, board, [above])
    assert not card.colliderect(above) and not card.colliderect(cell.inflate(-4, -4))
    second = _place(pygame.Rect(0, 0, 70, 30), cell, board, [above, card])
    assert not second.colliderect(card) and not second.colliderect(above)


def test_the_overlay_explains_its_glyphs_in_the_panel(viewer_of):
    viewer = viewer_of("tag_v0", [], seed=1, default="planner")
    viewer.match.plan()
    shown = hud_text(viewer.match, View(overlay=True))
    hidden = hud_text(viewer.match, View(overlay=False))
    assert "noop   moves   tag" in shown and "noop   moves   tag" not in hidden


def test_a_caught_runner_shows_beside_the_hunter_that_stands_on_its_cell():
    from worlds.render import render_rgb

    scenario = worlds.make_scenario("tag_v0")
    match = Match("tag_v0", {}, Seating.from_specs(scenario, [], default="planner", seed=0), seed=0)
    while True:  # the planners catch runner_0 and a hunter steps onto its cell (step 8 of seed 0)
        match.plan()
        match.step()
        world = match.world
        taken = {tuple(p) for p in world.pos[0][world.alive[0]].tolist()}
        under = [i for i in np.flatnonzero(~world.alive[0]) if tuple(world.pos[0, i].tolist()) in taken]
        if under or match.done:
            break
    assert under, "no runner was caught under a hunter"
    tile = 48
    row, col = world.pos[0, under[0]].tolist()
    corner = np.s_[row * tile + tile // 2 : (row + 1) * tile, col * tile + tile // 2 : (col + 1) * tile]
    ghost = match.board(tile)[corner].astype(int)
    plain = render_rgb(scenario, world, tile=tile)[corner].astype(int)
    changed = np.abs(ghost - plain).sum(-1) > 60
    assert changed.sum() > 40  # a small body drawn over the corner
    standing = world.alive[0] & (world.pos[0] == (row, col)).all(-1)
    hunter = int(np.flatnonzero(standing)[0])
    mean = ghost[changed].mean(0)
    assert np.abs(mean - agent_colour(int(under[0]))).sum() < np.abs(mean - agent_colour(hunter)).sum()
