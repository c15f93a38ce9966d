"""Gymnasium spaces for one agent's observation and action, shared by every front end."""

from __future__ import annotations

import string

import numpy as np
from gymnasium import spaces

from worlds.forms import FORMS, form_space
from worlds.scenario import Scenario

# "masked": PettingZoo's action-masking convention, {"observation": the flat form, "action_mask"},
# the Dict that Tianshou's PettingZooEnv and PettingZoo's SB3 masking tutorial read
OBS_TYPES = ("dict", "view", "text", "masked", *FORMS)
TEXT_CHARSET = frozenset(string.printable)


def view_space(scenario: Scenario) -> spaces.Box:
    v, codes = scenario.view_size, scenario.view_codes
    high = np.broadcast_to(np.array(codes, np.uint8) - 1, (v, v, len(codes)))
    return spaces.Box(0, high.copy(), dtype=np.uint8)


def mask_space(scenario: Scenario) -> spaces.Box:
    return spaces.Box(0, 1, (len(scenario.actions),), dtype=np.int8)


def observation_space(scenario: Scenario, obs_type: str) -> spaces.Space:
    if obs_type not in OBS_TYPES:
        raise ValueError(f"obs_type must be one of {OBS_TYPES}, got {obs_type!r}")
    if obs_type == "view":
        return view_space(scenario)
    if obs_type in FORMS:
        return form_space(scenario, obs_type)
    if obs_type == "masked":
        return spaces.Dict({"observation": form_space(scenario, "flat"), "action_mask": mask_space(scenario)})
    if obs_type == "text":
        text = spaces.Text(max_length=text_max_length(scenario), min_length=1, charset=TEXT_CHARSET)
        return spaces.Dict({"text": text, "action_mask": mask_space(scenario), **scenario.extra_spaces()})
    return spaces.Dict(
        {"view": view_space(scenario), "action_mask": mask_space(scenario), **scenario.extra_spaces()}
    )


def text_max_length(scenario: Scenario) -> int:
    """A bound on the text view's length: the map block (view_size rows of view_size cells and
    a line end) plus room for the sentences around it, which are short and bounded (at most ten
    agents in view, six actions)."""
    v = scenario.view_size
    return max(8192, v * (v + 1) + 4096)


def action_space(scenario: Scenario) -> spaces.Discrete:
    return spaces.Discrete(len(scenario.actions))


def state_space(scenario: Scenario, shape: tuple[int, int]) -> spaces.Box:
    high = np.broadcast_to(
        np.array([scenario.num_cells - 1, scenario.num_agents, len(scenario.team_names)], np.uint8),
        (*shape, 3),
    )
    return spaces.Box(0, high.copy(), dtype=np.uint8)
