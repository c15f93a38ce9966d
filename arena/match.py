"""A match: seated controllers playing episodes of one scenario, stepped one tick at a time.

The viewer, headless `watch`, `play` and `replay` all drive a `Match`. Machine seats decide
their next actions as soon as a state appears (`plan`), so the overlay shows what each agent is
about to do; human seats are asked on the tick itself, once their key is in. Every step goes
into an `EpisodeLog`, which `arena.records.record` saves as a record file.
"""

from __future__ import annotations

import numpy as np

import worlds
from agents.base import Observations, thinking_of
from agents.human import Human
from arena.records.record import THINK_KINDS, EpisodeLog, save_record, scenario_config
from arena.seats import Seating
from worlds.render import ghost_badge, render_rgb
from worlds.scenario import Sprite
from worlds.sprites import sprite_art

GHOST = 0.35  # opacity of agents that left the game


class Match:
    """One scenario, its seats, and the episode being played (`reset` starts another)."""

    def __init__(self, scenario: str, config: dict, seating: Seating | None, seed: int = 0, max_steps=None):
        self.env = worlds.make_parallel(scenario, **config)
        self.scenario = self.env.scenario
        self.config = scenario_config(self.scenario)
        self.seating = seating
        self.max_steps = max_steps  # a replay stops where its record ends
        self.reset(seed)

    @property
    def agents(self) -> list[str]:
        return self.env.possible_agents

    def reset(self, seed: int | None = None) -> None:
        """A new episode: the same seed again when `seed` is None."""
        if seed is not None:
            self.seed = int(seed)
        self.obs, _ = self.env.reset(seed=self.seed)
        n, a = self.scenario.num_agents, len(self.scenario.actions)
        self.returns = np.zeros(n)
        self.ended: dict[str, str] = {}  # agent -> "terminated" | "truncated"
        self.steps = 0
        self.last_actions = np.full(n, -1, dtype=np.int64)
        self.think_values = np.full((n, a), np.nan, dtype=np.float32)
        self.think_kind = np.zeros(n, dtype=np.uint8)
        self.think_extras: dict[int, dict] = {}
        self.said: dict[int, str] = {}  # agent -> the message it said on the last step (team channel)
        self._planned: dict[int, np.ndarray] = {}  # seat index -> actions of its live agents
        self.log = EpisodeLog.start(self)
        for human in self.humans():
            human.reset()

    # -- seats ---------------------------------------------------------------------------------
    def humans(self) -> list[Human]:
        return self.seating.humans() if self.seating else []

    def live(self, agents: list[int] | None = None) -> list[int]:
        alive = self.world.alive[0]
        return [i for i in (range(self.scenario.num_agents) if agents is None else agents) if alive[i]]

    def live_humans(self) -> list[Human]:
        """Human seats with an agent still in the game."""
        return [
            seat.controller
            for seat in self.seating.seats
            if isinstance(seat.controller, Human) and self.live(seat.agents)
        ]

    def waiting_for(self) -> list[Human]:
        """Live human seats that have not chosen this step's action (turn-based play waits)."""
        return [human for human in self.live_humans() if not human.ready]

    def take_over(self, agent: int) -> Human:
        human = self.seating.take_over(agent)
        self._seat_changed(agent)
        return human

    def hand_back(self, agent: int) -> None:
        self.seating.hand_back(agent)
        self._seat_changed(agent)

    def _seat_changed(self, agent: int) -> None:
        self._planned.clear()  # the seats' rows changed: plan again
        self.think_values[agent] = np.nan
        self.think_kind[agent] = 0
        self.think_extras.pop(agent, None)
        self.log.seat(self.steps, agent, self.seating.label(agent))

    # -- playing ---------------------------------------------------------------------------------
    @property
    def world(self):
        return self.env.world

    @property
    def done(self) -> bool:
        return not self.env.agents or (self.max_steps is not None and self.steps >= self.max_steps)

    def plan(self) -> None:
        """Machine seats choose their actions for the coming step (once per state)."""
        if self.done:
            return
        for k, seat in enumerate(self.seating.seats):
            if k in self._planned or isinstance(seat.controller, Human):
                continue
            agents = self.live(seat.agents)
            if agents:
                self._planned[k] = self._ask(seat.controller, agents)

    def _ask(self, controller, agents: list[int]) -> np.ndarray:
        names = [self.agents[i] for i in agents]
        actions = np.asarray(controller.act(Observations.of_env(self.env, self.obs, names)), dtype=np.int64)
        if actions.shape != (len(agents),):
            raise ValueError(
                f"controller {getattr(controller, 'name', controller)!r} returned actions of shape "
                f"{actions.shape} for {len(agents)} agents"
            )
        thought = thinking_of(controller)
        if thought is not None and not isinstance(controller, Human):
            values = np.asarray(thought.values, dtype=np.float32)
            self.think_values[agents] = values.reshape(len(agents), -1)[:, : self.think_values.shape[1]]
            self.think_kind[agents] = THINK_KINDS.index(thought.kind) if thought.kind in THINK_KINDS else 0
            for row, i in enumerate(agents):
                self.think_extras[i] = _row_extras(thought.extras, row, len(agents))
        return actions

    def step(self) -> dict[str, float]:
        """One tick: every seat's action for its live agents, then the world steps. Returns the
        step's rewards by agent."""
        if self.done:
            raise RuntimeError("the episode is over: reset the match first")
        self.plan()
        chosen = np.full(self.scenario.num_agents, -1, dtype=np.int64)
        for k, seat in enumerate(self.seating.seats):
            agents = self.live(seat.agents)
            if not agents:
                continue
            actions = self._planned[k] if k in self._planned else self._ask(seat.controller, agents)
            chosen[agents] = actions
        self.log.record(self, chosen)
        acting = list(self.env.agents)
        self.obs, rewards, terms, truncs, _ = self.env.step(
            {a: int(chosen[self.agents.index(a)]) for a in acting}
        )
        self.steps += 1
        self.last_actions = chosen
        for a, r in rewards.items():
            self.returns[self.agents.index(a)] += r
            if terms[a] or truncs[a]:
                self.ended[a] = "terminated" if terms[a] else "truncated"
        self.said = {i: e["say"] for i, e in self.think_extras.items() if e.get("say") not in (None, "none")}
        self._planned.clear()
        self.think_values[:] = np.nan
        self.think_kind[:] = 0
        self.think_extras.clear()
        self.log.after_step(self)
        if not self.env.agents:
            self._episode_over()
        return rewards

    def _episode_over(self) -> None:
        """Seats that learn from whole episodes (an LM's knowledge base) hear how this one went."""
        success = self.success()
        for seat in self.seating.seats if self.seating else []:
            over = getattr(seat.controller, "episode_over", None)
            if callable(over) and seat.agents:
                over(0, success, self.steps, {i: float(self.returns[i]) for i in seat.agents})
                recall = getattr(seat.controller, "recall", None)
                if recall is not None:
                    recall.store.save()

    def play(self, draw, until: int | None = None) -> list:
        """Steps to the end of the episode, or up to step `until`; returns `draw(match)` of
        every state passed through (the final one only at the episode's end, so calls chain)."""
        out = []
        while self.done or until is None or self.steps < until:
            self.plan()
            out.append(draw(self))
            if self.done:
                break
            self.step()
        return out

    def board(self, tile: int = 32) -> np.ndarray:
        """The world as the renderer draws it, uint8[H * tile, W * tile, 3], plus faded ghosts
        of agents that left the game (caught, home, or done) where they left it (a small one in
        the cell's corner where another agent now stands)."""
        world = self.world
        image = render_rgb(self.scenario, world, tile=tile)
        gone = np.flatnonzero(~world.alive[0])
        if len(gone):
            everyone = world.world(0)
            everyone.alive[:] = True
            ghosts = render_rgb(self.scenario, everyone, tile=tile)
            taken = {tuple(p) for p in world.pos[0][world.alive[0]].tolist()}
            for i in gone:
                row, col = world.pos[0, i].tolist()
                cell = np.s_[row * tile : (row + 1) * tile, col * tile : (col + 1) * tile]
                if (row, col) in taken:  # someone stands there now: a small ghost beside them
                    ghost_badge(image[cell], self.scenario, int(i), 0.75)
                    continue
                blend = image[cell] * (1 - GHOST) + ghosts[cell] * GHOST
                image[cell] = np.rint(blend).astype(np.uint8)
        for sprite in self.bubbles():
            rgb, alpha = sprite_art(tile, sprite.kind, sprite.colour, sprite.label)
            cell = image[
                sprite.row * tile : (sprite.row + 1) * tile, sprite.col * tile : (sprite.col + 1) * tile
            ]
            cell[:] = np.rint(cell * (1 - alpha) + rgb * alpha).astype(np.uint8)
        return image

    def bubbles(self) -> list[Sprite]:
        """Speech bubbles of what the agents said on the team channel last step."""
        from agents.lm.talk import bubble_label

        return [
            Sprite(
                *map(int, self.world.pos[0, i]), "bubble", (255, 255, 255), bubble_label(self.scenario, text)
            )
            for i, text in sorted(self.said.items())
        ]

    # -- outcome -----------------------------------------------------------------------------
    def success(self) -> bool:
        terminated = np.array([[self.ended.get(a) == "terminated" for a in self.agents]])
        return bool(self.scenario.success(terminated)[0])

    def status(self, agent: int) -> str:
        """An agent's state in words for the HUD: "" while it plays."""
        how = self.ended.get(self.agents[agent])
        if how is None:
            return ""
        if how == "truncated":
            return "time up"
        words = _DONE_WORDS.get(self.scenario.name, ("done",))
        return words[int(self.scenario.teams[agent]) % len(words)]

    def outcome(self) -> str:
        """How the episode ended, in the scenario's words ("" while it runs)."""
        if not self.env.agents:
            return _OUTCOMES.get(self.scenario.name, _generic_outcome)(self)
        if self.done:
            return f"The record ends at step {self.steps}"
        return ""

    def summary(self) -> dict:
        return {
            "steps": self.steps,
            "returns": dict(zip(self.agents, self.returns.round(6).tolist(), strict=True)),
            "ended": dict(self.ended),
            "success": self.success() if not self.env.agents else None,
            "outcome": self.outcome(),
        }

    def save(self, path) -> object:
        """Writes this episode (so far) as a record file; returns its path."""
        self.log.summary = self.summary()
        return save_record(path, self.log)

    def team_returns(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, team in enumerate(self.scenario.teams.tolist()):
            name = self.scenario.team_names[team]
            out[name] = out.get(name, 0.0) + float(self.returns[i])
        return out


def _row_extras(extras: dict, row: int, rows: int) -> dict:
    """Row `row`'s share of a Thinking's extras as plain JSON values: per-row sequences are
    indexed, anything else is shared by every row; numbers stay numbers (nan becomes None)."""
    out = {}
    for key, value in (extras or {}).items():
        if isinstance(value, (list, tuple, np.ndarray)) and len(value) == rows:
            value = value[row]
        out[str(key)] = _plain(value)
    return out


def _plain(value):
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, 4) if np.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 64:
        return [_plain(v) for v in value]
    return str(value)[:500]


_DONE_WORDS = {"tag_v0": ("won", "caught"), "maze_v0": ("home",), "plates_v0": ("won",)}


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def _count(match, team: int, how: str) -> tuple[int, int]:
    members = [a for i, a in enumerate(match.agents) if match.scenario.teams[i] == team]
    return sum(match.ended.get(a) == how for a in members), len(members)


def _tag_outcome(match) -> str:
    if match.success():
        return f"Hunters win: every runner caught in {_steps(match.steps)}"
    free, runners = _count(match, 1, "truncated")
    return f"Runners win: {free} of {runners} escaped for {_steps(match.steps)}"


def _maze_outcome(match) -> str:
    home, total = _count(match, 0, "terminated")
    if home == total:
        who = f"{match.agents[0]} reached its goal" if total == 1 else "Everyone reached their goal"
        return f"{who} in {_steps(match.steps)}"
    if total == 1:
        return f"Time's up: {match.agents[0]} did not reach its goal"
    return f"Time's up: {home} of {total} reached their goal"


def _plates_outcome(match) -> str:
    if match.success():
        return f"Team wins in {_steps(match.steps)}: plates held, gate open, goal reached"
    from worlds.cells import OPEN_GATE

    opened = bool((match.world.cells()[0] == OPEN_GATE).any())
    return "Time's up: " + (
        "the gate opened but nobody reached the goal" if opened else "the gate stayed shut"
    )


def _generic_outcome(match) -> str:
    steps = _steps(match.steps)
    if len(match.scenario.team_names) > 1:  # a contest: the team with the highest return won
        returns = match.team_returns()
        best = max(returns.values())
        leaders = [team for team, r in returns.items() if r == best]
        if len(leaders) == 1:
            return f"{leaders[0].capitalize()} win{'s' * (not leaders[0].endswith('s'))} after {steps}"
        return f"A draw after {steps}"
    return f"Success in {steps}" if match.success() else f"Time's up after {steps}"


_OUTCOMES = {"tag_v0": _tag_outcome, "maze_v0": _maze_outcome, "plates_v0": _plates_outcome}
