"""Recurrent policy gradient: REINFORCE/A2C/PPO with a GRU or LSTM core (`core="gru"|"lstm"`).

The view's encoder feeds a recurrent core (`agents.nets.RecurrentPolicyValueNet`) whose state
is carried from step to step for every (world, agent) the learner acts for, and zeroed on the
step that starts that agent's episode: by default where the row's world is at its first step
(`Observations.steps() == 0`, so batch worlds that end at different times reset row by row), or
where the caller says (`act(obs, starts=...)`: RL^2 resets only at a task's start). The state is
kept by (world, agent), not by row position, so a seat whose rows come and go (agents leaving a
PettingZoo game, self-play snapshots that play some worlds) reads each agent's own state.

Updates run on sequences: the rollout buffer keeps each row's state before its first step, the
steps that start an episode and (with a context) the core's extra inputs, and every minibatch is
a set of rows unrolled over the whole rollout from those states (truncated back-propagation
through time over the rollout). Bootstrap values of cut episodes use the state after the step.
The run checkpoint holds every state, so a resumed run continues exactly.

`context="rl2"` adds to the core's input the previous action (one-hot), the previous reward and
a trial-start flag (RL^2, Duan et al. 2016; `arena.meta.rl2` trains it). The caller passes it
(`act(obs, context=rl2_context(...))`); a seat that does not (a match) reads zeros for the
previous action and reward and a trial start at each episode's start. `core="none"` with
`context="rl2"` is the same learner without memory, RL^2's feed-forward baseline.

Continual learning (replay, EWC) and the centralized critic are for feed-forward learners only.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from agents.base import Observations, Transition
from agents.memory import with_memory
from agents.nets import CORES, RecurrentPolicyValueNet, masked
from agents.policy_gradient import PolicyGradient, _Saved

CONTEXTS = ("none", "rl2")


def is_recurrent(hyper: dict) -> bool:
    """Whether policy-gradient hyper-parameters ask for this learner (a core or a context)."""
    return hyper.get("core", "none") != "none" or hyper.get("context", "none") != "none"


def context_size(context: str, num_actions: int) -> int:
    """Width of the core's extra input: RL^2's previous action one-hot, reward, trial flag."""
    return num_actions + 2 if context == "rl2" else 0


def rl2_context(
    prev_action: np.ndarray, prev_reward: np.ndarray, trial_start: np.ndarray, num_actions: int
) -> np.ndarray:
    """RL^2's extra input per row, float32[n, num_actions + 2]: the one-hot previous action
    (none where it is < 0), the previous reward and 1 on a trial's first step."""
    n = len(prev_action)
    out = np.zeros((n, num_actions + 2), np.float32)
    acted = np.flatnonzero(np.asarray(prev_action) >= 0)
    out[acted, np.asarray(prev_action)[acted]] = 1.0
    out[:, num_actions] = prev_reward
    out[:, num_actions + 1] = trial_start
    return out


class RecurrentPolicyGradient(PolicyGradient):
    """REINFORCE/A2C/PPO (`algo`) with a recurrent core; `make_learner` builds it when the
    hyper-parameters name a `core` or a `context`."""

    def __init__(self, scenario, seed: int = 0, device="cpu", algo: str = "ppo", **hyper):
        self.hidden: torch.Tensor | None = None  # float[worlds, agents, state]: each agent's core state
        self._core: tuple | None = None  # (first, context, state in, state out) of the last act
        self._after: tuple | None = None  # (state, context) after the last learned step, per row
        self._inputs: tuple = (None, None)  # act()'s starts and context, for _evaluate
        super().__init__(scenario, seed, device, algo, **hyper)
        h = self.hyper
        if h["context"] not in CONTEXTS:
            raise ValueError(f"{algo}: context must be one of {CONTEXTS}, got {h['context']!r}")
        if self.continual != "none" or h["centralized_critic"]:
            raise ValueError(
                f"{algo}: core={h['core']!r} takes neither continual learning nor a centralized critic"
            )

    def _make_net(self, extra: int) -> RecurrentPolicyValueNet:
        h = self.hyper
        if h["core"] not in CORES:
            raise ValueError(f"{self.name}: core must be one of {CORES}, got {h['core']!r}")
        width = context_size(h["context"], self.num_actions)
        shape = self.obs_shape[:2]
        return RecurrentPolicyValueNet(
            shape, self.num_actions, h["encoder"], h["hidden"], extra, self.codes, h["core"], width
        )

    # -- acting ----------------------------------------------------------------------------------
    def act(self, obs: Observations, explore: bool = True, *, starts=None, context=None) -> np.ndarray:
        """As every learner acts; `starts` bool[n] marks the rows whose state starts afresh
        (default: the first step of their world's episode), `context` float[n, C] the core's
        extra input (`rl2_context`)."""
        self._inputs = (starts, context)
        return super().act(obs, explore)

    def _evaluate(self, obs: Observations) -> tuple:
        starts, context = self._inputs
        self._inputs = (None, None)
        legal = torch.as_tensor(self.legal(obs), device=self.device)
        view = torch.as_tensor(with_memory(obs, self.hyper["memory"]), device=self.device)
        starts = obs.steps() == 0 if starts is None else np.asarray(starts, bool)
        first = torch.as_tensor(starts, device=self.device)
        ctx = self._context(context, starts, len(obs))
        state = self._state_of(obs) * (~first).unsqueeze(1)
        with torch.no_grad():
            logits, value, after = self.net.step(view, ctx, state)
        logp_all = F.log_softmax(masked(logits, legal), -1)
        if len(obs):
            self.hidden[torch.as_tensor(obs.world), torch.as_tensor(obs.agent)] = after
        self._core = (first, ctx, state, after)
        return obs, view, legal, logp_all, value, None

    def _context(self, context, starts: np.ndarray, n: int) -> torch.Tensor | None:
        width = self.net.context
        if width == 0:
            return None
        if context is None:  # a seat in a match: no previous action or reward known
            context = rl2_context(np.full(n, -1), np.zeros(n), starts, self.num_actions)
        context = torch.as_tensor(np.asarray(context, np.float32), device=self.device)
        if tuple(context.shape) != (n, width):
            raise ValueError(f"{self.name}: context of shape {tuple(context.shape)}, expected {(n, width)}")
        return context

    def _state_of(self, obs: Observations) -> torch.Tensor:
        """The rows' core states, float[n, S], the table grown to hold their (world, agent)."""
        size = self.net.state_size
        if not len(obs):
            return torch.zeros((0, size), device=self.device)
        worlds, agents = int(obs.world.max()) + 1, int(obs.agent.max()) + 1
        old = self.hidden
        if old is None or old.shape[0] < worlds or old.shape[1] < agents:
            shape = (
                max(worlds, 0 if old is None else old.shape[0]),
                max(agents, 0 if old is None else old.shape[1]),
            )
            self.hidden = torch.zeros((*shape, size), device=self.device)
            if old is not None:
                self.hidden[: old.shape[0], : old.shape[1]] = old
        return self.hidden[torch.as_tensor(obs.world), torch.as_tensor(obs.agent)]

    # -- experience ------------------------------------------------------------------------------
    def _allocate(self, n: int, grid) -> dict[str, torch.Tensor]:
        buf = super()._allocate(n, grid)
        T, dev = self.hyper["rollout"], self.device
        buf["first"] = torch.zeros((T, n), dtype=torch.bool, device=dev)
        buf["h0"] = torch.zeros((n, self.net.state_size), device=dev)
        if self.net.context:
            buf["context"] = torch.zeros((T, n, self.net.context), device=dev)
        return buf

    def _record(self, buffer: dict[str, torch.Tensor], t: int, tr: Transition) -> None:
        first, ctx, state, after = self._core
        buffer["first"][t] = first
        if t == 0:
            buffer["h0"][:] = state  # where the rollout's unroll starts
        if ctx is not None:
            buffer["context"][t] = ctx
        following = None
        if ctx is not None:  # the input after this step: its action and reward, within the trial
            n = len(tr.action)
            following = rl2_context(
                np.asarray(tr.action), np.asarray(tr.reward), np.zeros(n), self.num_actions
            )
            following = torch.as_tensor(following, device=self.device)
        self._after = (after, following)

    def _values(self, obs, rows: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
        """Values of some rows of the last observations, read with the state after the step."""
        state, ctx = self._after
        view = obs.view if isinstance(obs, _Saved) else with_memory(obs, self.hyper["memory"])
        view = torch.as_tensor(view[rows.cpu().numpy()], device=self.device)
        with torch.no_grad():
            _, value, _ = self.net.step(view, None if ctx is None else ctx[rows], state[rows])
        return value

    def end_task(self, task: str) -> None:
        super().end_task(task)
        self.hidden, self._core, self._after = None, None, None

    # -- updates ---------------------------------------------------------------------------------
    def _update(self) -> dict[str, float]:
        """`epochs` passes over the rollout in `minibatches` groups of rows, each unrolled
        from its stored state over all the rollout's steps."""
        h, b, T = self.hyper, self.buffer, self.t
        adv, ret = self._advantages()
        self.t = 0
        active = b["active"][:T]
        count = int(active.sum())
        if count == 0:
            return {}
        if h["normalize_advantages"] and count > 1:
            adv = (adv - adv[active].mean()) / (adv[active].std() + 1e-8)
        seq = {k: (v if k == "h0" else v[:T]) for k, v in b.items()}
        seq["adv"], seq["ret"] = adv, ret
        seq["old_logp"] = seq["logp_all"].gather(2, seq["action"].unsqueeze(2)).squeeze(2)
        n = seq["action"].shape[1]
        stats: dict[str, list[float]] = {}
        for _ in range(h["epochs"]):
            order = self.rng.permutation(n)
            for part in np.array_split(order, min(h["minibatches"], n)):
                rows = torch.as_tensor(part, device=self.device)
                mb = {k: (v[rows] if k == "h0" else v[:, rows]) for k, v in seq.items()}
                if mb["active"].any():
                    for key, value in self._step(mb).items():
                        stats.setdefault(key, []).append(value)
        out = {k: float(np.mean(v)) for k, v in stats.items()}
        ret_v, value_v = ret[active], b["value"][:T][active]
        var = float(ret_v.var()) if count > 1 else 0.0
        out["explained_variance"] = 1.0 - float((ret_v - value_v).var()) / var if var > 0 else 0.0
        return out

    def _step(self, mb: dict[str, torch.Tensor]) -> dict[str, float]:
        logits, value = self.net.unroll(mb["view"], mb.get("context"), mb["first"], mb["h0"])
        logp_all = F.log_softmax(masked(logits, mb["legal"]), -1)
        valid = mb["active"]
        flat = {k: mb[k][valid] for k in ("action", "old_logp", "adv", "ret")}
        return self._descend(logp_all[valid], value[valid], flat)

    # -- saving ----------------------------------------------------------------------------------
    def state(self, buffers: bool = True):
        tensors, extras = super().state(buffers)
        if buffers and self.hidden is not None:
            tensors["hidden"] = self.hidden
        return tensors, extras

    def _next_state(self) -> dict[str, torch.Tensor]:
        out = super()._next_state()
        state, ctx = self._after
        out["next.state"] = state
        if ctx is not None:
            out["next.context"] = ctx
        return out

    def load_state(self, tensors, extras) -> None:
        super().load_state(tensors, extras)
        hidden = tensors.get("hidden")
        self.hidden = None if hidden is None else hidden.to(self.device).clone()
        if self.hidden is not None and tuple(self.hidden.shape[2:]) != (self.net.state_size,):
            raise ValueError(
                f"core state of shape {tuple(self.hidden.shape)} does not fit core={self.hyper['core']!r}"
            )
        self._core, self._after = None, None
        if self.t:
            ctx = tensors.get("next.context")
            self._after = (
                tensors["next.state"].to(self.device),
                None if ctx is None else ctx.to(self.device),
            )
