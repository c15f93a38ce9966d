"""The pygame viewer: a resizable window on a `Match`, with its HUD, keys and human seats.

Real time: the world ticks at `speed` steps per second and a human who presses nothing does
noop. Turn-based: the world waits until every human still in the game has pressed a key. Keys
go to the human seats first (their keymaps), then to the viewer's own controls (`hud.CONTROLS`).
`frame(dt)` is one pass of the loop (events, world, drawing), so tests can drive it with posted
events and a fixed clock under SDL_VIDEODRIVER=dummy.
"""

from __future__ import annotations

import os
from pathlib import Path

from arena.episode import save_png
from arena.match import Match
from arena.viewer import hud
from arena.viewer.hud import View, pygame

SPEEDS = (0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 60)
FPS = 30  # window redraws per second
MAX_STEPS_PER_FRAME = 64
MESSAGE_SECONDS = 3.0


def display_available() -> bool:
    """Whether a window can be opened: on Linux, an X or Wayland display, or an SDL video
    driver named explicitly (SDL_VIDEODRIVER=dummy in tests, for instance)."""
    if os.environ.get("SDL_VIDEODRIVER"):
        return True
    if os.name == "posix" and not os.uname().sysname == "Darwin":
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Viewer:
    """A window showing `match`. `record` (a path) saves every episode played: episode 0 to
    the path itself, later ones beside it as NAME-1.EXT, NAME-2.EXT..."""

    def __init__(
        self,
        match: Match,
        speed: float = 6.0,
        turn_based: bool = False,
        overlay: bool = False,
        replay: bool = False,
        record: str | Path | None = None,
        size: tuple[int, int] | None = None,
        quit_at_end: bool = False,
        shots: str | Path = "out",
    ):
        if speed <= 0:
            raise ValueError(f"speed must be positive steps per second, got {speed}")
        self.match = match
        self.view = View(overlay=overlay, turn_based=turn_based, speed=float(speed), replay=replay)
        self.record = Path(record) if record else None
        self.quit_at_end = quit_at_end
        self.shots = Path(shots)
        self.episode = 0
        self.saved: list[Path] = []
        self._saved_this = False
        self._clock_left = 0.0  # seconds banked toward the next real-time step
        self._message_left = 0.0
        self._step_once = False
        self.running = True
        # with a person at the keys the world waits for their first key, not ticking at once
        self.view.waiting_start = bool(match.humans()) and not replay
        pygame.display.init()
        pygame.font.init()
        self.screen = pygame.display.set_mode(size or self._default_size(), pygame.RESIZABLE)
        pygame.display.set_caption(f"Grid Arena: {match.scenario.name}" + (" (replay)" if replay else ""))
        self._clock = pygame.time.Clock()

    def _default_size(self) -> tuple[int, int]:
        height, width = self.match.world.shape
        tile = hud.board_tile((height, width), (860, 660))
        return (width * tile + hud.PANEL_WIDTH + 2 * hud.MARGIN, max(height * tile + 2 * hud.MARGIN, 760))

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> list[Path]:
        """Until the window closes (Esc, or the episode ends with quit_at_end); returns the
        record files written."""
        try:
            while self.running:
                self.frame()
        finally:
            self.close()
        return self.saved

    def frame(self, dt: float | None = None) -> bool:
        """One pass: events, the world (`dt` seconds of it; the real clock when None), drawing."""
        dt = self._clock.tick(max(FPS, min(self.view.speed, 60))) / 1000 if dt is None else dt
        for event in pygame.event.get():
            self.handle(event)
        if self.running:
            self.update(dt)
        if self.running:
            self.draw()
        return self.running

    def handle(self, event) -> None:
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.KEYDOWN:
            self.key(event.key)
        elif event.type == pygame.KEYUP:
            name = pygame.key.name(event.key)
            for human in self.match.humans():
                human.release(name)

    def key(self, key: int) -> None:
        """A key went down: a human's if it is in their keymap, else a viewer control."""
        name = pygame.key.name(key)
        view = self.view
        if view.waiting_start and key != pygame.K_ESCAPE:
            view.waiting_start = False  # the key that starts the game is not a move
            self._clock_left = 0.0
            return
        if not self.match.done and any(h.press(name) for h in self.match.humans()):
            return
        if key == pygame.K_ESCAPE:
            self.running = False
        elif key == pygame.K_SPACE:
            view.paused = not view.paused
            self._clock_left = 0.0
        elif key in (pygame.K_PERIOD, pygame.K_KP_PERIOD):
            self._step_once = True
        elif key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
            self._speed(+1)
        elif key in (pygame.K_MINUS, pygame.K_KP_MINUS):
            self._speed(-1)
        elif key == pygame.K_r:
            self.restart(same_seed=True)
        elif key == pygame.K_n and not view.replay:
            self.restart(same_seed=False)
        elif key == pygame.K_t:
            view.overlay = not view.overlay
            self.say("thoughts shown above agents" if view.overlay else "thoughts hidden")
        elif key == pygame.K_TAB:
            n = self.match.scenario.num_agents
            view.selected = (
                0 if view.selected is None else (view.selected + 1 if view.selected + 1 < n else None)
            )
        elif key == pygame.K_h:
            self.take_over()
        elif key == pygame.K_m and not view.replay:
            view.turn_based = not view.turn_based
            self.say("turn-based: the world waits for every human" if view.turn_based else "real time")
        elif key == pygame.K_F12:
            self.say(f"saved {self.screenshot()}")

    def update(self, dt: float) -> None:
        """Advances the world as the mode says: waits for humans, or ticks at `speed`."""
        self._message_left = max(0.0, self._message_left - dt)
        if self._message_left == 0.0:
            self.view.message = ""
        match, view = self.match, self.view
        if match.done:
            self._step_once = False
            return
        match.plan()
        waiting = match.waiting_for()
        steps = 0
        if self._step_once:
            steps, self._step_once = 1, False
        elif view.paused or view.waiting_start:
            steps = 0
        elif view.turn_based and match.live_humans():
            steps = 0 if waiting else 1
        else:
            self._clock_left += dt
            period = 1.0 / view.speed
            steps = min(int(self._clock_left / period), MAX_STEPS_PER_FRAME)
            self._clock_left = min(self._clock_left - steps * period, period)
        for _ in range(steps):
            match.step()
            if match.done:
                self._episode_over()
                break
            match.plan()
        view.waiting = [self._seat_name(h) for h in match.waiting_for()]

    def draw(self) -> None:
        self.screen = pygame.display.get_surface()
        hud.draw(self.screen, self.match, self.view)
        pygame.display.flip()

    def close(self) -> None:
        self._save_episode()
        pygame.display.quit()

    # -- actions ------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        self.view.message = message
        self._message_left = MESSAGE_SECONDS

    def _speed(self, direction: int) -> None:
        speed = self.view.speed
        faster = [s for s in SPEEDS if s > speed]
        slower = [s for s in SPEEDS if s < speed]
        if direction > 0 and faster:
            self.view.speed = float(faster[0])
        elif direction < 0 and slower:
            self.view.speed = float(slower[-1])
        self.say(f"{self.view.speed:g} steps per second")

    def restart(self, same_seed: bool) -> None:
        self._save_episode()
        self.match.reset(None if same_seed else self.match.seed + 1)
        self.episode += 1
        self._saved_this = False
        self._clock_left = 0.0
        what = "from the start" if same_seed else "next episode"
        self.say(f"{what}: episode {self.episode + 1}, seed {self.match.seed}")

    def take_over(self) -> None:
        """Tab-selected agent: a human takes it over, or hands it back to its seat."""
        agent, match = self.view.selected, self.match
        if self.view.replay:
            self.say("a replay plays as recorded: no take-over")
        elif agent is None:
            self.say("Tab picks an agent, then H takes it over")
        elif match.seating.taken_over(agent):
            match.hand_back(agent)
            self.say(f"{match.agents[agent]} is back with {match.seating.label(agent)}")
        else:
            try:
                human = match.take_over(agent)
            except ValueError as err:
                self.say(str(err))
                return
            self.say(f"you drive {match.agents[agent]} with {human.keys.upper()}; H hands it back")

    def screenshot(self, path: str | Path | None = None) -> Path:
        path = path or self.shots / f"screenshot_{self.match.scenario.name}_{self.match.steps:03d}.png"
        return save_png(hud.to_array(pygame.display.get_surface()), path)

    def _seat_name(self, human) -> str:
        seat = next(s for s in self.match.seating.seats if s.controller is human)
        return ", ".join(self.match.agents[i] for i in seat.agents)

    def _episode_over(self) -> None:
        self._save_episode()
        if self.quit_at_end:
            self.running = False

    def _save_episode(self) -> None:
        if self.record is None or self._saved_this or self.match.steps == 0:
            return
        path = record_path(self.record, self.episode)
        self.saved.append(self.match.save(path))
        self._saved_this = True
        print(f"recorded episode {self.episode} ({self.match.steps} steps) to {path}", flush=True)


def record_path(path: Path, episode: int) -> Path:
    """Episode 0 goes to `path`, episode k to NAME-k.EXT beside it."""
    if episode == 0:
        return path
    suffix = "".join(path.suffixes)
    return path.with_name(f"{path.name[: len(path.name) - len(suffix)]}-{episode}{suffix}")
