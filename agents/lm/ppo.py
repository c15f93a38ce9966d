"""PPO on a language model's own parameters (as GLAM, Carta et al. 2023).

The policy is the LM policy of `agents.lm.policy`: a softmax over the legal actions of each
action string's log-likelihood after the prompt (divided by `temperature`). The value head is
a small MLP on the LM's final hidden state at the last prompt token. Every `rollout` steps the
learner computes GAE(lambda) advantages (the shared `gae` of `agents.ppo_loss`; a
time-out ends the return like a termination, as the prompt shows the step count) and runs
`epochs` passes of minibatches of `minibatch` samples on

    clipped-ratio policy loss + vf_coef * value loss - ent_coef * entropy

(`agents.ppo_loss`), updating the whole LM (full fine-tuning, learning rate `lr`) and the head
(`value_lr`) with Adam, each group's gradient clipped to `max_grad_norm` on its own. An update
stops early once a minibatch's approximate KL from the acting policy passes 1.5 x `target_kl`:
on the shipped model a few Adam steps already move the policy that far, and without the stop
its success swung by up to 0.3 from one update to the next. It follows the Learner protocol
(`act`, `learn`, `state`, `save`), so a training loop drives it like any learner;
`agents.lm.learning.load_lm_learner` rebuilds it from its file.

Against forgetting, each off by default: `continual="ewc"` (anchors the LM at a task's end),
`ref_kl` (a KL penalty towards a frozen copy of the starting model) and `ptx_coef` (rehearsal
of the planners' actions on the distillation corpus, for the skills the model came with).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from agents.base import Observations, Thinking, Transition
from agents.continual import EWC
from agents.learner import Learner, load_optimizer_state, optimizer_state, sample, with_nan
from agents.lm.learning import check_actions, describe, load_model_tensors, model_tensors, seat
from agents.lm.prompt import Prompt
from agents.lm.scoring import Scorer
from agents.nets import masked
from agents.ppo_loss import gae, ppo_loss


class ValueHead(torch.nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(width, width), torch.nn.Tanh(), torch.nn.Linear(width, 1)
        )
        torch.nn.init.zeros_(self.net[2].weight)
        torch.nn.init.zeros_(self.net[2].bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.net(hidden.float()).squeeze(-1)


class LMPPO(Learner):
    name = "lm_ppo"
    DEFAULTS = {
        "model": "default",  # the LM to start from: default, smollm2, a folder or cached hub id
        "lora": 0,  # LoRA rank on the attention projections (agents.lm.lora); 0: full fine-tuning
        "lr": 3e-4,  # the LM's weights (1e-4 barely moved the shipped model, 1e-3 drifted)
        "value_lr": 3e-3,  # the value head's, fresh where the LM is pretrained
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "rollout": 32,
        "epochs": 4,
        "minibatch": 64,
        "clip": 0.2,
        "ent_coef": 0.01,
        "vf_coef": 0.5,
        "max_grad_norm": 0.5,
        "target_kl": 0.02,  # > 0: end an update's epochs once a step's approx_kl passes 1.5x this
        "normalize_advantages": True,
        "temperature": 1.0,
        "normalize": "sum",
        # against forgetting across tasks: "none" or "ewc" (agents.continual, on the LM's weights)
        "continual": "none",
        "ewc_lambda": 10.0,
        "ewc_decay": 1.0,
        "ewc_samples": 256,  # recent prompts kept for the Fisher estimate at a task's end
        # > 0: every update also pays this times KL(pi || pi_start) on its prompts, pi_start the
        # model as the learner began (a frozen copy): what fine-tuning may not unlearn
        "ref_kl": 0.0,
        # > 0: every minibatch also pays this x the cross-entropy of the planners' actions on
        # `ptx_batch` prompts of `arena lm train`'s corpus (its recipe at `ptx_scale`, seeded by
        # the learner): rehearsal of what the model was distilled from (PPO-ptx, Ouyang et al. 2022)
        "ptx_coef": 0.0,
        "ptx_scale": 0.1,
        "ptx_batch": 64,
    }

    def __init__(self, scenario, seed: int = 0, device="cpu", lm=None, tokenizer=None, **hyper):
        """`lm` and `tokenizer`: a model object to start from instead of loading `model`."""
        super().__init__(scenario, seed, device, **hyper)
        h = self.hyper
        if h["rollout"] < 1 or h["epochs"] < 1 or h["minibatch"] < 1:
            raise ValueError("lm_ppo: rollout, epochs and minibatch must be >= 1")
        if h["continual"] not in ("none", "ewc"):
            raise ValueError(f"lm_ppo: continual must be 'none' or 'ewc', got {h['continual']!r}")
        self.seat = seat(
            scenario, seed, self.device, h["model"], lm, tokenizer, lora=h["lora"],
            normalize=h["normalize"], temperature=h["temperature"],
        )  # fmt: skip
        self.model, self.scorer = self.seat.model, self.seat.scorer
        self.config["lm"] = describe(self.model, self.seat.tokenizer)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.value = ValueHead(self.model.config.get_text_config().hidden_size).to(self.device)
        groups = [
            {"params": [p for p in self.model.parameters() if p.requires_grad], "lr": h["lr"]},
            {"params": list(self.value.parameters()), "lr": h["value_lr"]},
        ]
        self.optimizer = torch.optim.Adam(groups, eps=1e-5)
        self.buffer: list[dict] = []
        self.ewc = EWC(h["ewc_lambda"], h["ewc_decay"]) if h["continual"] == "ewc" else None
        self.reference = self._reference() if h["ref_kl"] > 0 else None
        self.rehearsal = self._rehearsal() if h["ptx_coef"] > 0 else None
        self.recent: tuple[list[Prompt], torch.Tensor] | None = None  # prompts and legal, for EWC
        self._acted: tuple | None = None
        self._next: tuple | None = None  # (next_obs, value of the step) of the last learn()

    def _reference(self) -> Scorer:
        """A frozen copy of the starting model, with a scorer of its own (its own prefix cache)."""
        model = copy.deepcopy(self.model).eval().requires_grad_(False)
        return Scorer(model, self.seat.tokenizer, self.scorer.actions, self.scorer.normalize)

    def _rehearsal(self) -> tuple[list[Prompt], torch.Tensor, torch.Tensor]:
        """(prompts, legal bool[n, A], planner's action long[n]) of the distillation recipe at
        `ptx_scale`, rebuilt from the seed alone; rows that need an action this learner lacks
        (tag, for a maze learner) are left out."""
        from agents.lm.distill import ACTIONS, collect_recipe

        corpus = collect_recipe(seed=self.seed, scale=self.hyper["ptx_scale"])
        mine = [ACTIONS.index(a) for a in self.scorer.actions]  # union index of each of ours
        ours = np.full(len(ACTIONS), -1)
        ours[mine] = np.arange(len(mine))
        keep = np.flatnonzero((ours[corpus.labels] >= 0) & ~corpus.legal[:, ours < 0].any(1))
        legal = np.zeros((len(keep), self.num_actions), bool)
        legal[:, : len(mine)] = corpus.legal[keep][:, mine]
        labels = torch.as_tensor(ours[corpus.labels[keep]], device=self.device)
        prompts = [corpus.prompts[k] for k in keep.tolist()]
        return prompts, torch.as_tensor(legal, device=self.device), labels

    # -- acting ----------------------------------------------------------------------------------
    def _evaluate(self, obs: Observations, prompts=None):
        """(prompts, legal, log-probs over actions, values) of the rows; no gradients."""
        legal = self.legal(obs)
        check_actions(self.scorer, obs)
        prompts = self.seat.prompts(obs) if prompts is None else prompts
        with torch.no_grad():
            logp_all, value = self._forward(prompts, torch.as_tensor(legal, device=self.device))
        return prompts, legal, logp_all, value

    def _forward(self, prompts, legal: torch.Tensor):
        out = self.scorer.score(prompts, hidden=True)
        return self._log_policy(out.scores, legal), self.value(out.hidden)

    def _log_policy(self, scores: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
        """Log-probabilities over the learner's actions from the scorer's [n, A'] scores."""
        logits = torch.zeros(len(scores), self.num_actions, device=self.device)
        logits[:, : scores.shape[1]] = scores / self.hyper["temperature"]
        return F.log_softmax(masked(logits, legal), -1)

    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        prompts, legal, logp_all, value = self._evaluate(obs)
        probs = np.where(legal, logp_all.exp().cpu().numpy(), 0.0)
        action = sample(probs, self.rng) if explore else np.where(legal, probs, -1.0).argmax(1)
        self.seat.remember(obs, action)
        self._acted = (obs, prompts, legal, logp_all, value)
        self._thinking = Thinking("probs", with_nan(probs, legal), {"value": value.cpu().numpy()})
        return action.astype(np.int64)

    # -- experience ------------------------------------------------------------------------------
    def learn(self, tr: Transition) -> dict[str, float] | None:
        acted = self._acted
        if acted is None or acted[0] is not tr.obs:
            acted = (tr.obs, *self._evaluate(tr.obs))  # act() saw other rows last
        _, prompts, legal, logp_all, value = acted
        active = np.asarray(tr.active, bool)
        # A time-out ends the episode like a termination: the prompt reads "step t of max_cycles",
        # so the policy plays a finite horizon and nothing follows the last step (Pardo et al.
        # 2018). Bootstrapping there made running out the clock look as good as a late arrival.
        ended = (np.asarray(tr.terminated, bool) | np.asarray(tr.truncated, bool)) & active
        self.buffer.append(
            {
                "prompts": prompts,
                "legal": torch.as_tensor(legal, device=self.device),
                "logp_all": logp_all,
                "value": value,
                "action": torch.as_tensor(np.asarray(tr.action, np.int64), device=self.device),
                "reward": torch.as_tensor(np.asarray(tr.reward, np.float32), device=self.device),
                "active": torch.as_tensor(active, device=self.device),
                "ended": torch.as_tensor(ended, device=self.device),
            }
        )
        self._next = tr.next_obs
        self.steps += 1
        self.samples += int(active.sum())
        if len(self.buffer) == self.hyper["rollout"]:
            return self._update()
        return None

    def end_task(self, task: str) -> None:
        """Learn from the partial rollout, anchor the LM's weights (EWC), start afresh."""
        super().end_task(task)
        if self.buffer and self._next is not None:  # None: a restored rollout, no step since
            self._update()
        self.buffer, self._acted, self._next = [], None, None
        if self.ewc is not None and self.recent is not None:
            self.ewc.consolidate(self.model, self._policy_nll(*self.recent))

    def _policy_nll(self, prompts: list[Prompt], legal: torch.Tensor):
        """Per prompt, -log pi(a) of an action drawn from the policy itself: the squared
        gradients average to the Fisher of the policy."""
        for i, prompt in enumerate(prompts):
            logp = self._forward([prompt], legal[i : i + 1])[0][0]
            a = sample(logp.detach().exp().cpu().numpy()[None], self.rng)[0]
            yield -logp[a]

    # -- updates ---------------------------------------------------------------------------------
    def _update(self) -> dict[str, float]:
        h, buf = self.hyper, self.buffer
        self.buffer = []
        stack = {k: torch.stack([step[k] for step in buf]) for k in buf[0] if k != "prompts"}
        last = self._evaluate(self._next)[3]
        never = torch.zeros_like(stack["ended"])  # no episode is cut short: none bootstraps
        adv = gae(
            stack["reward"], stack["value"], last, stack["value"] * 0, stack["ended"], never,
            stack["active"], gamma=h["gamma"], lam=h["gae_lambda"],
        )  # fmt: skip
        ret = adv + stack["value"]
        valid = stack["active"].reshape(-1)
        flat = {k: v.reshape(-1, *v.shape[2:])[valid] for k, v in stack.items()}
        flat["adv"], flat["ret"] = adv.reshape(-1)[valid], ret.reshape(-1)[valid]
        index = np.flatnonzero(valid.cpu().numpy())
        prompts = [p for step in buf for p in step["prompts"]]
        prompts = [prompts[k] for k in index.tolist()]
        count = len(prompts)
        if count == 0:
            return {}
        if self.ewc is not None:  # the latest rollout's prompts stand for the task at its end
            keep = self.rng.permutation(count)[: h["ewc_samples"]]
            legal = flat["legal"][torch.as_tensor(keep, device=self.device)]
            self.recent = ([prompts[k] for k in keep.tolist()], legal)
        if self.reference is not None:  # the starting model's policy on the same prompts
            with torch.no_grad():
                scores = self.reference.score(prompts).scores
                flat["ref_logp_all"] = self._log_policy(scores, flat["legal"])
        if h["normalize_advantages"] and count > 1:
            flat["adv"] = (flat["adv"] - flat["adv"].mean()) / (flat["adv"].std() + 1e-8)
        flat["old_logp"] = flat["logp_all"].gather(1, flat["action"][:, None]).squeeze(1)
        stats: dict[str, list[float]] = {}
        self.model.train()
        far = 1.5 * h["target_kl"] if h["target_kl"] > 0 else float("inf")
        for pick in self._minibatches(count):
            mb = {k: v[torch.as_tensor(pick, device=self.device)] for k, v in flat.items()}
            step = self._step([prompts[k] for k in pick.tolist()], mb)
            for key, value in step.items():
                stats.setdefault(key, []).append(value)
            if step["approx_kl"] > far:
                break  # the policy has moved far from the one that acted: end this update
        self.model.eval()
        self.scorer.clear_cache()  # the weights changed
        out = {k: float(np.mean(v)) for k, v in stats.items()}
        var = float(flat["ret"].var()) if count > 1 else 0.0
        out["explained_variance"] = 1.0 - float((flat["ret"] - flat["value"]).var()) / var if var > 0 else 0.0
        out["samples"] = float(count)
        return out

    def _minibatches(self, count: int):
        """Index arrays of `minibatch` samples: `epochs` shuffled passes over `count`."""
        for _ in range(self.hyper["epochs"]):
            order = self.rng.permutation(count)
            for start in range(0, count, self.hyper["minibatch"]):
                yield order[start : start + self.hyper["minibatch"]]

    def _step(self, prompts, mb: dict[str, torch.Tensor]) -> dict[str, float]:
        h = self.hyper
        logp_all, value = self._forward(prompts, mb["legal"])
        loss, stats = ppo_loss(logp_all, value, mb, h["clip"], h["vf_coef"], h["ent_coef"])
        if self.reference is not None:
            drift = (logp_all - mb["ref_logp_all"]).where(mb["legal"], 0.0)
            kl = (logp_all.exp() * drift).sum(-1).mean()  # KL(pi || pi_start) over legal actions
            loss = loss + h["ref_kl"] * kl
            stats["ref_kl"] = kl.item()
        if self.rehearsal is not None:
            prompts, legal, labels = self.rehearsal
            pick = self.rng.integers(0, len(prompts), h["ptx_batch"])
            scores = self.scorer.score([prompts[k] for k in pick.tolist()]).scores
            logp = self._log_policy(scores, legal[pick])
            ptx = -logp.gather(1, labels[pick][:, None]).mean()
            loss = loss + h["ptx_coef"] * ptx
            stats["ptx_loss"] = ptx.item()
        if self.ewc is not None and self.ewc.fisher:
            penalty = self.ewc.penalty(self.model)
            loss = loss + penalty
            stats["ewc_penalty"] = penalty.item()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # Clipped apart, so that neither's gradient scales the other's step.
        lm, head = (group["params"] for group in self.optimizer.param_groups)
        stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(lm, h["max_grad_norm"]))
        stats["value_grad_norm"] = float(torch.nn.utils.clip_grad_norm_(head, h["max_grad_norm"]))
        self.optimizer.step()
        return {"loss": loss.item()} | stats

    # -- saving ----------------------------------------------------------------------------------
    def state(self, buffers: bool = True):
        """Weights, head and optimizer; with `buffers`, the partial rollout too (its prompts as
        text in the extras), so that a resumed run updates on the same steps."""
        tensors, extras = super().state(buffers)
        tensors |= model_tensors(self.model, "lm")
        tensors |= {f"value.{k}": v for k, v in self.value.state_dict().items()}
        optim, extras["optimizer"] = optimizer_state(self.optimizer, "optim")
        if buffers and self.buffer:
            keys = [k for k in self.buffer[0] if k != "prompts"]
            tensors |= {f"rollout.{k}": torch.stack([step[k] for step in self.buffer]) for k in keys}
            extras["rollout"] = [[[p.prefix, p.body] for p in step["prompts"]] for step in self.buffer]
        if self.reference is not None:
            tensors |= model_tensors(self.reference.model, "ref")
        if self.ewc is not None:
            tensors |= self.ewc.state("ewc")
            if self.recent is not None:
                tensors["recent.legal"] = self.recent[1]
                extras["recent"] = [[p.prefix, p.body] for p in self.recent[0]]
        return tensors | optim, extras

    def load_state(self, tensors, extras) -> None:
        super().load_state(tensors, extras)
        load_model_tensors(self.model, tensors, "lm")
        self.value.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("value.")})
        load_optimizer_state(self.optimizer, "optim", tensors, extras["optimizer"])
        self.model.to(self.device)
        self.scorer.clear_cache()
        saved = {
            k.removeprefix("rollout."): v.to(self.device)
            for k, v in tensors.items()
            if k.startswith("rollout.")
        }
        self.buffer = [
            {"prompts": [Prompt(*p) for p in prompts]} | {k: v[t] for k, v in saved.items()}
            for t, prompts in enumerate(extras.get("rollout", []))
        ]
        if self.reference is not None:
            load_model_tensors(self.reference.model, tensors, "ref")
            self.reference.model.to(self.device)
            self.reference.clear_cache()
        if self.ewc is not None:
            self.ewc.load_state("ewc", tensors, self.device)
            if "recent" in extras:
                prompts = [Prompt(*p) for p in extras["recent"]]
                self.recent = (prompts, tensors["recent.legal"].to(self.device))
        self._acted, self._next = None, None
