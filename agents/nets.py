"""Torch modules the learners share: an encoder of grid views and masked action heads.

A view is uint8[n, H, W, 3] with small integer codes per channel (cell, who stands there,
goal mark; see `worlds.observe`), optionally followed by 0/1 channels a learner adds (its
memory, `agents.memory`). The encoder one-hot encodes each code channel (14 planes), passes
the extra channels through as planes, and runs a small conv net (or an MLP) over them; `pool`
does the same for maps of any size (the global state of a centralized critic) by pooling to a
fixed grid.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from worlds.cells import CLASSIC_CELLS
from worlds.observe import RIVAL

# Number of codes in each view channel: cell, who (nobody/self/teammate/rival), goal
# (none/here/compass), as in the first scenarios; later ones add cells and channels of their
# own (`Scenario.view_codes`), passed to the nets as `codes`.
CODES = (CLASSIC_CELLS, RIVAL + 1, 3)
PLANES = sum(CODES)
MASKED = -1e9  # the logit of an illegal action: finite, so entropies stay free of nan
ENCODERS = ("conv", "deep", "mlp", "pool")


def layer_init(layer: nn.Module, gain: float = float(np.sqrt(2)), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights and constant bias, the usual start for policy-gradient nets."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


def one_hot(view: torch.Tensor, codes: tuple[int, ...] = CODES) -> torch.Tensor:
    """uint8[n, H, W, C + E] -> float32[n, sum(codes) + E, H, W]: one-hot planes of the C code
    channels (`codes[k]` codes in channel k), then the E extra channels as they are."""
    c = len(codes)
    offsets = torch.tensor(np.cumsum((0, *codes[:-1])), device=view.device)
    top = torch.tensor([k - 1 for k in codes], device=view.device)
    index = torch.minimum(view[..., :c].long(), top) + offsets
    planes = torch.zeros((*view.shape[:3], sum(codes)), device=view.device)
    planes.scatter_(-1, index, 1.0)
    if view.shape[-1] > c:
        planes = torch.cat([planes, view[..., c:].float()], -1)
    return planes.permute(0, 3, 1, 2)


class GridEncoder(nn.Module):
    """Features float32[n, hidden] of uint8[n, H, W, 3] views.

    `conv`: two 3x3 convolutions (valid padding on views of 5 cells or more) and a linear
    layer; `deep`: three padded 3x3 convolutions that keep the view's size, then a linear
    layer; `mlp`: two linear layers over the flat one-hot planes; `pool`: padded convolutions
    then adaptive average pooling to 4x4, for grids whose size is not known in advance."""

    def __init__(
        self,
        shape: tuple[int, int],
        kind: str = "conv",
        hidden: int = 256,
        channels: int = 32,
        extra: int = 0,
        codes: tuple[int, ...] = CODES,
    ):
        super().__init__()
        if kind not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {kind!r}")
        h, w = shape
        self.codes = tuple(int(k) for k in codes)
        planes = sum(self.codes) + extra  # `extra` 0/1 channels after the code channels
        self.out_dim = hidden
        if kind == "mlp":
            self.body = nn.Sequential(
                nn.Flatten(),
                layer_init(nn.Linear(planes * h * w, hidden)),
                nn.ReLU(),
                layer_init(nn.Linear(hidden, hidden)),
                nn.ReLU(),
            )
            return
        if kind == "deep":
            self.body = nn.Sequential(
                layer_init(nn.Conv2d(planes, channels, 3, padding=1)),
                nn.ReLU(),
                layer_init(nn.Conv2d(channels, channels, 3, padding=1)),
                nn.ReLU(),
                layer_init(nn.Conv2d(channels, channels, 3, padding=1)),
                nn.ReLU(),
                nn.Flatten(),
                layer_init(nn.Linear(channels * h * w, hidden)),
                nn.ReLU(),
            )
            return
        pad = 1 if kind == "pool" or min(h, w) < 5 else 0
        convs = [
            layer_init(nn.Conv2d(planes, channels, 3, padding=pad)),
            nn.ReLU(),
            layer_init(nn.Conv2d(channels, 2 * channels, 3, padding=pad)),
            nn.ReLU(),
        ]
        if kind == "pool":
            convs.append(nn.AdaptiveAvgPool2d(4))
            h = w = 4
        else:
            h, w = h - 4 * (1 - pad), w - 4 * (1 - pad)
        self.body = nn.Sequential(
            *convs, nn.Flatten(), layer_init(nn.Linear(2 * channels * h * w, hidden)), nn.ReLU()
        )

    def forward(self, view: torch.Tensor) -> torch.Tensor:
        return self.body(one_hot(view, self.codes))


class PolicyValueNet(nn.Module):
    """Action logits and a state value from one shared encoder of the view."""

    def __init__(
        self,
        shape: tuple[int, int],
        num_actions: int,
        kind: str = "conv",
        hidden: int = 256,
        extra: int = 0,
        codes: tuple[int, ...] = CODES,
    ):
        super().__init__()
        self.encoder = GridEncoder(shape, kind, hidden, extra=extra, codes=codes)
        self.policy = layer_init(nn.Linear(hidden, num_actions), gain=0.01)
        self.value = layer_init(nn.Linear(hidden, 1), gain=1.0)

    def forward(self, view: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.encoder(view)
        return self.policy(features), self.value(features).squeeze(-1)


class CriticNet(nn.Module):
    """A centralized critic: the value of a row from the whole map (any size) seen by that row."""

    def __init__(self, hidden: int = 256):
        super().__init__()
        self.encoder = GridEncoder((4, 4), "pool", hidden)
        self.value = layer_init(nn.Linear(hidden, 1), gain=1.0)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return self.value(self.encoder(grid)).squeeze(-1)


class QNet(nn.Module):
    """Action values of a view."""

    def __init__(
        self,
        shape: tuple[int, int],
        num_actions: int,
        kind: str = "conv",
        hidden: int = 256,
        extra: int = 0,
        codes: tuple[int, ...] = CODES,
    ):
        super().__init__()
        self.encoder = GridEncoder(shape, kind, hidden, extra=extra, codes=codes)
        self.q = layer_init(nn.Linear(hidden, num_actions), gain=1.0)

    def forward(self, view: torch.Tensor) -> torch.Tensor:
        return self.q(self.encoder(view))


def masked(values: torch.Tensor, mask: torch.Tensor, fill: float = MASKED) -> torch.Tensor:
    """`values` with illegal actions (mask False) set to `fill`."""
    return torch.where(mask, values, torch.full_like(values, fill))


CORES = ("none", "gru", "lstm")


class RecurrentPolicyValueNet(nn.Module):
    """Action logits and a value from the view's encoder, an optional context vector (RL^2's
    previous action and reward) and a recurrent core carried from step to step.

    `core="gru"` or `"lstm"` (a GRUCell or LSTMCell of `hidden` units; the LSTM's state is its h
    and c side by side) or `"none"` (one linear layer over features and context, no state). The
    state is float[n, state_size]; `unroll` runs a sequence from a stored first state, zeroing a
    row's state on the steps that start its episode (`first`), as acting did."""

    def __init__(
        self,
        shape: tuple[int, int],
        num_actions: int,
        kind: str = "conv",
        hidden: int = 256,
        extra: int = 0,
        codes: tuple[int, ...] = CODES,
        core: str = "gru",
        context: int = 0,
    ):
        super().__init__()
        if core not in CORES:
            raise ValueError(f"core must be one of {CORES}, got {core!r}")
        self.encoder = GridEncoder(shape, kind, hidden, extra=extra, codes=codes)
        self.kind, self.context = core, int(context)
        size = hidden + self.context
        if core == "gru":
            self.core = nn.GRUCell(size, hidden)
        elif core == "lstm":
            self.core = nn.LSTMCell(size, hidden)
        else:
            self.core = nn.Sequential(layer_init(nn.Linear(size, hidden)), nn.ReLU())
        if core != "none":  # CleanRL's recurrent PPO start: orthogonal weights, zero biases
            for name, param in self.core.named_parameters():
                if "bias" in name:
                    nn.init.constant_(param, 0.0)
                else:
                    nn.init.orthogonal_(param, 1.0)
        self.state_size = {"gru": hidden, "lstm": 2 * hidden, "none": 0}[core]
        self.policy = layer_init(nn.Linear(hidden, num_actions), gain=0.01)
        self.value = layer_init(nn.Linear(hidden, 1), gain=1.0)

    def _core(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(output, next state) of one step of the core."""
        if self.kind == "gru":
            out = self.core(x, state)
            return out, out
        if self.kind == "lstm":
            h, c = self.core(x, tuple(state.chunk(2, -1)))
            return h, torch.cat([h, c], -1)
        return self.core(x), state

    def _inputs(self, features: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        if self.context == 0:
            return features
        return torch.cat([features, context.to(features.dtype)], -1)

    def step(
        self, view: torch.Tensor, context: torch.Tensor | None, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step of n rows: logits float[n, A], value float[n], next state float[n, S]."""
        out, state = self._core(self._inputs(self.encoder(view), context), state)
        return self.policy(out), self.value(out).squeeze(-1), state

    def unroll(
        self, view: torch.Tensor, context: torch.Tensor | None, first: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """T steps of n rows from `state` float[n, S]: views uint8[T, n, ...], `first` bool[T, n]
        (the row's state is zeroed before that step). Logits float[T, n, A], values float[T, n]."""
        T, n = first.shape
        features = self.encoder(view.reshape(T * n, *view.shape[2:])).reshape(T, n, -1)
        x = self._inputs(features, context)
        outs = []
        for t in range(T):  # the core is sequential; the encoder above ran on all steps at once
            state = state * (~first[t]).unsqueeze(1).to(state.dtype)
            out, state = self._core(x[t], state)
            outs.append(out)
        out = torch.stack(outs)
        return self.policy(out), self.value(out).squeeze(-1)
