"""Methods against forgetting for learners that move through a sequence of tasks.

Chosen per learner with the hyper-parameter `continual`:

- `"none"`: plain sequential fine-tuning (the baseline).
- `"replay"`: a reservoir buffer (Vitter's algorithm R) keeps a uniform sample of all the
  experience seen so far; once a task has ended, every update adds a loss on a minibatch from
  it (for DQN its TD error, for policy gradient a cloning loss towards the stored policy and
  returns, as CLEAR, Rolnick et al. 2019).
- `"ewc"`: elastic weight consolidation (Kirkpatrick et al. 2017): at the end of each task the
  diagonal Fisher information of the weights is estimated from that task's states, and later
  updates pay `ewc_lambda / 2 * sum F (w - w*)^2` for moving weights the task relied on.
  With `ewc_decay` < 1 the Fisher of older tasks fades (online EWC). Each task's Fisher is
  scaled to mean 1 over the weights, so `ewc_lambda` does not depend on the net's size or the
  scale of its outputs.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

CONTINUAL = ("none", "replay", "ewc")
CONTINUAL_DEFAULTS = {
    "continual": "none",
    "replay_size": 20_000,  # items kept in the reservoir
    "replay_coef": 1.0,  # weight of the replay loss
    "ewc_lambda": 10.0,
    "ewc_decay": 1.0,
    "ewc_samples": 256,  # states used to estimate the Fisher at the end of a task
}


def check_continual(algo: str, hyper: dict) -> str:
    method = hyper["continual"]
    if method not in CONTINUAL:
        raise ValueError(f"{algo}: continual must be one of {CONTINUAL}, got {method!r}")
    return method


class Reservoir:
    """A uniform sample of at most `capacity` items from a stream (Vitter's algorithm R).
    Items are dicts of arrays with a leading item axis, always with the same keys and shapes."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"reservoir capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.data: dict[str, np.ndarray] | None = None
        self.seen = 0

    def __len__(self) -> int:
        return min(self.seen, self.capacity)

    def offer(self, items: dict[str, np.ndarray], rng: np.random.Generator) -> None:
        n = len(next(iter(items.values()))) if items else 0
        if n == 0:
            return
        if self.data is None:
            self.data = {k: np.zeros((self.capacity, *v.shape[1:]), v.dtype) for k, v in items.items()}
        count = self.seen + np.arange(n)  # each item's place in the stream
        slot = np.where(count < self.capacity, count, rng.integers(0, count + 1))
        keep = slot < self.capacity
        for key, value in items.items():
            # Later items win a shared slot, as when they are offered one at a time.
            self.data[key][slot[keep]] = value[keep]
        self.seen += n

    def sample(self, k: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        index = rng.integers(0, len(self), k)
        return {key: value[index] for key, value in self.data.items()}

    def state(self, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {}
        if self.data is not None:
            size = len(self)
            tensors = {f"{prefix}.{k}": torch.from_numpy(v[:size].copy()) for k, v in self.data.items()}
        return tensors, {"seen": self.seen}

    def load_state(self, prefix: str, tensors: dict, extras: dict) -> None:
        own = {
            k[len(prefix) + 1 :]: v.cpu().numpy() for k, v in tensors.items() if k.startswith(prefix + ".")
        }
        self.seen = int(extras["seen"])
        self.data = None
        if own:
            self.data = {k: np.zeros((self.capacity, *v.shape[1:]), v.dtype) for k, v in own.items()}
            for key, value in own.items():
                self.data[key][: len(value)] = value


class EWC:
    """Diagonal-Fisher anchors of a module's weights, and the penalty for leaving them."""

    def __init__(self, lam: float, decay: float = 1.0):
        self.lam = lam
        self.decay = decay
        self.fisher: dict[str, torch.Tensor] = {}
        self.anchor: dict[str, torch.Tensor] = {}

    def consolidate(self, module: torch.nn.Module, losses: Iterable[torch.Tensor]) -> None:
        """Estimate the Fisher as the mean squared gradient of per-sample `losses` (the negative
        log-likelihood of an action drawn from the policy, or a Q-value read as the mean of a
        unit Gaussian) and anchor the module's current weights."""
        params = {name: p for name, p in module.named_parameters() if p.requires_grad}  # LoRA: adapters
        fresh = {name: torch.zeros_like(p) for name, p in params.items()}
        count = 0
        for loss in losses:
            grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
            for name, g in zip(params, grads, strict=True):
                if g is not None:
                    fresh[name] += g.detach() ** 2
            count += 1
        # Scaled to mean 1 over all weights, so `lam` means the same for any net or task.
        mean = sum(float(f.sum()) for f in fresh.values()) / sum(f.numel() for f in fresh.values())
        scale = 1.0 / mean if mean > 0 else 0.0
        for name, p in params.items():
            f = fresh[name] * scale
            self.fisher[name] = self.decay * self.fisher[name] + f if name in self.fisher else f
            self.anchor[name] = p.detach().clone()

    def penalty(self, module: torch.nn.Module) -> torch.Tensor | float:
        if not self.fisher:
            return 0.0
        total = 0.0
        for name, p in module.named_parameters():
            if name in self.fisher:
                total = total + (self.fisher[name] * (p - self.anchor[name]) ** 2).sum()
        return 0.5 * self.lam * total

    def state(self, prefix: str) -> dict[str, torch.Tensor]:
        tensors = {f"{prefix}.fisher.{k}": v for k, v in self.fisher.items()}
        tensors.update({f"{prefix}.anchor.{k}": v for k, v in self.anchor.items()})
        return tensors

    def load_state(self, prefix: str, tensors: dict, device: torch.device) -> None:
        for part in ("fisher", "anchor"):
            head = f"{prefix}.{part}."
            own = {k[len(head) :]: v.to(device) for k, v in tensors.items() if k.startswith(head)}
            setattr(self, part, own)
