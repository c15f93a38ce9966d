"""The batch training loop: seats (a learner, a checkpoint that keeps learning, or a fixed
controller) over B batch-mode worlds, the transitions each learner gets, recent-episode
statistics, and evaluation on fixed seeds. `arena.training.run` (one run) and `arena.training.curriculum`
(a sequence of tasks) drive it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from agents.base import Observations, Transition
from worlds.batch import BatchEnv
from worlds.registry import make_scenario
from worlds.scenario import Scenario
from worlds.state import State

ALGOS = ("tabular_q", "dqn", "reinforce", "a2c", "ppo")  # agents.checkpoint.ALGOS, without importing torch
LM_ALGOS = ("lm_ppo", "lm_q")  # agents.checkpoint.LM_ALGOS; a seat spec may name the LM: `lm_ppo:smollm2`
WINDOW = 100  # finished episodes behind the "recent" return and success


# -- what is trained ---------------------------------------------------------------------------
def parse_value(text: str):
    """A command-line value: int, float, true/false/none, else the string itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def parse_pairs(items: list[str], what: str) -> dict:
    """`["size=7", "lr=0.001"]` -> {"size": 7, "lr": 0.001}."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what}: expected KEY=VALUE, got {item!r}")
        pairs[key] = parse_value(value)
    return pairs


def counted(noun: str, names) -> str:
    """ "team agents", "agents agent_0, agent_1": a noun that agrees with its list."""
    names = list(names)
    return f"{noun}{'' if len(names) == 1 else 's'} {', '.join(names)}"


def parse_scenario(text: str) -> Scenario:
    """A scenario with variations: `maze_v0`, `maze_v0:size=7:style=rooms`."""
    name, *options = text.split(":")
    return make_scenario(name, **parse_pairs(options, f"scenario {text!r}"))


@dataclass
class Seat:
    """Who drives some agents: all agents of a team (parameter sharing) or a single agent."""

    name: str  # a team name or an agent name
    agents: np.ndarray  # agent indices, int64[k]
    spec: str  # an algorithm name, a controller name or a checkpoint path
    controller: object
    num_actions: int  # the controller's action count (more than the scenario's in a curriculum)
    frozen: bool = False

    @property
    def learns(self) -> bool:
        return not self.frozen and callable(getattr(self.controller, "learn", None))


def seat_plan(scenario: Scenario, teams: dict[str, str], independent: bool = False) -> list[tuple]:
    """(name, agent indices, spec) per seat. Every team is one seat (default `ppo`); an agent
    named in `teams`, or every agent with `independent`, gets a seat of its own."""
    names = scenario.agent_names
    known = set(scenario.team_names) | set(names)
    for name in teams:
        if name not in known:
            raise ValueError(
                f"--seat {name}: {scenario.name} has no seat {name!r}; name one of its "
                f"{counted('team', scenario.team_names)} or {counted('agent', names)}"
            )
    plan = []
    for t, team in enumerate(scenario.team_names):
        members = [i for i in range(scenario.num_agents) if scenario.teams[i] == t]
        alone = [i for i in members if independent or names[i] in teams]
        shared = [i for i in members if i not in alone]
        if shared:
            plan.append((team, shared, teams.get(team, "ppo")))
        plan += [(names[i], [i], teams.get(names[i], teams.get(team, "ppo"))) for i in alone]
    return plan


def learner_algo(spec: str) -> str | None:
    """The algorithm of a seat spec that starts a new learner (`ppo`, `lm_ppo`, `lm_ppo:MODEL`),
    else None (a controller name or a checkpoint path)."""
    if spec in ALGOS:
        return spec
    name = spec.partition(":")[0]
    return name if name in LM_ALGOS else None


def lm_hyper(spec: str, hyper: dict) -> dict:
    """An LM learner's hyper-parameters, with the model its spec names (`lm_ppo:MODEL`)."""
    model = spec.partition(":")[2]
    if not model:
        return hyper
    if hyper.get("model", model) != model:
        raise ValueError(f"seat {spec} names model {model!r}, and --hp model={hyper['model']!r}: give one")
    return hyper | {"model": model}


def prompt_memory(controller) -> dict | None:
    """An LM learner's recent actions per (world, agent), which its prompts show (None for other
    controllers). Kept in run checkpoints; evaluation lends the learner an empty one, since its
    worlds reuse the training worlds' indices."""
    return getattr(getattr(controller, "seat", None), "memory", None)


def seat_hyper(hyper: dict, seat: str) -> dict:
    """The hyper-parameters for one seat: plain `KEY`s go to every learner, `SEAT.KEY` to one."""
    own = {k: v for k, v in hyper.items() if "." not in k}
    own |= {k.split(".", 1)[1]: v for k, v in hyper.items() if k.split(".", 1)[0] == seat and "." in k}
    return own


def seat_seed(seed: int, k: int) -> int:
    """The seed of seat k's controller: its own stream, apart from the worlds' seeds."""
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])


def make_seat(
    scenario: Scenario,
    name: str,
    agents,
    spec: str,
    seed: int,
    device: str = "auto",
    hyper: dict | None = None,
    num_actions: int | None = None,
    frozen: bool = False,
) -> Seat:
    """A seat driven by a new learner (`spec` in ALGOS, or an LM learner `lm_ppo[:MODEL]`,
    `lm_q[:MODEL]`), a saved checkpoint or a named controller."""
    actions = len(scenario.actions)
    algo = learner_algo(spec)
    extra = {"num_actions": num_actions} if num_actions and num_actions != actions else {}
    if algo in ALGOS:
        from agents.checkpoint import make_learner

        controller = make_learner(spec, scenario, device=device, seed=seed, **(hyper or {}), **extra)
    elif algo in LM_ALGOS:
        from agents.lm.learning import make_lm_learner

        controller = make_lm_learner(algo, scenario, seed, device, **lm_hyper(spec, hyper or {}), **extra)
    else:
        from agents.registry import make_controller

        controller = make_controller(spec, scenario, seed=seed, device=device, learners=ALGOS + LM_ALGOS)
    config = getattr(controller, "config", None) or {}
    count = int(config.get("num_actions", actions))
    if count < actions:
        trained = config.get("scenario", {}).get("name", "?")
        raise ValueError(
            f"seat {name}: {spec} (trained on {trained}) acts with {count} actions but "
            f"{scenario.name} has {actions}"
        )
    return Seat(name, np.asarray(agents, np.int64), spec, controller, count, frozen)


def seat_rows(scenario: Scenario, state: State, obs: dict, seat: Seat) -> Observations:
    """The seat's rows of a batch observation, world-major (world b, then its agents)."""
    rows = Observations.of_batch(scenario, state, obs, seat.agents)
    extra = seat.num_actions - rows.action_mask.shape[1]
    if extra > 0:  # a controller built for a larger action set: the actions beyond are illegal here
        rows.action_mask = np.pad(rows.action_mask, ((0, 0), (0, extra)))
    return rows


def act(seat: Seat, rows: Observations, explore: bool = True) -> np.ndarray:
    if callable(getattr(seat.controller, "learn", None)):
        return seat.controller.act(rows, explore=explore)
    return seat.controller.act(rows)


# -- the loop ----------------------------------------------------------------------------------
class EpisodeStats:
    """Training figures without the early-run bias: the last `WINDOW` or so training episodes
    among those that *started* at least `horizon` (max_cycles) steps ago. All of those have
    finished, long or short, so the figures do not favour the quick successes that finish
    first (counting finished episodes did: a fresh run showed "success 1.00" before any
    time-out had come in). Until the first cohort is complete the figures are nan ("-")."""

    def __init__(self, seats: list[str], horizon: int):
        self.seats, self.horizon = seats, horizon
        self.iteration = 0  # batch steps seen
        self.done: deque[tuple] = deque()  # (start iteration, success, length, seat returns...)
        self.episodes = 0

    def add(self, infos: dict, seats: list[Seat]) -> None:
        self.iteration += 1
        if "episode_return" not in infos:
            return
        length = infos["episode_length"].astype(int)
        start = self.iteration - length  # the batch step before the episode's first move
        returns = [infos["episode_return"][:, seat.agents].mean(1) for seat in seats]
        for k in range(len(length)):  # finished episodes only: a handful per step
            self.done.append(
                (int(start[k]), float(infos["success"][k]), float(length[k]), *(float(r[k]) for r in returns))
            )
        self.episodes += len(length)

    def cohort(self) -> list[tuple]:
        """Every finished episode that started in the latest complete window of start steps."""
        cutoff = self.iteration - self.horizon  # episodes starting by then have all ended
        eligible = sorted((e for e in self.done if e[0] <= cutoff), key=lambda e: e[0])
        if not eligible:
            return []
        first = eligible[max(0, len(eligible) - WINDOW)][0]  # whole start steps: no tie bias
        while self.done and self.done[0][0] < first:  # older episodes are never reported again
            self.done.popleft()
        return [e for e in eligible if e[0] >= first]

    def summary(self) -> dict:
        cohort = np.array(self.cohort(), dtype=float).reshape(-1, 3 + len(self.seats))
        row = {"episodes": self.episodes, "cohort": len(cohort)}
        row["success"] = _mean(cohort[:, 1])
        row["length"] = _mean(cohort[:, 2])
        for k, name in enumerate(self.seats):
            row[f"{name}/return"] = _mean(cohort[:, 3 + k])
        return row

    def to_json(self) -> dict:
        return {"iteration": self.iteration, "done": [list(e) for e in self.done], "episodes": self.episodes}

    def load_json(self, data: dict) -> None:
        self.iteration = int(data["iteration"])
        self.done = deque(tuple(e) for e in data["done"])
        self.episodes = int(data["episodes"])


def _mean(values) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


class TrainingLoop:
    """B worlds of one scenario played by seats: `step()` acts, steps every world once and feeds
    each learner its Transition. The arena's one training step, reused by the curriculum."""

    def __init__(self, scenario: Scenario, seats: list[Seat], num_worlds: int, seed: int):
        covered = sorted(i for seat in seats for i in seat.agents.tolist())
        if covered != list(range(scenario.num_agents)):
            raise ValueError(f"seats must drive every agent of {scenario.name} exactly once")
        self.scenario, self.seats = scenario, seats
        self.env = BatchEnv(scenario, num_worlds, seed)
        self.obs = self.env.reset()
        self.state = self.env.world.copy()
        self.stats = EpisodeStats([s.name for s in seats], scenario.max_cycles)
        self.metrics: dict[str, dict[str, list[float]]] = {s.name: {} for s in seats}  # since last log
        self.self_play = None  # an `arena.training.selfplay.SelfPlay`: past snapshots play in some worlds

    def step(self) -> dict:
        """Every seat acts, every world steps once, every learner learns; returns `infos`."""
        rows = self.rows()
        actions = self.act(rows)
        if self.self_play is not None:
            self.self_play.act(rows, actions)
        outcome = self.advance(actions)
        for seat, r in zip(self.seats, rows, strict=True):
            if seat.learns:
                transition = self.transition(seat, r, actions, outcome)
                if self.self_play is not None:
                    self.self_play.own_rows(seat, transition)
                self.learned(seat, seat.controller.learn(transition))
        if self.self_play is not None:
            self.self_play.ended(outcome)
        return outcome.infos

    def rows(self) -> list[Observations]:
        """Each seat's rows of the current observation."""
        return [seat_rows(self.scenario, self.state, self.obs, seat) for seat in self.seats]

    def act(self, rows: list[Observations], skip: Seat | None = None) -> np.ndarray:
        """Actions int64[B, N] of every seat but `skip` (whose columns the caller fills)."""
        worlds = self.env.num_worlds
        actions = np.zeros((worlds, self.scenario.num_agents), np.int64)
        for seat, r in zip(self.seats, rows, strict=True):
            if seat is not skip:
                actions[:, seat.agents] = np.asarray(act(seat, r)).reshape(worlds, len(seat.agents))
        return actions

    def advance(self, actions: np.ndarray) -> Outcome:
        """Step the worlds; keep the new observation and count finished episodes."""
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        state = self.env.world.copy()  # a snapshot: the env steps its own state in place
        outcome = Outcome(rewards, terminated, truncated, infos, state, *closing(state, obs, infos))
        self.stats.add(infos, self.seats)
        self.obs, self.state = obs, state
        return outcome

    def transition(self, seat: Seat, rows: Observations, actions: np.ndarray, outcome: Outcome) -> Transition:
        agents = seat.agents
        return Transition(
            obs=rows,
            action=actions[:, agents].reshape(-1),
            reward=outcome.rewards[:, agents].reshape(-1),
            terminated=outcome.terminated[:, agents].reshape(-1),
            truncated=outcome.truncated[:, agents].reshape(-1),
            next_obs=seat_rows(self.scenario, outcome.last_state, outcome.last, seat),
            active=outcome.infos["active"][:, agents].reshape(-1),
        )

    def learned(self, seat: Seat, metrics: dict | None) -> None:
        """Keep a learner's update metrics for the next log line."""
        for key, value in (metrics or {}).items():
            self.metrics[seat.name].setdefault(key, []).append(float(value))

    def take_metrics(self) -> dict:
        """Learner metrics averaged over the updates since the last call, `seat/key`."""
        row = {f"{s}/{k}": float(np.mean(v)) for s, m in self.metrics.items() for k, v in m.items()}
        self.metrics = {s.name: {} for s in self.seats}
        return row


@dataclass
class Outcome:
    """What one step of the worlds gave back, for building Transitions."""

    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    infos: dict
    state: State  # the state after the step (a snapshot)
    last_state: State  # the state closing the step: worlds that were reset as they ended
    last: dict  # each agent's observation closing the step (before any reset)


def closing(state: State, obs: dict, infos: dict) -> tuple[State, dict]:
    """The state and observation that closed each world's step: for worlds that were reset,
    their last ones before the reset (`final_state`, `final_obs`), else the current ones."""
    if not infos["done"].any():
        return state, obs
    idx = np.flatnonzero(infos["done"])
    last = {key: value.copy() for key, value in obs.items()}
    for key in last:
        last[key][idx] = infos["final_obs"][key]
    last_state = state.copy()
    last_state.put(idx, infos["final_state"])
    return last_state, last


def evaluate(
    scenario: Scenario,
    seats: list[Seat],
    num_worlds: int = 32,
    seed: int = 1_000_000,
    device="auto",
    explore: bool = True,
) -> dict:
    """One episode in each of `num_worlds` worlds seeded `seed + b`: success rate, mean length
    and each seat's mean return. Everything random is seeded from `seed`, so the same weights
    always score the same: learners sample their actions (`explore`; greedy with False) from a
    Generator lent for the evaluation, fixed controllers are fresh copies. The training run's
    own generators are left as they were."""
    from agents.registry import make_controller

    players, lent = [], []  # lent: (owner, attribute, the training run's value)
    for k, seat in enumerate(seats):
        learner = seat.controller
        if callable(getattr(learner, "learn", None)):
            players.append(seat)
            if isinstance(getattr(learner, "rng", None), np.random.Generator):
                lent.append((learner, "rng", learner.rng))
                learner.rng = np.random.default_rng(seat_seed(seed, k))
            if prompt_memory(learner) is not None:
                lent.append((learner.seat, "memory", learner.seat.memory))
                learner.seat.memory = {}
        else:
            copy = make_controller(seat.spec, scenario, seed=seat_seed(seed, k), device=device)
            players.append(Seat(seat.name, seat.agents, seat.spec, copy, seat.num_actions))
    try:
        returns, success, length = _play_once(scenario, players, num_worlds, seed, explore)
    finally:
        for owner, name, value in lent:
            setattr(owner, name, value)
    # standard errors over the worlds: the plot's band, the progress line's +-
    row = {"success": float(success.mean()), "success_se": _se(success.astype(float))}
    row |= {"length": float(length.mean()), "length_se": _se(length), "episodes": num_worlds}
    for seat in seats:
        per_world = returns[:, seat.agents].mean(1)
        row[f"{seat.name}/return"] = float(per_world.mean())
        row[f"{seat.name}/return_se"] = _se(per_world)
    return row


def _se(values: np.ndarray) -> float:
    """The standard error of a mean (0 for one value)."""
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def _play_once(scenario: Scenario, players: list[Seat], num_worlds: int, seed: int, explore: bool):
    """The first episode of every world: returns [B, N], success [B], length [B]."""
    env = BatchEnv(scenario, num_worlds, seed)
    obs = env.reset()
    returns = np.zeros((num_worlds, scenario.num_agents), np.float32)
    success = np.zeros(num_worlds, bool)
    length = np.zeros(num_worlds)
    seen = np.zeros(num_worlds, bool)
    while not seen.all():
        actions = np.zeros((num_worlds, scenario.num_agents), np.int64)
        for seat in players:
            chosen = act(seat, seat_rows(scenario, env.world, obs, seat), explore=explore)
            actions[:, seat.agents] = np.asarray(chosen).reshape(num_worlds, len(seat.agents))
        obs, _, _, _, infos = env.step(actions)
        if infos["done"].any():
            idx = np.flatnonzero(infos["done"])
            new = ~seen[idx]
            first = idx[new]
            returns[first] = infos["episode_return"][new]
            success[first] = infos["success"][new]
            length[first] = infos["episode_length"][new]
            seen[first] = True
    return returns, success, length
