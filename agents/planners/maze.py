"""The maze_v0 planner: every agent walks a shortest path to its own goal, giving way in
corridors (agents.planners.navigate).

`thinking()` extras `q`: minus the remaining path length after each action (1 + the goal
distance of the cell it leads to)."""

from __future__ import annotations

from agents.base import Observations
from agents.planners.grid import Board, FieldCache
from agents.planners.navigate import steer
from agents.planners.planner import Planner, path_values
from worlds.scenario import Scenario


class MazePlanner(Planner):
    name = "planner"

    def __init__(self, scenario: Scenario, seed: int | None = None):
        super().__init__(scenario, seed)
        self.goals = FieldCache()  # goals stay put: a world's fields change only with its episode

    def decide(self, board: Board, obs: Observations):
        goal = obs.state.goal[board.worlds]
        dist = board.fields(board.cells(goal), (goal >= 0).all(-1) & board.alive, cache=self.goals)
        stall, gave_way = self.memory.recall(board, obs.state.t, obs.state.num_worlds)
        actions, plan, gave, near, wanted = steer(board, dist, self.rng, stall, gave_way)
        self.memory.remember(board, wanted, stall, gave)
        return actions, path_values(near, board.legal[..., :5]), plan, gave
