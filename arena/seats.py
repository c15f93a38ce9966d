"""Seats: which controller drives each agent of a match.

`--seat NAME=CONTROLLER` names an agent (`hunter_0`) or a team (`hunters`); one controller
instance drives all the agents of its seat, acting on one `Observations` batch. An agent named
on its own overrides its team's seat; agents nobody names share one controller of the default
spec. Mid-episode a person can take an agent over (it moves to a human seat of its own) and
hand it back to the seat it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agents.human import KEYMAPS, Human
from agents.registry import make_controller
from worlds.scenario import Scenario

DEFAULT_SPEC = "planner"


@dataclass
class Seat:
    spec: str  # what made the controller ("planner", "human:wasd", a checkpoint path)
    controller: object
    agents: list[int] = field(default_factory=list)  # agent indices, ascending

    @property
    def label(self) -> str:
        """How the HUD names the seat's controller: a checkpoint by its folder and file name."""
        label = getattr(self.controller, "label", None) or self.spec
        if "/" in label or "\\" in label:
            path = Path(label)
            label = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
        return label  # the panel elides a long one in the middle to fit (hud._fit)


def parse_seats(
    scenario: Scenario, pairs: list[str], default: str = DEFAULT_SPEC
) -> list[tuple[str, list[int]]]:
    """`NAME=CONTROLLER` strings -> (spec, agent indices) per seat, the default seat last.

    A clear ValueError for a malformed pair, an unknown name or an agent given two seats."""
    names, teams = scenario.agent_names, scenario.team_names
    by_team: list[tuple[str, list[int]]] = []
    by_agent: dict[int, str] = {}
    seen_teams: set[str] = set()
    for pair in pairs:
        name, sep, spec = pair.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise ValueError(f"a seat is NAME=CONTROLLER (e.g. {names[0]}=random), got {pair!r}")
        if name in names:
            agent = names.index(name)
            if agent in by_agent:
                raise ValueError(f"{name} is given two seats ({by_agent[agent]} and {spec})")
            by_agent[agent] = spec
        elif name in teams:
            if name in seen_teams:
                raise ValueError(f"team {name} is given two seats")
            seen_teams.add(name)
            members = [i for i in range(scenario.num_agents) if teams[scenario.teams[i]] == name]
            by_team.append((spec, members))
        else:
            raise ValueError(
                f"no agent or team {name!r} in {scenario.name}: agents {', '.join(names)}; "
                f"teams {', '.join(sorted(set(teams[t] for t in scenario.teams)))}"
            )
    seats = [(spec, [i for i in members if i not in by_agent]) for spec, members in by_team]
    seats += [(spec, [agent]) for agent, spec in sorted(by_agent.items())]
    seats = [(spec, agents) for spec, agents in seats if agents]
    taken = {i for _, agents in seats for i in agents}
    rest = [i for i in range(scenario.num_agents) if i not in taken]
    if rest:
        seats.append((default, rest))
    return seats


class Seating:
    """The seats of a match; `owner[i]` is the seat driving agent i now."""

    def __init__(self, scenario: Scenario, seats: list[Seat]):
        self.scenario = scenario
        self.seats = seats
        self.owner = [-1] * scenario.num_agents
        for k, seat in enumerate(seats):
            for i in seat.agents:
                if self.owner[i] != -1:
                    raise ValueError(f"{scenario.agent_names[i]} is in two seats")
                self.owner[i] = k
        missing = [scenario.agent_names[i] for i, k in enumerate(self.owner) if k == -1]
        if missing:
            raise ValueError(f"no seat for {', '.join(missing)}")
        self.home = list(self.owner)  # the seat each agent started in, for handing it back
        assign_keymaps(self.humans())

    @classmethod
    def from_specs(
        cls,
        scenario: Scenario,
        pairs: list[str],
        default: str = DEFAULT_SPEC,
        seed: int | None = None,
        device: str = "auto",
    ) -> Seating:
        """Builds every seat's controller with `agents.registry.make_controller`."""
        seats = []
        for k, (spec, agents) in enumerate(parse_seats(scenario, pairs, default)):
            controller = make_controller(
                spec, scenario, seed=None if seed is None else seed + k, device=device
            )
            seats.append(Seat(spec, controller, agents))
        return cls(scenario, seats)

    def seat_of(self, agent: int) -> Seat:
        return self.seats[self.owner[agent]]

    def label(self, agent: int) -> str:
        return self.seat_of(agent).label

    def humans(self) -> list[Human]:
        """The human controllers that drive at least one agent now, in seat order."""
        out = []
        for seat in self.seats:
            if isinstance(seat.controller, Human) and seat.agents and seat.controller not in out:
                out.append(seat.controller)
        return out

    def taken_over(self, agent: int) -> bool:
        return self.owner[agent] != self.home[agent]

    def take_over(self, agent: int) -> Human:
        """Agent `agent` leaves its seat for a new human seat, on the keys nobody uses yet."""
        if self.taken_over(agent) or isinstance(self.seat_of(agent).controller, Human):
            raise ValueError(f"{self.scenario.agent_names[agent]} is already driven by a human")
        free = free_keymaps(self.humans())
        if not free:
            raise ValueError("both keymaps (WASD and arrows) are in use: hand an agent back first")
        human = Human(keys=free[0])
        self._move(agent, Seat(f"human:{free[0]}", human))
        assign_keymaps(self.humans())
        return human

    def hand_back(self, agent: int) -> None:
        """A taken-over agent goes back to the seat it started in."""
        if not self.taken_over(agent):
            raise ValueError(f"{self.scenario.agent_names[agent]} was not taken over")
        home = self.seats[self.home[agent]]
        self._move(agent, home)

    def _move(self, agent: int, seat: Seat) -> None:
        old = self.seat_of(agent)
        old.agents.remove(agent)
        if seat not in self.seats:
            self.seats.append(seat)
        seat.agents = sorted([*seat.agents, agent])
        self.owner[agent] = self.seats.index(seat)
        if isinstance(old.controller, Human) and not old.agents:
            old.controller.reset()


def free_keymaps(humans: list[Human]) -> list[str]:
    used = {h.keys for h in humans if h.keys}
    return [k for k in KEYMAPS if k not in used]


def assign_keymaps(humans: list[Human]) -> None:
    """A lone human without named keys uses both keymaps; several get one each, in seat order."""
    if len(humans) == 1:
        return
    for human in humans:
        if human.keys is None:
            free = free_keymaps(humans)
            if not free:
                keymaps = ", ".join(KEYMAPS)
                raise ValueError(f"{len(humans)} humans but one keyboard has only {keymaps}")
            human.assign_keys(free[0])
    if len({h.keys for h in humans}) < len(humans):
        raise ValueError("two human seats use the same keys: give them human:wasd and human:arrows")
