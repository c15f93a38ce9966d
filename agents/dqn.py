"""Deep Q-learning: double DQN with a target network, replay, n-step returns, epsilon-greedy.

Experience flows row by row through an n-step window: a step's transition enters the replay
buffer once n later steps are known, or as soon as its episode ends (then with the partial
return and no bootstrap past a termination; a truncated episode bootstraps from its last
observation). The target of a transition is
`G + gamma^k * Q_target(s', argmax_a' Q(s', a'))` over legal a' (double DQN), with a Huber loss.
Every `train_every` learn calls (once `learning_starts` transitions are stored) it runs
`gradient_steps` updates of `batch_size`; the target network copies the online one every
`target_every` updates. Illegal actions are never chosen nor used in a max.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from agents.base import Observations, Thinking, Transition
from agents.continual import CONTINUAL_DEFAULTS, EWC, Reservoir, check_continual
from agents.learner import (
    Learner,
    epsilon_greedy,
    from_numpy,
    load_module_state,
    load_optimizer_state,
    module_state,
    optimizer_state,
    to_numpy,
    with_nan,
)
from agents.nets import QNet, masked

FIELDS = ("view", "legal", "action", "ret", "discount", "next_view", "next_legal")


class DQN(Learner):
    name = "dqn"
    DEFAULTS = {
        "lr": 5e-4,
        "gamma": 0.99,
        "n_step": 3,
        "batch_size": 128,
        "buffer_size": 50_000,
        "learning_starts": 1_000,  # transitions stored before the first update
        "train_every": 1,  # learn() calls between updates
        "gradient_steps": 1,
        "target_every": 250,  # updates between target-network copies
        "epsilon_start": 1.0,
        "epsilon_end": 0.05,
        "epsilon_steps": 20_000,  # agent-steps over which epsilon falls linearly
        "double": True,
        "max_grad_norm": 10.0,
        "encoder": "conv",
        "hidden": 128,
        **CONTINUAL_DEFAULTS,
    }

    def __init__(self, scenario, seed: int = 0, device="cpu", **hyper):
        super().__init__(scenario, seed, device, **hyper)
        h = self.hyper
        self.continual = check_continual(self.name, h)
        if h["n_step"] < 1 or h["batch_size"] < 1 or h["buffer_size"] < h["batch_size"]:
            raise ValueError(f"dqn: need n_step >= 1 and buffer_size >= batch_size >= 1, got {h}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = QNet(self.obs_shape[:2], self.num_actions, h["encoder"], h["hidden"], codes=self.codes)
            self.net = net.to(self.device)
        self.target = copy.deepcopy(self.net)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=h["lr"])
        self.updates = 0
        self.replay = Ring(h["buffer_size"])
        self.window = None  # the n-step window, per row; allocated on the first learn()
        self.memory = Reservoir(h["replay_size"]) if self.continual == "replay" else None
        self.ewc = EWC(h["ewc_lambda"], h["ewc_decay"]) if self.continual == "ewc" else None

    @property
    def epsilon(self) -> float:
        h = self.hyper
        frac = min(1.0, self.samples / max(1, h["epsilon_steps"]))
        return h["epsilon_start"] + frac * (h["epsilon_end"] - h["epsilon_start"])

    def q_values(self, view: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.net(torch.as_tensor(view, device=self.device)).cpu().numpy()

    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        legal = self.legal(obs)
        q = self.q_values(obs.view)
        eps = self.epsilon if explore else 0.0
        self._thinking = Thinking("q", with_nan(q, legal), {"epsilon": eps})
        return epsilon_greedy(q, legal, eps, self.rng)

    # -- experience ------------------------------------------------------------------------------
    def learn(self, tr: Transition) -> dict[str, float] | None:
        n = len(tr.action)
        if self.window is not None and self.window.rows != n:
            self._flush()  # the rows changed (a new task): close the old rows' windows
        if self.window is None:
            self.window = Window(self.hyper["n_step"], n, self.obs_shape, self.num_actions)
        active = np.asarray(tr.active, bool)
        emitted = self.window.push(
            self.hyper["gamma"],
            tr.obs.view,
            self.legal(tr.obs),
            np.asarray(tr.action, np.int64),
            np.asarray(tr.reward, np.float32),
            np.asarray(tr.terminated, bool) & active,
            np.asarray(tr.truncated, bool) & active,
            active,
            tr.next_obs.view,
            self.legal(tr.next_obs),
        )
        self._store(emitted)
        self.steps += 1
        self.samples += int(active.sum())
        h = self.hyper
        if len(self.replay) < max(h["learning_starts"], h["batch_size"]) or self.steps % h["train_every"]:
            return None
        metrics = [self._update() for _ in range(h["gradient_steps"])]
        return {k: float(np.mean([m[k] for m in metrics])) for k in metrics[0]} | {"epsilon": self.epsilon}

    def _store(self, items: dict[str, np.ndarray]) -> None:
        self.replay.add(items)
        if self.memory is not None:
            self.memory.offer(items, self.rng)

    def _flush(self) -> None:
        if self.window is not None:
            self._store(self.window.flush(self.hyper["gamma"]))
        self.window = None

    def end_task(self, task: str) -> None:
        """Close open n-step windows, consolidate (EWC), then start the next task with an empty
        replay buffer (so `continual="none"` is plain fine-tuning; replay keeps its reservoir)."""
        super().end_task(task)
        self._flush()
        if self.ewc is not None and len(self.replay):
            # Q as the mean of a unit Gaussian: its Fisher is E[(dQ(s, a)/dw)^2], whatever the targets.
            batch = self._tensors(self.replay.sample(self.hyper["ewc_samples"], self.rng))
            view, action = batch["view"], batch["action"]
            outputs = (self.net(view[i : i + 1])[0, action[i]] for i in range(len(action)))
            self.ewc.consolidate(self.net, outputs)
        self.replay.clear()

    # -- updates ---------------------------------------------------------------------------------
    def _tensors(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {k: torch.as_tensor(v, device=self.device) for k, v in batch.items()}

    def _td_loss(self, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.net(b["view"]).gather(1, b["action"][:, None]).squeeze(1)
        with torch.no_grad():
            next_target = masked(self.target(b["next_view"]), b["next_legal"], -torch.inf)
            if self.hyper["double"]:
                choice = masked(self.net(b["next_view"]), b["next_legal"], -torch.inf).argmax(1)
                next_q = next_target.gather(1, choice[:, None]).squeeze(1)
            else:
                next_q = next_target.max(1).values
            target = b["ret"] + torch.where(b["discount"] > 0, b["discount"] * next_q, 0.0)
        return F.smooth_l1_loss(q, target), q

    def _update(self) -> dict[str, float]:
        h = self.hyper
        loss, q = self._td_loss(self._tensors(self.replay.sample(h["batch_size"], self.rng)))
        total, stats = loss, {}
        if self.memory is not None and self.tasks and len(self.memory):
            replay_loss, _ = self._td_loss(self._tensors(self.memory.sample(h["batch_size"], self.rng)))
            total = total + h["replay_coef"] * replay_loss
            stats["replay_loss"] = replay_loss.item()
        if self.ewc is not None and self.ewc.fisher:
            penalty = self.ewc.penalty(self.net)
            total = total + penalty
            stats["ewc_penalty"] = penalty.item()
        self.optimizer.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), h["max_grad_norm"])
        self.optimizer.step()
        self.updates += 1
        if self.updates % h["target_every"] == 0:
            self.target.load_state_dict(self.net.state_dict())
        return stats | {"loss": loss.item(), "q_mean": q.mean().item()}

    # -- saving ----------------------------------------------------------------------------------
    def state(self, buffers: bool = True):
        tensors, extras = super().state(buffers)
        tensors |= module_state(self.net, "net") | module_state(self.target, "target")
        optim, extras["optimizer"] = optimizer_state(self.optimizer, "optim")
        tensors |= optim
        extras["updates"] = self.updates
        if self.ewc is not None:
            tensors |= self.ewc.state("ewc")
        if buffers:
            tensors |= from_numpy(self.replay.contents(), "replay")
            if self.window is not None:
                tensors |= from_numpy(self.window.arrays(), "window")
                extras["window"] = {"rows": self.window.rows, "t": self.window.t}
            if self.memory is not None:
                memory, extras["memory"] = self.memory.state("memory")
                tensors |= memory
        return tensors, extras

    def load_state(self, tensors, extras) -> None:
        super().load_state(tensors, extras)
        load_module_state(self.net, "net", tensors)
        load_module_state(self.target, "target", tensors)
        load_optimizer_state(self.optimizer, "optim", tensors, extras["optimizer"])
        self.updates = int(extras["updates"])
        if self.ewc is not None:
            self.ewc.load_state("ewc", tensors, self.device)
        self.replay.clear()
        self.replay.add(to_numpy(tensors, "replay"))
        self.window = None
        if "window" in extras:
            w = extras["window"]
            self.window = Window(self.hyper["n_step"], w["rows"], self.obs_shape, self.num_actions)
            self.window.load(to_numpy(tensors, "window"), w["t"])
        if self.memory is not None and "memory" in extras:
            self.memory.load_state("memory", tensors, extras["memory"])


class Ring:
    """The replay buffer: the last `capacity` transitions, sampled uniformly."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.data: dict[str, np.ndarray] | None = None
        self.size = 0
        self.next = 0  # where the next transition goes

    def __len__(self) -> int:
        return self.size

    def clear(self) -> None:
        self.size = self.next = 0

    def add(self, items: dict[str, np.ndarray]) -> None:
        n = len(items["action"]) if items else 0
        if n == 0:
            return
        if n > self.capacity:
            items, n = {k: v[-self.capacity :] for k, v in items.items()}, self.capacity
        if self.data is None:
            self.data = {k: np.zeros((self.capacity, *v.shape[1:]), v.dtype) for k, v in items.items()}
        slots = (self.next + np.arange(n)) % self.capacity
        for key, value in items.items():
            self.data[key][slots] = value
        self.next = (self.next + n) % self.capacity
        self.size = min(self.capacity, self.size + n)

    def sample(self, k: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        index = rng.integers(0, self.size, k)
        return {key: value[index] for key, value in self.data.items()}

    def contents(self) -> dict[str, np.ndarray]:
        """The stored transitions, oldest first."""
        if self.data is None or not self.size:
            return {}
        order = (self.next - self.size + np.arange(self.size)) % self.capacity
        return {key: value[order] for key, value in self.data.items()}


class Window:
    """The last n steps of every row, turned into n-step transitions as they complete."""

    def __init__(self, n: int, rows: int, obs_shape: tuple, num_actions: int):
        self.n, self.rows, self.t = n, rows, 0
        self.view = np.zeros((n, rows, *obs_shape), np.uint8)
        self.legal = np.zeros((n, rows, num_actions), bool)
        self.action = np.zeros((n, rows), np.int64)
        self.reward = np.zeros((n, rows), np.float32)
        self.active = np.zeros((n, rows), bool)  # the slot holds a step this row acted in
        self.ended = np.zeros((n, rows), bool)
        self.next_view = np.zeros((rows, *obs_shape), np.uint8)  # after the newest step
        self.next_legal = np.zeros((rows, num_actions), bool)
        self.next_terminated = np.zeros(rows, bool)

    def push(self, gamma, view, legal, action, reward, terminated, truncated, active, next_view, next_legal):
        """Add one step; return the transitions that are complete now."""
        s = self.t % self.n
        self.view[s], self.legal[s], self.action[s], self.reward[s] = view, legal, action, reward
        self.active[s], self.ended[s] = active, terminated | truncated
        self.next_view[:], self.next_legal[:], self.next_terminated[:] = next_view, next_legal, terminated
        self.t += 1
        return self._emit(gamma, self.ended[s])

    def flush(self, gamma) -> dict[str, np.ndarray]:
        """Every transition still waiting, bootstrapped from the newest observation."""
        items = self._emit(gamma, np.ones(self.rows, bool), pending_only=True)
        self.active[:] = False
        return items

    def _emit(self, gamma, close: np.ndarray, pending_only: bool = False) -> dict[str, np.ndarray]:
        """Transitions starting `age` steps before the newest one, for each age: those whose
        window is full, or whose row closes now (`close`), and whose episode has not ended
        in between (those were emitted when it ended)."""
        newest = (self.t - 1) % self.n
        ret = np.zeros(self.rows, np.float32)
        clear = np.ones(self.rows, bool)  # no episode end strictly after the start
        parts = []
        for age in range(min(self.n, self.t)):
            s = (self.t - 1 - age) % self.n
            if age:
                clear &= ~self.ended[s]
            ret = self.reward[s] + gamma * ret
            due = close | (age == self.n - 1)
            if pending_only:  # already emitted: full windows and rows that ended
                due = close & (age < self.n - 1) & ~self.ended[newest]
            rows = np.flatnonzero(self.active[s] & clear & due)
            if len(rows):
                discount = np.where(self.next_terminated[rows], 0.0, gamma ** (age + 1))
                parts.append(
                    {
                        "view": self.view[s, rows],
                        "legal": self.legal[s, rows],
                        "action": self.action[s, rows],
                        "ret": ret[rows],
                        "discount": discount.astype(np.float32),
                        "next_view": self.next_view[rows],
                        "next_legal": self.next_legal[rows],
                    }
                )
        if not parts:
            return {}
        return {key: np.concatenate([p[key] for p in parts]) for key in FIELDS}

    def arrays(self) -> dict[str, np.ndarray]:
        names = ("view", "legal", "action", "reward", "active", "ended", "next_view", "next_legal")
        return {k: getattr(self, k) for k in (*names, "next_terminated")}

    def load(self, arrays: dict[str, np.ndarray], t: int) -> None:
        for key, value in arrays.items():
            getattr(self, key)[...] = value
        self.t = t
