"""Policy gradient: REINFORCE, A2C and PPO, one learner with three sets of defaults.

The learner collects `rollout` steps of every row, then computes advantages with GAE(lambda)
(bootstrapping from the value of a truncated episode's last observation and of the rollout's
last step, never past a termination), normalizes them, and runs `epochs` passes of
`minibatches` gradient steps on

    policy loss (PPO's clipped ratio when `clip` > 0)
    + vf_coef * value loss - ent_coef * entropy (+ continual-learning terms)

with illegal actions masked out of the logits. The presets:

- `ppo`: GAE 0.95, 64-step rollouts, 4 epochs of 4 minibatches, clip 0.2.
- `a2c`: GAE 0.95, 16-step rollouts, one gradient step per rollout, no clipping.
- `reinforce`: Monte Carlo returns (lambda = 1, bootstrapped only where a rollout cuts an
  episode) with a learned baseline, 256-step rollouts, one gradient step.

`centralized_critic=True` gives the value function its own network over the whole map
(`Observations.global_view()`, recoded for each row: who is itself, teammate or rival, and
where its goal is), read when the row acts; the policy still sees only its view.

`core="gru"|"lstm"` puts a recurrent core between the encoder and the heads, carried from step
to step and reset at each episode's start (`agents.recurrent`, which `make_learner` builds then).

`memory="last_move"` (the default) adds to the view a mark on the cell the agent came from
(`agents.memory`), so a memoryless policy can tell which way it was going; "none" leaves the
view as the world gives it (and is what checkpoints from before this option load with).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from agents.base import Observations, Thinking, Transition
from agents.continual import CONTINUAL_DEFAULTS, EWC, Reservoir, check_continual
from agents.learner import (
    Learner,
    load_module_state,
    load_optimizer_state,
    module_state,
    optimizer_state,
    sample,
    with_nan,
)
from agents.memory import check_memory, with_memory
from agents.nets import CriticNet, PolicyValueNet, masked
from agents.ppo_loss import gae, ppo_loss
from worlds.observe import NOBODY, RIVAL, SELF, TEAMMATE

COMMON = {
    "lr": 1e-3,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "rollout": 64,  # learn() calls per update
    "epochs": 4,
    "minibatches": 4,
    "clip": 0.2,  # PPO's ratio clip; 0 for the plain policy gradient
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "normalize_advantages": True,
    "encoder": "conv",
    "hidden": 256,
    "centralized_critic": False,
    "memory": "last_move",
    "core": "none",  # "gru" | "lstm": a recurrent core (agents.recurrent)
    "context": "none",  # "rl2": the core also reads the previous action and reward (agents.recurrent)
    **CONTINUAL_DEFAULTS,
}
PRESETS = {
    "ppo": COMMON,
    "a2c": COMMON | {"rollout": 16, "epochs": 1, "minibatches": 1, "clip": 0.0},
    "reinforce": COMMON | {"gae_lambda": 1.0, "rollout": 256, "epochs": 1, "minibatches": 1, "clip": 0.0},
}
KEEP = 512  # recent states kept for the Fisher estimate of EWC


class PolicyGradient(Learner):
    def __init__(self, scenario, seed: int = 0, device="cpu", algo: str = "ppo", **hyper):
        if algo not in PRESETS:
            raise ValueError(f"policy gradient algo must be one of {sorted(PRESETS)}, got {algo!r}")
        self.name, self.DEFAULTS = algo, PRESETS[algo]
        super().__init__(scenario, seed, device, **hyper)
        h = self.hyper
        self.continual = check_continual(algo, h)
        if h["rollout"] < 1 or h["epochs"] < 1 or h["minibatches"] < 1:
            raise ValueError(f"{algo}: rollout, epochs and minibatches must be >= 1")
        extra = check_memory(algo, h["memory"])
        self.input_shape = (*self.obs_shape[:2], self.obs_shape[2] + extra)  # the view and its memory
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net = self._make_net(extra).to(self.device)
            self.critic = CriticNet(h["hidden"]).to(self.device) if h["centralized_critic"] else None
        params = list(self.net.parameters()) + (list(self.critic.parameters()) if self.critic else [])
        self.optimizer = torch.optim.Adam(params, lr=h["lr"], eps=1e-5)
        self.buffer: dict[str, torch.Tensor] | None = None
        self.t = 0  # steps in the current rollout
        self._acted: tuple | None = None  # (obs, view, legal, logp_all, value, grid) of the last act
        self._next: tuple | None = None  # (view, grid) of the last learn()'s next_obs
        self.recent: dict[str, torch.Tensor] = {}
        self.memory = Reservoir(h["replay_size"]) if self.continual == "replay" else None
        self.ewc = EWC(h["ewc_lambda"], h["ewc_decay"]) if self.continual == "ewc" else None

    def _make_net(self, extra: int) -> torch.nn.Module:
        h = self.hyper
        if (h["core"], h["context"]) != ("none", "none"):
            raise ValueError(f"{self.name}: core={h['core']!r}, context={h['context']!r} need the "
                             "recurrent learner (agents.recurrent; make_learner builds it)")  # fmt: skip
        return PolicyValueNet(
            self.obs_shape[:2], self.num_actions, h["encoder"], h["hidden"], extra, self.codes
        )

    # -- acting ----------------------------------------------------------------------------------
    def _forward(self, view: torch.Tensor, legal: torch.Tensor, grid: torch.Tensor | None):
        logits, value = self.net(view)
        if self.critic is not None:
            value = self.critic(grid)
        return F.log_softmax(masked(logits, legal), -1), value

    def _evaluate(self, obs: Observations) -> tuple:
        legal = self.legal(obs)
        view = torch.as_tensor(with_memory(obs, self.hyper["memory"]), device=self.device)
        legal_t = torch.as_tensor(legal, device=self.device)
        grid = self.grid(obs) if self.critic is not None else None
        with torch.no_grad():
            logp_all, value = self._forward(view, legal_t, grid)
        return obs, view, legal_t, logp_all, value, grid

    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        self._acted = self._evaluate(obs)
        _, _, legal, logp_all, value, _ = self._acted
        probs = logp_all.exp().cpu().numpy()
        legal = legal.cpu().numpy()
        probs = np.where(legal, probs, 0.0)
        self._thinking = Thinking("probs", with_nan(probs, legal), {"value": value.cpu().numpy()})
        if explore:
            return sample(probs, self.rng)
        return np.where(legal, probs, -1.0).argmax(1).astype(np.int64)

    def behaviour(self) -> dict[str, np.ndarray]:
        """What the last `act` computed for its rows: the view it saw (with memory), the log
        probabilities of every action and the value (and the critic's map). A rollout worker's
        copy of this learner sends it along with the transition (`Transition.behaviour`)."""
        _, view, _, logp_all, value, grid = self._acted
        out = {"view": view.cpu().numpy(), "logp_all": logp_all.cpu().numpy(), "value": value.cpu().numpy()}
        if grid is not None:
            out["grid"] = grid.cpu().numpy()
        return out

    def _adopt(self, obs: Observations, behaviour: dict[str, np.ndarray]) -> tuple:
        """`_evaluate`'s result from a copy's `behaviour()` on the same rows and weights."""
        dev = self.device
        legal = torch.as_tensor(self.legal(obs), device=dev)
        got = {key: torch.as_tensor(value, device=dev) for key, value in behaviour.items()}
        return obs, got["view"], legal, got["logp_all"], got["value"], got.get("grid")

    def grid(self, obs: Observations) -> torch.Tensor:
        """Each row's map for the centralized critic, uint8[n, H, W, 3]: cell, who stands there
        seen from the row (nobody, itself, teammate, rival), 1 on the row's own goal."""
        g = obs.global_view()
        occupant = g[..., 1].astype(np.int64) - 1
        team = g[..., 2].astype(np.int64) - 1
        me = obs.agent[:, None, None]
        mine = np.asarray(obs.scenario.teams)[obs.agent][:, None, None]
        who = np.where(
            occupant < 0, NOBODY, np.where(occupant == me, SELF, np.where(team == mine, TEAMMATE, RIVAL))
        )
        goal = np.zeros(g.shape[:3], np.uint8)
        target = obs.state.goal[obs.world, obs.agent]
        rows = np.flatnonzero(target[:, 0] >= 0)
        goal[rows, target[rows, 0], target[rows, 1]] = 1
        out = np.stack([g[..., 0], who.astype(np.uint8), goal], -1)
        return torch.as_tensor(out, device=self.device)

    # -- experience ------------------------------------------------------------------------------
    def learn(self, tr: Transition) -> dict[str, float] | None:
        n = len(tr.action)
        acted = self._acted
        if tr.behaviour is not None:
            acted = self._adopt(tr.obs, tr.behaviour)  # a copy acted on these rows elsewhere
        elif acted is None or acted[0] is not tr.obs:
            acted = self._evaluate(tr.obs)  # act() saw other rows last (an evaluation, a resume)
        _, view, legal, logp_all, value, grid = acted
        metrics = None
        if self.buffer is not None and (self.buffer["action"].shape[1] != n or self._grid_changed(grid)):
            metrics = self._update() if self.t else None  # the rows changed: use what is there
            self.buffer = None
        if self.buffer is None:
            self.buffer = self._allocate(n, grid)
        b, t, dev = self.buffer, self.t, self.device
        active = torch.as_tensor(np.asarray(tr.active, bool), device=dev)
        term = torch.as_tensor(np.asarray(tr.terminated, bool), device=dev) & active
        trunc = torch.as_tensor(np.asarray(tr.truncated, bool), device=dev) & active
        b["view"][t], b["legal"][t], b["logp_all"][t], b["value"][t] = view, legal, logp_all, value
        b["action"][t] = torch.as_tensor(np.asarray(tr.action, np.int64), device=dev)
        b["reward"][t] = torch.as_tensor(np.asarray(tr.reward, np.float32), device=dev)
        b["active"][t], b["term"][t], b["trunc"][t] = active, term, trunc
        if grid is not None:
            b["grid"][t] = grid
        self._record(b, t, tr)
        b["boot"][t] = 0.0
        cut = torch.nonzero(trunc).squeeze(1)
        if len(cut):  # truncated rows bootstrap from their last observation
            b["boot"][t, cut] = self._values(tr.next_obs, cut, value)
        self._next = (tr.next_obs, value)
        self.t += 1
        self.steps += 1
        self.samples += int(active.sum())
        if self.t == self.hyper["rollout"]:
            metrics = self._update()
        return metrics

    def _record(self, buffer: dict[str, torch.Tensor], t: int, tr: Transition) -> None:
        """More of step t into the rollout buffer (the recurrent learner's core inputs)."""

    def _values(self, obs: Observations, rows: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
        """Values of some rows of `obs`. The centralized critic cannot see the map of a world
        that has been reset already; it uses the value of the step before instead."""
        if self.critic is not None:
            return fallback[rows]
        index = rows.cpu().numpy()
        view = obs.view if isinstance(obs, _Saved) else with_memory(obs, self.hyper["memory"])
        with torch.no_grad():
            _, value = self.net(torch.as_tensor(view[index], device=self.device))
        return value

    def _grid_changed(self, grid) -> bool:
        return grid is not None and tuple(self.buffer["grid"].shape[2:]) != tuple(grid.shape[1:])

    def _allocate(self, n: int, grid) -> dict[str, torch.Tensor]:
        T, A, dev = self.hyper["rollout"], self.num_actions, self.device
        buf = {
            "view": torch.zeros((T, n, *self.input_shape), dtype=torch.uint8, device=dev),
            "legal": torch.zeros((T, n, A), dtype=torch.bool, device=dev),
            "logp_all": torch.zeros((T, n, A), device=dev),
            "action": torch.zeros((T, n), dtype=torch.int64, device=dev),
        }
        for key in ("value", "reward", "boot"):
            buf[key] = torch.zeros((T, n), device=dev)
        for key in ("active", "term", "trunc"):
            buf[key] = torch.zeros((T, n), dtype=torch.bool, device=dev)
        if grid is not None:
            buf["grid"] = torch.zeros((T, *grid.shape), dtype=torch.uint8, device=dev)
        return buf

    def end_task(self, task: str) -> None:
        """Learn from the partial rollout, consolidate (EWC), and start the next task afresh."""
        super().end_task(task)
        if self.buffer is not None and self.t:
            self._update()
        self.buffer, self.t, self._acted, self._next = None, 0, None, None
        if self.ewc is not None and self.recent:
            view, legal = self.recent["view"], self.recent["legal"]

            def losses():
                for i in range(len(view)):
                    logits, _ = self.net(view[i : i + 1])
                    logp = F.log_softmax(masked(logits, legal[i : i + 1]), -1)[0]
                    a = sample(logp.detach().exp().cpu().numpy()[None], self.rng)[0]
                    yield -logp[a]  # the Fisher of the policy: actions drawn from itself

            self.ewc.consolidate(self.net, losses())

    # -- updates ---------------------------------------------------------------------------------
    def _advantages(self) -> tuple[torch.Tensor, torch.Tensor]:
        b, T, h = self.buffer, self.t, self.hyper
        last = self._last_values(torch.arange(b["action"].shape[1], device=self.device))
        parts = {k: b[k][:T] for k in ("reward", "value", "boot", "term", "trunc", "active")}
        adv = gae(**parts, last_value=last, gamma=h["gamma"], lam=h["gae_lambda"])
        return adv, adv + parts["value"]

    def _last_values(self, rows: torch.Tensor) -> torch.Tensor:
        """Values of the last learn()'s next_obs, which bootstrap the rollout's last step."""
        obs, fallback = self._next
        if self.critic is None:
            return self._values(obs, rows, fallback)
        grid = self._next_grid(obs)
        with torch.no_grad():
            return self.critic(grid.to(self.device))

    def _update(self) -> dict[str, float]:
        h, b, T = self.hyper, self.buffer, self.t
        adv, ret = self._advantages()
        valid = b["active"][:T].reshape(-1)
        flat = {k: v[:T].reshape(T * v.shape[1], *v.shape[2:])[valid] for k, v in b.items()}
        flat["adv"], flat["ret"] = adv.reshape(-1)[valid], ret.reshape(-1)[valid]
        self.t = 0
        count = len(flat["action"])
        if count == 0:
            return {}
        if h["normalize_advantages"] and count > 1:
            flat["adv"] = (flat["adv"] - flat["adv"].mean()) / (flat["adv"].std() + 1e-8)
        flat["old_logp"] = flat["logp_all"].gather(1, flat["action"][:, None]).squeeze(1)
        self._remember(flat)
        size = max(1, count // h["minibatches"])
        stats: dict[str, list[float]] = {}
        for _ in range(h["epochs"]):
            order = torch.as_tensor(self.rng.permutation(count), device=self.device)
            for start in range(0, count - size + 1, size):
                mb = {k: v[order[start : start + size]] for k, v in flat.items()}
                for key, value in self._step(mb).items():
                    stats.setdefault(key, []).append(value)
        out = {k: float(np.mean(v)) for k, v in stats.items()}
        var = float(flat["ret"].var()) if count > 1 else 0.0
        out["explained_variance"] = 1.0 - float((flat["ret"] - flat["value"]).var()) / var if var > 0 else 0.0
        return out

    def _step(self, mb: dict[str, torch.Tensor]) -> dict[str, float]:
        logp_all, value = self._forward(mb["view"], mb["legal"], mb.get("grid"))
        return self._descend(logp_all, value, mb)

    def _descend(self, logp_all: torch.Tensor, value: torch.Tensor, mb: dict[str, torch.Tensor]) -> dict:
        """One gradient step on the PPO loss of a minibatch (and continual-learning terms)."""
        h = self.hyper
        loss, parts = ppo_loss(logp_all, value, mb, h["clip"], h["vf_coef"], h["ent_coef"])
        stats = {}
        if self.memory is not None and self.tasks and len(self.memory):
            replay_loss = self._replay_loss(self.memory.sample(len(mb["action"]), self.rng))
            loss = loss + h["replay_coef"] * replay_loss
            stats["replay_loss"] = replay_loss.item()
        if self.ewc is not None and self.ewc.fisher:
            penalty = self.ewc.penalty(self.net)
            loss = loss + penalty
            stats["ewc_penalty"] = penalty.item()
        self.optimizer.zero_grad()
        loss.backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, h["max_grad_norm"])
        self.optimizer.step()
        return stats | {"loss": loss.item()} | parts

    def _remember(self, flat: dict[str, torch.Tensor]) -> None:
        """Keep states for continual learning: the reservoir (replay) and recent states (EWC)."""
        if self.memory is not None:
            keys = {"view": "view", "legal": "legal", "probs": "logp_all", "ret": "ret"}
            items = {k: flat[src].cpu().numpy() for k, src in keys.items()}
            items["probs"] = np.exp(items["probs"])
            self.memory.offer(items, self.rng)
        if self.ewc is not None:
            pick = torch.as_tensor(self.rng.permutation(len(flat["view"]))[:KEEP], device=self.device)
            self.recent = {"view": flat["view"][pick], "legal": flat["legal"][pick]}

    def _replay_loss(self, batch: dict[str, np.ndarray]) -> torch.Tensor:
        """Clone the stored behaviour: KL(old policy || new) plus the value towards old returns.
        (The centralized critic has no stored map, so only the policy is cloned then.)"""
        b = {k: torch.as_tensor(v, device=self.device) for k, v in batch.items()}
        logits, value = self.net(b["view"])
        logp = F.log_softmax(masked(logits, b["legal"]), -1)
        old = b["probs"]
        kl = (old * (torch.log(old.clamp_min(1e-8)) - logp)).where(b["legal"], 0.0).sum(-1).mean()
        if self.critic is not None:
            return kl
        return kl + 0.5 * ((value - b["ret"]) ** 2).mean()

    # -- saving ----------------------------------------------------------------------------------
    def state(self, buffers: bool = True):
        tensors, extras = super().state(buffers)
        tensors |= module_state(self.net, "net")
        if self.critic is not None:
            tensors |= module_state(self.critic, "critic")
        optim, extras["optimizer"] = optimizer_state(self.optimizer, "optim")
        tensors |= optim
        if self.ewc is not None:
            tensors |= self.ewc.state("ewc")
            tensors |= {f"recent.{k}": v for k, v in self.recent.items()}
        extras["t"] = self.t if buffers else 0
        if buffers and self.buffer is not None and self.t:
            tensors |= {f"buffer.{k}": v for k, v in self.buffer.items()}
            tensors |= self._next_state()
        if buffers and self.memory is not None:
            memory, extras["memory"] = self.memory.state("memory")
            tensors |= memory
        return tensors, extras

    def _next_state(self) -> dict[str, torch.Tensor]:
        """The last next_obs, which bootstraps the partial rollout (view, mask, and the value
        of the step before for the centralized critic)."""
        obs, fallback = self._next
        view = obs.view if isinstance(obs, _Saved) else with_memory(obs, self.hyper["memory"])
        out = {"next.view": torch.as_tensor(view), "next.fallback": fallback}
        if self.critic is not None:
            out["next.grid"] = self._next_grid(obs)
        return out

    def _next_grid(self, obs) -> torch.Tensor:
        return obs.saved_grid if isinstance(obs, _Saved) else self.grid(obs)

    def load_state(self, tensors, extras) -> None:
        super().load_state(tensors, extras)
        load_module_state(self.net, "net", tensors)
        if self.critic is not None:
            load_module_state(self.critic, "critic", tensors)
        load_optimizer_state(self.optimizer, "optim", tensors, extras["optimizer"])
        if self.ewc is not None:
            self.ewc.load_state("ewc", tensors, self.device)
            self.recent = {k[7:]: v.to(self.device) for k, v in tensors.items() if k.startswith("recent.")}
        self.t = int(extras["t"])
        self.buffer, self._next, self._acted = None, None, None
        if self.t:
            self.buffer = {k[7:]: v.to(self.device) for k, v in tensors.items() if k.startswith("buffer.")}
            self._next = (_Saved(tensors), tensors["next.fallback"].to(self.device))
        if self.memory is not None and "memory" in extras:
            self.memory.load_state("memory", tensors, extras["memory"])


class _Saved:
    """A stand-in for the saved last next_obs: its view (with memory), and its critic map
    when saved."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        self.view = tensors["next.view"].cpu().numpy()
        self.saved_grid = tensors.get("next.grid")
