"""Tabular Q-learning over hashed observations, for small worlds.

A state is the view's bytes plus the action mask, hashed to 64 bits by a fixed random linear
hash (two different observations share a key with probability about 2^-64). The table grows
as new states appear. Updates are one-step Q-learning,
`Q(s, a) += lr * (r + gamma * max_a' Q(s', a') - Q(s, a))`, with no bootstrap past a
termination; actions are epsilon-greedy over legal actions with ties broken at random.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.base import Observations, Thinking, Transition
from agents.learner import Learner, epsilon_greedy, with_nan


class TabularQ(Learner):
    name = "tabular_q"
    DEFAULTS = {
        "lr": 0.5,
        "gamma": 0.9,
        "epsilon_start": 1.0,
        "epsilon_end": 0.05,
        "epsilon_steps": 20_000,  # agent-steps over which epsilon falls linearly
        "initial_q": 0.0,
        "continual": "none",
    }

    def __init__(self, scenario, seed: int = 0, device="cpu", **hyper):
        super().__init__(scenario, seed, device, **hyper)
        if self.hyper["continual"] != "none":
            raise ValueError("tabular_q: continual must be 'none' (a table does not share weights)")
        width = int(np.prod(self.obs_shape)) + self.num_actions
        # A fixed hash (not the learner's seed), so keys mean the same in every checkpoint.
        self._coef = np.random.default_rng(0x51ED).integers(1, 2**63, width, dtype=np.uint64) | np.uint64(1)
        self.keys = np.zeros(1024, dtype=np.uint64)
        self.q = np.zeros((1024, self.num_actions), dtype=np.float32)
        self.size = 0
        self._index: dict[int, int] = {}

    @property
    def epsilon(self) -> float:
        h = self.hyper
        frac = min(1.0, self.samples / max(1, h["epsilon_steps"]))
        return h["epsilon_start"] + frac * (h["epsilon_end"] - h["epsilon_start"])

    def keys_of(self, view: np.ndarray, legal: np.ndarray) -> np.ndarray:
        """The 64-bit key of every row's observation (view bytes and mask), uint64[n]."""
        flat = np.concatenate([view.reshape(len(legal), -1), legal], axis=1).astype(np.uint64)
        return (flat * self._coef).sum(1)  # wraps modulo 2^64

    def rows(self, keys: np.ndarray, insert: bool) -> np.ndarray:
        """Table rows of `keys`; -1 for unseen keys unless `insert` adds them."""
        out = np.empty(len(keys), dtype=np.int64)
        for k, key in enumerate(keys.tolist()):
            row = self._index.get(key, -1)
            if row < 0 and insert:
                row = self._add(key)
            out[k] = row
        return out

    def _add(self, key: int) -> int:
        if self.size == len(self.keys):
            self.keys = np.concatenate([self.keys, np.zeros_like(self.keys)])
            self.q = np.concatenate([self.q, np.zeros_like(self.q)])
        row = self.size
        self.keys[row] = key
        self.q[row] = self.hyper["initial_q"]
        self._index[key] = row
        self.size += 1
        return row

    def values(self, rows: np.ndarray) -> np.ndarray:
        q = self.q[np.maximum(rows, 0)]
        return np.where((rows >= 0)[:, None], q, np.float32(self.hyper["initial_q"]))

    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        legal = self.legal(obs)
        q = self.values(self.rows(self.keys_of(obs.view, legal), insert=False))
        eps = self.epsilon if explore else 0.0
        self._thinking = Thinking("q", with_nan(q, legal), {"epsilon": eps})
        return epsilon_greedy(q, legal, eps, self.rng)

    def learn(self, tr: Transition) -> dict[str, float] | None:
        self.steps += 1
        act = np.flatnonzero(tr.active)
        if not len(act):
            return None
        h = self.hyper
        legal = self.legal(tr.obs)[act]
        next_legal = self.legal(tr.next_obs)[act]
        rows = self.rows(self.keys_of(tr.obs.view[act], legal), insert=True)
        next_rows = self.rows(self.keys_of(tr.next_obs.view[act], next_legal), insert=False)
        next_q = np.where(next_legal, self.values(next_rows), -np.inf)
        bootstrap = np.where(np.asarray(tr.terminated)[act], 0.0, next_q.max(1))
        target = np.asarray(tr.reward, np.float32)[act] + h["gamma"] * bootstrap
        action = np.asarray(tr.action)[act]
        error = target - self.q[rows, action]
        self.q[rows, action] += h["lr"] * error
        self.samples += len(act)
        return {"td_error": float(np.abs(error).mean()), "epsilon": self.epsilon, "states": float(self.size)}

    def state(self, buffers: bool = True):
        tensors, extras = super().state(buffers)
        tensors["table.keys"] = torch.from_numpy(self.keys[: self.size].view(np.int64).copy())
        tensors["table.q"] = torch.from_numpy(self.q[: self.size].copy())
        return tensors, extras

    def load_state(self, tensors, extras) -> None:
        super().load_state(tensors, extras)
        keys = tensors["table.keys"].cpu().numpy().view(np.uint64)
        q = tensors["table.q"].cpu().numpy()
        if q.ndim != 2 or q.shape != (len(keys), self.num_actions):
            raise ValueError(f"table of shape {tuple(q.shape)} does not fit {self.num_actions} actions")
        self.size = len(keys)
        capacity = max(1024, 1 << int(np.ceil(np.log2(max(self.size, 1)))))
        self.keys = np.zeros(capacity, dtype=np.uint64)
        self.q = np.zeros((capacity, self.num_actions), dtype=np.float32)
        self.keys[: self.size] = keys
        self.q[: self.size] = q
        self._index = {key: row for row, key in enumerate(keys.tolist())}
