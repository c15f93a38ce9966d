"""Observation forms for RL libraries that take one float array: `flat` and `image`.

Both are one-hot encodings of the egocentric view (every channel one-hot by
`scenario.view_codes`), followed by the scenario's extra Dict entries (`extra_spaces`) scaled
into [0, 1], so a library's default network sees everything the Dict observation holds:

    flat   float32[V * V * K + F]  the one-hot view [V, V, K] flattened, then the F extra features
    image  float32[K + F, V, V]    channel-first one-hot planes, then one constant plane per feature

K = sum(view_codes). The action mask is not part of either: it is in `infos[agent]["action_mask"]`.
One numpy implementation serves the PettingZoo env and batch mode (any leading dimensions).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from worlds.scenario import Scenario

FORMS = ("flat", "image")


def num_codes(scenario: Scenario) -> int:
    """K: the length of one cell's one-hot encoding, all channels together."""
    return int(sum(scenario.view_codes))


def num_features(scenario: Scenario) -> int:
    """F: how many floats the scenario's extra Dict entries take."""
    return sum(_feature_width(space) for space in scenario.extra_spaces().values())


def form_space(scenario: Scenario, form: str) -> spaces.Box:
    v, k, f = scenario.view_size, num_codes(scenario), num_features(scenario)
    shape = (v * v * k + f,) if form == "flat" else (k + f, v, v)
    return spaces.Box(0.0, 1.0, shape, dtype=np.float32)


def one_hot(views: np.ndarray, codes: tuple[int, ...]) -> np.ndarray:
    """float32[..., K] from uint8[..., C]: channel c's value sets one of its codes[c] slots."""
    offsets = np.concatenate([[0], np.cumsum(codes[:-1])]).astype(np.int64)
    index = views.astype(np.int64) + offsets  # [..., C], each an index into the K slots
    cells = index.reshape(-1, len(codes))
    out = np.zeros((cells.shape[0], int(sum(codes))), dtype=np.float32)
    out[np.arange(cells.shape[0])[:, None], cells] = 1.0
    return out.reshape(*views.shape[:-1], -1)


def features(scenario: Scenario, extras: dict[str, np.ndarray]) -> np.ndarray:
    """float32[..., F]: the extra entries (each [..., ...]) in [0, 1], Discrete ones one-hot,
    Box ones scaled by their bounds, in the order of `extra_spaces`."""
    parts = []
    for key, space in scenario.extra_spaces().items():
        value = np.asarray(extras[key])
        if isinstance(space, spaces.Discrete):
            parts.append(np.eye(space.n, dtype=np.float32)[value.astype(np.int64) - space.start])
        else:
            low, high = space.low.astype(np.float32), space.high.astype(np.float32)
            scaled = (value.astype(np.float32) - low) / np.maximum(high - low, 1e-9)
            parts.append(np.clip(scaled, 0.0, 1.0).reshape(*value.shape[: value.ndim - len(space.shape)], -1))
    return np.concatenate(parts, -1) if parts else None


def encode(scenario: Scenario, form: str, views: np.ndarray, extras: dict[str, np.ndarray]) -> np.ndarray:
    """The `form` of `views` uint8[..., V, V, C] and their agents' `extras` (each [..., ...])."""
    hot = one_hot(views, scenario.view_codes)  # [..., V, V, K]
    lead = views.shape[:-3]
    extra = features(scenario, extras) if scenario.extra_spaces() else None
    if form == "flat":
        flat = hot.reshape(*lead, -1)
        return flat if extra is None else np.concatenate([flat, extra], -1)
    planes = np.moveaxis(hot, -1, -3)  # [..., K, V, V]
    if extra is not None:
        v = views.shape[-2]
        constant = np.broadcast_to(extra[..., None, None], (*extra.shape, v, v))
        planes = np.concatenate([planes, constant], -3)
    return np.ascontiguousarray(planes)


def _feature_width(space: spaces.Space) -> int:
    return space.n if isinstance(space, spaces.Discrete) else int(np.prod(space.shape))
