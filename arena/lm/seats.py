"""LM seats with companions: the team channel and the knowledge base, given to a match's seats.

`arena watch/play ... --team-channel` makes every LM seat of the match talk on one
`TeamChannel` (messages reach teammates only); `--memory PATH` gives every LM seat a `Recall`
of the knowledge base at PATH (seats given the same path share one store, and so does a team;
it persists across runs). Other controllers are left as they are.
"""

from __future__ import annotations

from agents.lm.talk import TeamChannel
from worlds.scenario import Scenario


def lm_controllers(seating) -> list:
    """The seats' controllers that can talk and recall (`LMController` and any seat with its
    `join` and `recall`), each once."""
    out = []
    for seat in seating.seats:
        c = seat.controller
        if callable(getattr(c, "join", None)) and hasattr(c, "recall") and c not in out:
            out.append(c)
    return out


def equip(seating, scenario: Scenario, team_channel: bool = False, memory=None, **recall_options) -> list:
    """Give the LM seats of `seating` a shared team channel and/or a knowledge base; returns
    the LM controllers. A clear error when asked for either without an LM seat."""
    lms = lm_controllers(seating)
    if (team_channel or memory) and not lms:
        raise ValueError("--team-channel and --memory are for language-model seats: seat one with lm[:MODEL]")
    channel = TeamChannel(scenario) if team_channel else None
    for lm in lms:
        if channel is not None:
            lm.join(channel)
        if memory:
            from agents.lm.recall import Recall

            lm.recall = Recall.open(memory, scenario, **recall_options)
    return lms


def add_options(parser) -> None:
    parser.add_argument(
        "--team-channel",
        action="store_true",
        help="LM seats talk: each picks a message with its action; teammates read it next step",
    )
    parser.add_argument(
        "--memory",
        default=None,
        metavar="PATH",
        help="LM seats recall from and add to the knowledge base at PATH (shared by seats given the same)",
    )
