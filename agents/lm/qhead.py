"""Q-learning on a language model: a Q head over the actions on the LM's hidden state.

    Q(s, a) = prior_coef * log pi_LM(a | s) + A_theta(h(s))[a]

`log pi_LM` is the LM policy's log-probability of each legal action (the prior), `h(s)` the
LM's final hidden state at the last prompt token, and `A_theta` a small MLP, the learned
advantage. The LM itself stays frozen: it is the feature extractor and the prior, so replay can
hold each state as its hidden vector and prior (a few hundred bytes) and updates cost an MLP
pass, not an LM pass. The head learns by double DQN (the online head picks the next action, a
target copy, synced every `target_every` updates, values it) with Huber loss from a uniform
replay buffer, acting epsilon-greedy (epsilon decays linearly over `epsilon_steps` steps). Its
input is standardized with the mean and spread of the replayed hidden states, refreshed at each
target sync.

A state's features are computed once, when the row acts; the transition is completed with the
next step's act (or, for rows whose episode was cut, from their last observation).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from agents.base import Observations, Thinking, Transition
from agents.learner import (
    Learner,
    epsilon_greedy,
    load_optimizer_state,
    optimizer_state,
    with_nan,
)
from agents.lm.learning import check_actions, describe, load_model_tensors, model_tensors, rows, seat
from agents.nets import masked


class AdvantageHead(torch.nn.Module):
    """An MLP on the hidden state, standardized by statistics of the replayed states (an LM's
    hidden states differ little from state to state next to their common part)."""

    def __init__(self, width: int, num_actions: int, hidden: int = 128):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(width, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, num_actions)
        )
        torch.nn.init.zeros_(self.net[2].weight)  # start from the prior alone
        torch.nn.init.zeros_(self.net[2].bias)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))

    def fit(self, hidden: torch.Tensor) -> None:
        self.mean.copy_(hidden.mean(0))
        self.std.copy_(hidden.std(0) + 1e-6)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.net((hidden - self.mean) / self.std)


class LMQ(Learner):
    name = "lm_q"
    DEFAULTS = {
        "model": "default",
        "lr": 1e-3,
        "gamma": 0.99,
        "prior_coef": 0.1,
        "buffer_size": 50_000,
        "batch_size": 128,
        "learning_starts": 256,  # samples in replay before the first update
        "train_every": 1,  # learn() calls between updates
        "target_every": 100,  # updates between target syncs
        "epsilon_start": 0.5,
        "epsilon_end": 0.05,
        "epsilon_steps": 2_000,
        "head_hidden": 128,
        "temperature": 1.0,
        "normalize": "sum",
    }

    def __init__(self, scenario, seed: int = 0, device="cpu", lm=None, tokenizer=None, **hyper):
        """`lm` and `tokenizer`: a model object to use instead of loading `model`."""
        super().__init__(scenario, seed, device, **hyper)
        h = self.hyper
        self.seat = seat(
            scenario, seed, self.device, h["model"], lm, tokenizer,
            normalize=h["normalize"], temperature=h["temperature"],
        )  # fmt: skip
        self.model = self.seat.model.eval().requires_grad_(False)
        self.config["lm"] = describe(self.model, self.seat.tokenizer)
        width = self.model.config.get_text_config().hidden_size
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.head = AdvantageHead(width, self.num_actions, h["head_hidden"]).to(self.device)
        self.target = copy.deepcopy(self.head).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.head.parameters(), lr=h["lr"])
        A = self.num_actions
        size = h["buffer_size"]
        self.replay = {
            "h": np.zeros((size, width), np.float32),
            "prior": np.zeros((size, A), np.float32),
            "action": np.zeros(size, np.int64),
            "reward": np.zeros(size, np.float32),
            "term": np.zeros(size, bool),
            "h2": np.zeros((size, width), np.float32),
            "prior2": np.zeros((size, A), np.float32),
            "legal2": np.zeros((size, A), bool),
        }
        self.filled = self.cursor = self.updates = 0
        self._acted: tuple | None = None
        self._pending: dict | None = None  # transitions waiting for their next state's features

    # -- features --------------------------------------------------------------------------------
    def features(self, obs: Observations):
        """(hidden float32[n, d], prior log-probs float32[n, A] with -inf-free masking, legal)."""
        legal = self.legal(obs)
        check_actions(self.seat.scorer, obs)
        prompts = self.seat.prompts(obs)
        with torch.no_grad():
            out = self.scorer_out(prompts)
        logits = torch.zeros(len(prompts), self.num_actions, device=self.device)
        logits[:, : out.scores.shape[1]] = out.scores / self.hyper["temperature"]
        legal_t = torch.as_tensor(legal, device=self.device)
        prior = F.log_softmax(masked(logits, legal_t), -1).where(legal_t, 0.0)
        return out.hidden.float(), prior, legal

    def scorer_out(self, prompts):
        return self.seat.scorer.score(prompts, hidden=True)

    def q_values(self, hidden: torch.Tensor, prior: torch.Tensor, head=None) -> torch.Tensor:
        return self.hyper["prior_coef"] * prior + (head or self.head)(hidden)

    # -- acting ----------------------------------------------------------------------------------
    def epsilon(self) -> float:
        h = self.hyper
        frac = min(1.0, self.steps / max(1, h["epsilon_steps"]))
        return h["epsilon_start"] + frac * (h["epsilon_end"] - h["epsilon_start"])

    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        hidden, prior, legal = self.features(obs)
        with torch.no_grad():
            q = self.q_values(hidden, prior).cpu().numpy()
        action = epsilon_greedy(q, legal, self.epsilon() if explore else 0.0, self.rng)
        self.seat.remember(obs, action)
        self._acted = (obs, hidden.cpu().numpy(), prior.cpu().numpy(), legal)
        self._thinking = Thinking("q", with_nan(q, legal), {"prior": with_nan(prior.cpu().numpy(), legal)})
        return action

    # -- experience ------------------------------------------------------------------------------
    def learn(self, tr: Transition) -> dict[str, float] | None:
        acted = self._acted
        if acted is None or acted[0] is not tr.obs:
            hidden, prior, legal = self.features(tr.obs)
            acted = (tr.obs, hidden.cpu().numpy(), prior.cpu().numpy(), legal)
        _, hidden, prior, legal = acted
        if self._pending is not None:  # this step's state is the next state of the last one
            self._complete(self._pending, hidden, prior, legal)
        active = np.asarray(tr.active, bool)
        term = np.asarray(tr.terminated, bool) & active
        trunc = np.asarray(tr.truncated, bool) & active & ~term
        step = {
            "h": hidden, "prior": prior, "action": np.asarray(tr.action, np.int64),
            "reward": np.asarray(tr.reward, np.float32), "term": term, "active": active,
        }  # fmt: skip
        ended = np.flatnonzero(term | trunc)
        going = active.copy()
        going[ended] = False
        if len(ended):  # rows whose next state is their last observation, not the next act
            h2, p2, l2 = np.zeros_like(hidden[ended]), np.zeros_like(prior[ended]), legal[ended].copy()
            cut = np.flatnonzero(trunc[ended])
            if len(cut):
                fh, fp, fl = self.features(rows(tr.next_obs, ended[cut]))
                h2[cut], p2[cut], l2[cut] = fh.cpu().numpy(), fp.cpu().numpy(), fl
            self._store({k: v[ended] for k, v in step.items()}, h2, p2, l2)
        self._pending = {k: v[going] for k, v in step.items()} | {"rows": np.flatnonzero(going)}
        self.steps += 1
        self.samples += int(active.sum())
        h = self.hyper
        if self.filled >= h["learning_starts"] and self.steps % h["train_every"] == 0:
            return self._update()
        return None

    def _complete(self, pending: dict, hidden, prior, legal) -> None:
        idx = pending.pop("rows")
        if len(idx) and len(hidden) > idx.max():
            self._store(pending, hidden[idx], prior[idx], legal[idx])

    def _store(self, step: dict, h2, p2, l2) -> None:
        n = len(step["action"])
        size = len(self.replay["action"])
        slots = (self.cursor + np.arange(n)) % size
        for key in ("h", "prior", "action", "reward", "term"):
            self.replay[key][slots] = step[key]
        self.replay["h2"][slots], self.replay["prior2"][slots], self.replay["legal2"][slots] = h2, p2, l2
        self.cursor = int((self.cursor + n) % size)
        self.filled = min(size, self.filled + n)

    def end_task(self, task: str) -> None:
        super().end_task(task)
        self._pending = self._acted = None

    # -- updates ---------------------------------------------------------------------------------
    def _update(self) -> dict[str, float]:
        h = self.hyper
        if self.updates % h["target_every"] == 0:  # re-standardize, then sync the target
            states = torch.as_tensor(self.replay["h"][: self.filled], device=self.device)
            self.head.fit(states)
            self.target.load_state_dict(self.head.state_dict())
        pick = self.rng.integers(0, self.filled, size=min(h["batch_size"], self.filled))
        b = {k: torch.as_tensor(v[pick], device=self.device) for k, v in self.replay.items()}
        q = self.q_values(b["h"], b["prior"]).gather(1, b["action"][:, None]).squeeze(1)
        with torch.no_grad():
            online = masked(self.q_values(b["h2"], b["prior2"]), b["legal2"])
            best = online.argmax(1, keepdim=True)
            value = self.q_values(b["h2"], b["prior2"], self.target).gather(1, best).squeeze(1)
            target = b["reward"] + h["gamma"] * value * ~b["term"]
        loss = F.smooth_l1_loss(q, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.head.parameters(), 10.0)
        self.optimizer.step()
        self.updates += 1
        return {"loss": loss.item(), "q": float(q.detach().mean()), "epsilon": self.epsilon()}

    # -- saving ----------------------------------------------------------------------------------
    def state(self, buffers: bool = True):
        tensors, extras = super().state(buffers)
        tensors |= model_tensors(self.model, "lm")
        tensors |= {f"head.{k}": v for k, v in self.head.state_dict().items()}
        tensors |= {f"target.{k}": v for k, v in self.target.state_dict().items()}
        optim, extras["optimizer"] = optimizer_state(self.optimizer, "optim")
        tensors |= optim
        extras |= {"updates": self.updates, "filled": 0, "cursor": 0}
        if buffers and self.filled:
            tensors |= {f"replay.{k}": torch.as_tensor(v[: self.filled]) for k, v in self.replay.items()}
            extras |= {"filled": self.filled, "cursor": self.cursor}
        if buffers and self._pending is not None:  # the last step, still waiting for its next state
            tensors |= {f"pending.{k}": torch.as_tensor(v) for k, v in self._pending.items()}
        return tensors, extras

    def load_state(self, tensors, extras) -> None:
        super().load_state(tensors, extras)
        load_model_tensors(self.model, tensors, "lm")
        self.head.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
        self.target.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("target.")})
        load_optimizer_state(self.optimizer, "optim", tensors, extras["optimizer"])
        self.updates, self.filled, self.cursor = extras["updates"], extras["filled"], extras["cursor"]
        for key, store in self.replay.items():
            if f"replay.{key}" in tensors:
                store[: self.filled] = tensors[f"replay.{key}"].cpu().numpy()
        self.seat.scorer.clear_cache()
        pending = {k[8:]: v.cpu().numpy() for k, v in tensors.items() if k.startswith("pending.")}
        self._pending, self._acted = pending or None, None
