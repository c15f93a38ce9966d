"""In-context meta-RL (RL^2, Duan et al. 2016): a recurrent PPO whose memory spans several
episodes of one task, so that it learns to use what an episode taught it in the next.

A *meta-episode* is `trials` consecutive episodes (trials) of one task (`worlds.tasks`: a fixed
level, so the layout, the goal and the spawn repeat from trial to trial). The policy
(`agents.recurrent`, `core="gru"`, `context="rl2"`) reads its view and, beside it, the previous
action, the previous reward and a trial-start flag; its core state is zeroed only when a
meta-episode starts, never between the trials of one task. Returns run across trials too: a
trial's end is not the end of an episode for the learner, only the meta-episode's end is (a
termination). So the first trial's exploration is credited with what it earns in the next.

Training (`train_rl2`) plays `groups` tasks at once, each in `worlds / groups` batch worlds
(`Task.make_batch`, all stepped together), for a *round* long enough for `trials` full
episodes; a world whose meta-episode ends early starts another of the same task. Each round
draws new tasks from `worlds.tasks(family, "train", seed)`; the round's last step cuts the
meta-episodes still running (bootstrapped from their value). `adapt_rl2` plays one given task
and reports the success rate of each trial, with no weight update: whatever improves from trial
1 to trial 3 was learned in context.

By default the goal compass is hidden (the view shows the goal only when it is in sight), so a
maze task's goal must be found and then remembered; `compass=True` shows it. Settings in `hp`:
RL^2's own (`groups`, `compass`), `task.KEY=VALUE` overrides of every task's config (e.g.
`task.num_agents=1`, `task.max_cycles=60`), and the learner's hyper-parameters (`core`,
`hidden`, `lr`, `rollout`, ...; `core=none` is the feed-forward baseline, same inputs and
training, no memory). The checkpoint is a policy-gradient checkpoint whose config also holds
these settings (`config["rl2"]`), so `adapt_rl2` plays under the same settings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from agents.base import Observations, Transition
from agents.recurrent import rl2_context
from arena.training.loop import closing
from worlds.errors import ConfigError
from worlds.tasks import Task
from worlds.tasks import tasks as task_stream

SETTINGS = {"groups": 4, "compass": False}  # RL^2's own settings in `hp`
LEARNER = {  # the learner's defaults under RL^2 (any of its hyper-parameters may be set in `hp`)
    "core": "gru",
    "context": "rl2",
    "memory": "none",  # the core is the memory
    "encoder": "mlp",  # on a 2-core CPU: twice the steps/s of the conv encoder
    "hidden": 64,
    "rollout": 128,
    "minibatches": 2,  # each minibatch unrolls the core over the whole rollout: few, large ones
}
CHECKPOINT = "rl2.safetensors"


def split_hp(hp: dict | None) -> tuple[dict, dict, dict]:
    """(RL^2 settings, task config overrides, learner hyper-parameters) of `hp`."""
    hp = dict(hp or {})
    settings = SETTINGS | {k: hp.pop(k) for k in list(hp) if k in SETTINGS}
    overrides = {k.removeprefix("task."): hp.pop(k) for k in list(hp) if k.startswith("task.")}
    learner = LEARNER | hp
    if (
        not isinstance(settings["groups"], int)
        or isinstance(settings["groups"], bool)
        or settings["groups"] < 1
    ):
        raise ConfigError(f"rl2: groups must be an integer >= 1, got {settings['groups']!r}")
    if not isinstance(settings["compass"], bool):
        raise ConfigError(f"rl2: compass must be true or false, got {settings['compass']!r}")
    if learner.get("context") != "rl2":
        raise ConfigError(
            f"rl2: context must be 'rl2' (the previous action and reward), got {learner['context']!r}"
        )
    if learner.get("memory") != "none":
        raise ConfigError(f"rl2: memory must be 'none' (the core remembers), got {learner['memory']!r}")
    return settings, overrides, learner


def hide_compass(view: np.ndarray) -> np.ndarray:
    """The view without the goal compass: channel 2 keeps only the goal cell in sight (1)."""
    view = view.copy()
    goal = view[..., 2]
    goal[goal == 2] = 0
    return view


class TrialWorlds:
    """Batch worlds of a few tasks stepped together, each world playing meta-episodes of
    `trials` episodes of its task; the rows of every world and agent, merged, for one learner."""

    def __init__(
        self,
        tasks: list[Task],
        worlds_each: int,
        trials: int,
        seed: int,
        settings: dict,
        overrides: dict,
        num_actions: int,
    ):
        self.trials, self.compass, self.num_actions = trials, settings["compass"], num_actions
        self.envs = [
            task.make_batch(worlds_each, seed=int(s), **overrides)
            for task, s in zip(tasks, np.random.SeedSequence(seed).generate_state(len(tasks)), strict=True)
        ]
        self.raw = [env.reset() for env in self.envs]
        self.W = worlds_each
        self.trial = [np.zeros(worlds_each, np.int64) for _ in self.envs]  # the running trial of each world
        self.fresh = [np.ones(worlds_each, bool) for _ in self.envs]  # meta-episode starts at the next act
        self.prev_action = [np.full((worlds_each, env.num_agents), -1) for env in self.envs]
        self.prev_reward = [np.zeros((worlds_each, env.num_agents), np.float32) for env in self.envs]
        self.finished: list[
            tuple[int, int, bool, int]
        ] = []  # (world, trial, success, length) of ended episodes
        self._obs: Observations | None = None

    @property
    def max_cycles(self) -> int:
        return max(env.scenario.max_cycles for env in self.envs)

    def _rows(self, states, raws) -> Observations:
        """Every agent of every world, world-major, group after group, as one set of rows."""
        parts = []
        for g, (env, state, raw) in enumerate(zip(self.envs, states, raws, strict=True)):
            rows = Observations.of_batch(env.scenario, state, raw, range(env.num_agents))
            mask = np.zeros((len(rows), self.num_actions), np.int8)
            mask[:, : rows.action_mask.shape[1]] = rows.action_mask
            view = rows.view if self.compass else hide_compass(rows.view)
            parts.append((view, mask, rows.world + g * self.W, rows.agent))
        view, mask, world, agent = (np.concatenate(p) for p in zip(*parts, strict=True))
        # state=None: the rows span several tasks' states; the learner reads views and masks only
        return Observations(self.envs[0].scenario, None, view, mask, world, agent)

    def observe(self) -> tuple[Observations, np.ndarray, np.ndarray]:
        """The rows to act on, which of them start a meta-episode, and their RL^2 context."""
        self._obs = self._rows([env.world for env in self.envs], self.raw)
        per_agent = [env.num_agents for env in self.envs]
        starts = np.concatenate([np.repeat(f, n) for f, n in zip(self.fresh, per_agent, strict=True)])
        trial_start = np.concatenate(
            [np.repeat(env.world.t == 0, n) for env, n in zip(self.envs, per_agent, strict=True)]
        )
        prev_action = np.concatenate([p.reshape(-1) for p in self.prev_action])
        prev_reward = np.concatenate([p.reshape(-1) for p in self.prev_reward])
        for fresh in self.fresh:
            fresh[:] = False
        context = rl2_context(prev_action, prev_reward, trial_start, self.num_actions)
        return self._obs, starts, context

    def step(self, actions: np.ndarray, cut: bool = False) -> Transition:
        """Step every world with the rows' actions; the learner's Transition. Only a
        meta-episode's end terminates a row; an agent that leaves its world before the trial
        ends is cut (bootstrapped), and with `cut` every running row is (a round's end)."""
        parts, states, raws, start = [], [], [], 0
        for g, env in enumerate(self.envs):
            n = self.W * env.num_agents
            mine = np.asarray(actions[start : start + n]).reshape(self.W, env.num_agents)
            start += n
            raw, reward, term, trunc, infos = env.step(mine)
            last_state, last = closing(env.world, raw, infos)
            states.append(last_state)
            raws.append(last)
            done = infos["done"]
            left = term | trunc
            ends = done & (self.trial[g] + 1 >= self.trials)
            row_term = left & ends[:, None]
            row_trunc = (left & ~done[:, None]) | (cut & ~row_term)
            parts.append((reward, row_term, row_trunc, infos["active"]))
            self._advance(g, mine, reward, infos)
            self.raw[g] = raw
        reward, term, trunc, active = (
            np.concatenate([p.reshape(-1) for p in part]) for part in zip(*parts, strict=True)
        )
        return Transition(
            self._obs, np.asarray(actions), reward, term, trunc, self._rows(states, raws), active
        )

    def _advance(self, g: int, actions: np.ndarray, reward: np.ndarray, infos: dict) -> None:
        """Trial counters, meta-episode starts and the previous action and reward of group g."""
        active = infos["active"]
        self.prev_action[g] = np.where(active, actions, self.prev_action[g])
        self.prev_reward[g] = np.where(active, reward, 0.0).astype(np.float32)
        done = np.flatnonzero(infos["done"])
        if len(done):
            for world, success, length in zip(done, infos["success"], infos["episode_length"], strict=True):
                self.finished.append(
                    (g * self.W + int(world), int(self.trial[g][world]), bool(success), int(length))
                )
        self.trial[g][done] += 1
        over = self.trial[g] >= self.trials
        self.trial[g][over] = 0
        self.fresh[g][over] = True
        self.prev_action[g][over] = -1
        self.prev_reward[g][over] = 0.0


def by_trial(finished: list[tuple], trials: int) -> list[float]:
    """Mean success of the episodes that were trial 1, 2, ... of their meta-episode."""
    out = []
    for k in range(trials):
        hits = [entry[2] for entry in finished if entry[1] == k]
        out.append(float(np.mean(hits)) if hits else float("nan"))
    return out


def train_rl2(
    family: str,
    steps: int,
    out: Path,
    *,
    seed: int = 0,
    trials: int = 3,
    worlds: int = 16,
    hp: dict | None = None,
    log: Callable[[str], object] = print,
) -> Path:
    """Meta-train a recurrent PPO on `worlds.tasks(family, "train", seed)`; each RL^2
    meta-episode spans `trials` episodes of one task with the core state carried across them.
    `steps` env steps in all (worlds x loop iterations). Writes the policy to `out` (a
    `.safetensors` path, or a folder that gets `rl2.safetensors`) and returns its path."""
    from agents.checkpoint import deterministic, make_learner

    if trials < 1 or worlds < 1 or steps < 1:
        raise ConfigError(f"rl2: trials, worlds and steps must be >= 1, got {trials}, {worlds}, {steps}")
    settings, overrides, hyper = split_hp(hp)
    groups = settings["groups"]
    if worlds % groups:
        raise ConfigError(f"rl2: worlds ({worlds}) must be a multiple of groups ({groups})")
    stream = task_stream(family, "train", seed)
    first = next(stream)
    scenario = first.make_scenario(**overrides)
    learner = make_learner("ppo", scenario, "cpu", seed=seed, **hyper)
    learner.config["rl2"] = {"family": family, "trials": trials, "settings": settings, "task": overrides}
    path = Path(out) if Path(out).suffix == ".safetensors" else Path(out) / CHECKPOINT
    done, rounds, pending = 0, 0, [first]
    with deterministic():
        while done < steps:
            tasks = pending + [next(stream) for _ in range(groups - len(pending))]
            pending = []
            round_seed = seed * 1_000_003 + rounds
            play = TrialWorlds(
                tasks, worlds // groups, trials, round_seed, settings, overrides, learner.num_actions
            )
            _check_views(play, learner)
            rollout = learner.hyper["rollout"]
            length = rollout * math.ceil(trials * play.max_cycles / rollout)
            stats: dict[str, list[float]] = {}
            for i in range(length):
                rows, starts, context = play.observe()
                actions = learner.act(rows, starts=starts, context=context)
                metrics = learner.learn(play.step(actions, cut=i == length - 1 or done + worlds >= steps))
                for key, value in (metrics or {}).items():
                    stats.setdefault(key, []).append(value)
                done += worlds
                if done >= steps:
                    break
            rounds += 1
            success = " ".join(f"{s:.2f}" for s in by_trial(play.finished, trials))
            losses = " ".join(
                f"{k} {np.mean(v):.3g}" for k, v in stats.items() if k in ("value_loss", "entropy")
            )
            log(
                f"rl2 round {rounds}: {done} steps, success by trial {success} ({losses}); "
                f"tasks {', '.join(t.label for t in tasks)}"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    return learner.save(path, buffers=False)


def _check_views(play: TrialWorlds, learner) -> None:
    for env in play.envs:
        v = env.scenario.view_size
        if (v, v, len(env.scenario.view_codes)) != learner.obs_shape or len(
            env.scenario.actions
        ) > learner.num_actions:
            raise ConfigError(
                f"rl2: task {env.scenario.name} has views or actions the policy does not take "
                f"(train on one family whose tasks share them)"
            )


def adapt_rl2(checkpoint: Path, task: Task, trials: int, episodes: int, seed: int = 0) -> list[float]:
    """Success rate after each trial 1..`trials` on `task` alone: `episodes` meta-episodes, one
    per batch world (worlds seeded from `seed`), the core state carried across the trials, no
    weight update. Actions are sampled from the policy with a Generator seeded by `seed`."""
    return adapt_trials(checkpoint, task, trials, episodes, seed)["success"]


def adapt_trials(
    checkpoint: Path, task: Task, trials: int, episodes: int, seed: int = 0
) -> dict[str, list[float]]:
    """`adapt_rl2`'s play, with each trial's mean episode `length` beside its `success`."""
    from agents.checkpoint import deterministic, load_learner, read_checkpoint

    if trials < 1 or episodes < 1:
        raise ConfigError(f"rl2: trials and episodes must be >= 1, got {trials}, {episodes}")
    config = read_checkpoint(checkpoint)[0]
    saved = config.get("rl2") or {}
    settings = SETTINGS | saved.get("settings", {})
    learner = load_learner(checkpoint, "cpu")
    learner.rng = np.random.default_rng(seed)
    play = TrialWorlds([task], episodes, trials, seed, settings, saved.get("task", {}), learner.num_actions)
    _check_views(play, learner)
    success, length = np.full((episodes, trials), np.nan), np.zeros((episodes, trials))
    with deterministic():
        while np.isnan(success).any():
            rows, starts, context = play.observe()
            play.step(learner.act(rows, starts=starts, context=context))
            for world, trial, ok, steps in play.finished:
                if np.isnan(success[world, trial]):  # the first meta-episode of each world only
                    success[world, trial], length[world, trial] = ok, steps
            play.finished.clear()
    return {"success": success.mean(0).tolist(), "length": length.mean(0).tolist()}
