"""Remedies for the loss of plasticity: a net that has learned many tasks in turn learns the
next one more slowly. Each acts on a learner's torch modules from outside (the learners stay
as they are):

- `shrink_perturb(module, shrink, noise)`: Shrink & Perturb (Ash & Adams 2020): every weight
  w <- shrink * w + noise * N(0, 1), applied when a new task begins.
- `L2Init(module, coef)`: L2 towards the initial weights, the "regenerative regularization"
  of Kumar et al. (2023): the loss gains coef * sum (w - w0)^2 over every weight, w0 the
  weights when it was attached. `attach(optimizer)` adds that term's gradient,
  2 coef (w - w0), to every weight's gradient just before each optimizer step (after the
  learner's gradient clipping, which it therefore escapes).
- `reset_last_layers(net, layers, fresh, optimizer)`: resetting the last layers (Nikishin
  et al. 2022): the weights of the last `layers` levels of the net are copied from a freshly
  initialized net of the same shape, and their optimizer state (Adam's moments) is dropped.
  Level 1 is every layer outside the net's `encoder` (the heads: policy and value, or Q);
  level 2 adds the encoder's last layer, and so on.

The hyper-parameters (`--hp` in `arena train --curriculum`) and their defaults are
`PLASTICITY_DEFAULTS`, checked in one place by `check_plasticity`.
"""

from __future__ import annotations

import torch
from torch import nn

from worlds.errors import ConfigError

PLASTICITY_DEFAULTS = {
    "sp_shrink": 0.8,  # Shrink & Perturb: the factor on every weight
    "sp_noise": 0.01,  # Shrink & Perturb: the standard deviation of the noise added
    "l2_init": 0.001,  # L2 Init: the coefficient of sum (w - w0)^2
    "reset_layers": 1,  # reset: how many levels, counted from the output
}


def check_plasticity(hyper: dict) -> dict:
    """The remedies' settings from `hyper` (their keys only), defaults filled in; a value of the
    wrong kind or out of range raises ConfigError naming the option."""
    out = dict(PLASTICITY_DEFAULTS)
    for key in PLASTICITY_DEFAULTS.keys() & hyper.keys():
        value = hyper[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"--hp {key} must be a number, got {value!r}")
        out[key] = value
    if not 0 < out["sp_shrink"] <= 1:
        raise ConfigError(f"--hp sp_shrink must be in (0, 1], got {out['sp_shrink']}")
    for key in ("sp_noise", "l2_init"):
        if out[key] < 0:
            raise ConfigError(f"--hp {key} must be >= 0, got {out[key]}")
    if float(out["reset_layers"]) != int(out["reset_layers"]) or out["reset_layers"] < 1:
        raise ConfigError(f"--hp reset_layers must be a whole number >= 1, got {out['reset_layers']}")
    out["reset_layers"] = int(out["reset_layers"])
    return out


@torch.no_grad()
def shrink_perturb(
    module: nn.Module, shrink: float, noise: float, generator: torch.Generator | None = None
) -> None:
    """w <- shrink * w + noise * N(0, 1) for every weight of `module`, in place."""
    for p in module.parameters():
        eps = torch.randn(p.shape, generator=generator, device="cpu").to(p.device, p.dtype)
        p.mul_(shrink).add_(eps, alpha=noise)


class L2Init:
    """The loss coef * sum (w - w0)^2, w0 the module's weights when this was made."""

    def __init__(self, module: nn.Module, coef: float):
        self.module, self.coef = module, float(coef)
        self.anchor = {name: p.detach().clone() for name, p in module.named_parameters()}

    def loss(self) -> torch.Tensor:
        total = sum(((p - self.anchor[name]) ** 2).sum() for name, p in self.module.named_parameters())
        return self.coef * total

    def attach(self, optimizer: torch.optim.Optimizer):
        """Add the loss's gradient before every step of `optimizer`; returns the hook's handle
        (`handle.remove()` detaches it)."""

        @torch.no_grad()
        def add_gradient(_optimizer, _args, _kwargs) -> None:
            for name, p in self.module.named_parameters():
                pull = 2.0 * self.coef * (p - self.anchor[name])
                if p.grad is None:
                    p.grad = pull
                else:
                    p.grad.add_(pull)

        return optimizer.register_step_pre_hook(add_gradient)


def levels(net: nn.Module) -> list[list[str]]:
    """The net's layers (modules holding weights of their own) by depth from the output: first
    every layer outside its `encoder` (the heads), then the encoder's, last layer first. A net
    without an encoder: each layer a level of its own, last first."""
    own = [name for name, m in net.named_modules() if list(m.parameters(recurse=False))]
    inner = [name for name in own if name.startswith("encoder.")]
    if not hasattr(net, "encoder") or not inner:
        return [[name] for name in reversed(own)]
    heads = [name for name in own if not name.startswith("encoder.")]
    return [heads, *([name] for name in reversed(inner))]


@torch.no_grad()
def reset_last_layers(
    net: nn.Module, layers: int, fresh: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> list[str]:
    """Copy the weights of the last `layers` levels (see `levels`) from `fresh`, a newly
    initialized net of the same shape, and drop their optimizer state; returns the layers reset."""
    chosen = [name for level in levels(net)[:layers] for name in level]
    modules, new = dict(net.named_modules()), dict(fresh.named_modules())
    for name in chosen:
        for key, p in modules[name].named_parameters(recurse=False):
            p.copy_(getattr(new[name], key))
            if optimizer is not None:
                optimizer.state.pop(p, None)
    return chosen
