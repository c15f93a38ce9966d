"""The speed benchmark behind `arena bench` and `python -m benchmarks.engine`.

It prints figures and never asserts on them: env-steps/s and agent-steps/s of the PettingZoo
front end, of batch mode, of peers (MiniGrid, MAgent2) when they are installed, and of a bare
numpy grid step that sets the ceiling for this engine's approach.

Every contestant is stepped with random actions drawn from precomputed numpy tables: legal
ones, picked from the action mask with one add and one argmax, where the env gives a mask;
uniform ones where it does not. The sampler's own cost is measured apart and printed as a share
of each step. Episodes that end are reset inside the timed loop, as a rollout would. Each
contestant's time is taken in a few rounds that go round all of them, so that load from other
work on a shared machine falls on the contestants alike and their ratios stay comparable.
"""

from __future__ import annotations

import os
import platform
from time import perf_counter

import numba
import numpy as np

import worlds
from worlds.cells import PASSABLE
from worlds.scenario import DELTAS

KEYS = 16  # precomputed random tables, cycled; enough that the chosen actions vary
# Each contestant's time is split into rounds taken in turn (see `measure_all`).
ROUNDS = 4
TARGET_SINGLE_VS_MINIGRID = 2.0
TARGET_BATCH_AGENT_STEPS = 1_000_000
TARGET_WORLDS = 1024
BATCH_SIZES = (1, 64, TARGET_WORLDS)
# (scenario, config): the PettingZoo single-env rows, then the batch-mode rows.
SINGLE = [("maze_v0", {}), ("plates_v0", {}), ("tag_v0", {}), ("maze_v0", {"num_agents": 4})]
BATCH = [
    ("maze_v0", {"num_agents": 4}),
    ("tag_v0", {}),
    ("forage_v0", {"num_agents": 4}),
    ("harvest_v0", {}),
    ("keys_v0", {}),
    ("keys_v0", {"num_agents": 2, "handover": True}),
    ("signal_v0", {"num_agents": 4}),
    ("plates_v0", {"num_agents": 4}),
    ("flags_v0", {}),
]


class PettingZooRun:
    """One `worlds.make_parallel` env with the default Dict observation."""

    period = 1  # steps between looks at the clock

    def __init__(self, name: str, seed: int = 0, **config):
        self.env = env = worlds.make_parallel(name, **config)
        self.obs, _ = env.reset(seed=seed)
        n = len(env.possible_agents)
        self.contestant, self.kind, self.num_worlds, self.num_agents = "grid-arena PettingZoo", "single", 1, n
        self.config = f"{name} {n} agent{'s' * (n > 1)}, dict obs"
        num_actions = env.action_space(env.possible_agents[0]).n
        self.keys = np.random.default_rng(seed).random((KEYS, n, num_actions), dtype=np.float32)
        self.k = 0

    def sample(self) -> dict:
        agents = self.env.agents
        self.k = (self.k + 1) % KEYS
        masks = np.stack([self.obs[a]["action_mask"] for a in agents])
        return dict(zip(agents, (masks + self.keys[self.k, : len(agents)]).argmax(1).tolist(), strict=True))

    def step(self) -> tuple[int, int]:
        actions = self.sample()
        self.obs, *_ = self.env.step(actions)
        if not self.env.agents:
            self.obs, _ = self.env.reset()
        return 1, len(actions)


class BatchRun:
    """`worlds.make_batch` with B worlds, int actions [B, N]; observations built every step."""

    def __init__(self, name: str, num_worlds: int, seed: int = 0, **config):
        self.env = env = worlds.make_batch(name, num_worlds=num_worlds, seed=seed, **config)
        self.obs = env.reset()
        self.slots = num_worlds * env.num_agents
        # All worlds truncate together at max_cycles, so the auto-reset's cost comes in bursts:
        # timing whole multiples of max_cycles steps counts each burst as often as a rollout does.
        self.period = env.scenario.max_cycles
        self.contestant, self.kind = "grid-arena batch", "batch"
        self.num_worlds, self.num_agents = num_worlds, env.num_agents
        view = env.scenario.view_size
        self.config = f"{name} B={num_worlds} {env.num_agents} agents {view}x{view}"
        shape = (KEYS, num_worlds, env.num_agents, env.single_action_space.n)
        self.keys = np.random.default_rng(seed).random(shape, dtype=np.float32)
        self.k = 0

    def sample(self) -> np.ndarray:
        self.k = (self.k + 1) % KEYS
        return (self.obs["action_mask"] + self.keys[self.k]).argmax(-1)

    def step(self) -> tuple[int, int]:
        self.obs, *_ = self.env.step(self.sample())
        return self.env.num_worlds, self.slots  # agent-steps count every seat, as the issue does


class BareGrid:
    """The ceiling: moves blocked by walls and a one-channel 7x7 terrain gather, nothing else
    (no other agents, no rules, no masks), on the same maps as maze_v0 with 4 agents."""

    period = 1  # steps between looks at the clock

    def __init__(self, num_worlds: int = TARGET_WORLDS, num_agents: int = 4, view: int = 7, seed: int = 0):
        world = worlds.make_batch("maze_v0", num_worlds, seed=seed, num_agents=num_agents, view_size=view)
        world.reset()
        state = world.world
        _, height, width = state.terrain.shape
        self.terrain = state.terrain.reshape(-1)
        self.pos = (state.pos[..., 0] + state.pad) * width + state.pos[..., 1] + state.pad  # flat
        self.world_base = (np.arange(num_worlds) * height * width)[:, None]
        r = view // 2
        span = np.arange(-r, r + 1)
        self.window = (span[:, None] * width + span[None, :]).reshape(-1)  # flat offsets [V*V]
        self.delta = DELTAS[:, 0] * width + DELTAS[:, 1]
        rng = np.random.default_rng(seed)
        self.keys = rng.integers(0, len(DELTAS), (KEYS, num_worlds, num_agents))
        self.slots = num_worlds * num_agents
        self.contestant, self.kind = "bare numpy grid step", "reference"
        self.num_worlds, self.num_agents = num_worlds, num_agents
        self.config = f"B={num_worlds} {num_agents} agents {view}x{view}x1, no rules"
        self.k = 0

    def sample(self) -> np.ndarray:
        self.k = (self.k + 1) % KEYS
        return self.keys[self.k]

    def step(self) -> tuple[int, int]:
        target = self.pos + self.delta[self.sample()]
        self.pos = np.where(PASSABLE[self.terrain[self.world_base + target]], target, self.pos)
        here = self.world_base + self.pos
        self.view = self.terrain[here[..., None] + self.window]  # [B, N, V*V]
        return self.num_worlds, self.slots


class MiniGridRun:
    """MiniGrid through `gymnasium.make`, one agent, its standard 7x7x3 image in a Dict."""

    period = 1  # steps between looks at the clock

    def __init__(self, env_id: str = "MiniGrid-Empty-8x8-v0", seed: int = 0):
        import gymnasium
        import minigrid  # noqa: F401  (registers the MiniGrid env ids)

        self.env = gymnasium.make(env_id)
        self.env.reset(seed=seed)
        self.contestant, self.kind, self.num_worlds, self.num_agents = "MiniGrid", "peer", 1, 1
        self.version = minigrid.__version__
        self.config = f"{self.version} {env_id}, 1 agent, 7x7x3 obs"
        self.keys = np.random.default_rng(seed).integers(0, self.env.action_space.n, KEYS * 64).tolist()
        self.k = 0

    def sample(self) -> int:
        self.k = (self.k + 1) % len(self.keys)
        return self.keys[self.k]

    def step(self) -> tuple[int, int]:
        _, _, terminated, truncated, _ = self.env.step(self.sample())
        if terminated or truncated:
            self.env.reset()
        return 1, 1


class MAgentRun:
    """MAgent2's battle as a PettingZoo ParallelEnv; agent-steps count the agents still alive."""

    period = 1  # steps between looks at the clock

    def __init__(self, map_size: int = 45, seed: int = 0):
        import magent2
        from magent2.environments import battle_v4

        self.env = env = battle_v4.parallel_env(map_size=map_size)
        env.reset(seed=seed)
        n = len(env.possible_agents)
        view = env.observation_space(env.possible_agents[0]).shape
        self.contestant, self.kind, self.num_worlds, self.num_agents = "MAgent2", "peer", 1, n
        self.version = getattr(magent2, "__version__", "?")
        self.config = (
            f"{self.version} battle_v4 map_size={map_size}, {n} agents, {'x'.join(map(str, view))} obs"
        )
        num_actions = env.action_space(env.possible_agents[0]).n
        self.keys = np.random.default_rng(seed).integers(0, num_actions, (KEYS, n))
        self.k = 0

    def sample(self) -> dict:
        agents = self.env.agents
        self.k = (self.k + 1) % KEYS
        return dict(zip(agents, self.keys[self.k, : len(agents)].tolist(), strict=True))

    def step(self) -> tuple[int, int]:
        actions = self.sample()
        self.env.step(actions)
        if not self.env.agents:
            self.env.reset()
        return 1, len(actions)


def measure(runner, seconds: float, warmup: float) -> dict:
    """Steps `runner` for `seconds` after `warmup` seconds; one row of the table."""
    return measure_all([runner], seconds, warmup, rounds=1)[0]


def measure_all(runners: list, seconds: float, warmup: float, rounds: int = ROUNDS) -> list[dict]:
    """Steps each runner for `seconds` in all after `warmup` seconds, in `rounds` turns taken
    round-robin, so that a load that comes and goes on a shared machine weighs on every
    contestant alike; one row of the table per runner."""
    for runner in runners:
        _loop(runner.step, warmup)
    totals = [[0, 0, 0, 0.0] for _ in runners]
    for _ in range(rounds):
        for runner, total in zip(runners, totals, strict=True):
            for k, value in enumerate(_loop(runner.step, seconds / rounds, runner.period)):
                total[k] += value
    rows = []
    for runner, (calls, env_steps, agent_steps, elapsed) in zip(runners, totals, strict=True):
        sample_calls, *_, sample_elapsed = _loop(runner.sample, max(seconds / 10, 1e-3), count=False)
        rows.append(
            {
                "contestant": runner.contestant,
                "config": runner.config,
                "kind": runner.kind,
                "num_worlds": runner.num_worlds,
                "num_agents": runner.num_agents,
                "env_steps_per_s": env_steps / elapsed,
                "agent_steps_per_s": agent_steps / elapsed,
                "sampler_share": (sample_elapsed / sample_calls) / (elapsed / calls),
                "calls": calls,
                "seconds": elapsed,
            }
        )
    return rows


def _loop(fn, seconds: float, period: int = 1, count: bool = True) -> tuple[int, int, int, float]:
    """Calls `fn` until `seconds` have passed and the calls are a multiple of `period`."""
    calls = env_steps = agent_steps = 0
    start = perf_counter()
    deadline = start + seconds
    while True:
        done = fn()
        calls += 1
        if count:
            env_steps += done[0]
            agent_steps += done[1]
        if calls % period == 0:
            now = perf_counter()
            if now >= deadline:
                return calls, env_steps, agent_steps, now - start


def run(
    quick: bool = False,
    peers: bool = True,
    seconds: float | None = None,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
) -> list[dict]:
    """Measures every contestant, prints the table and the issue's targets, returns the rows.

    `seconds` per measurement defaults to 3 (0.5 with `quick`); warm-up is a third of that.
    """
    seconds = seconds if seconds is not None else (0.5 if quick else 3.0)
    warmup = seconds / 3
    print(machine())
    ready = warm_kernels()
    print(f"engine kernels ready in {ready:.2f} s (numba: compiled on first use, then cached on disk)")
    print(
        f"{seconds:g} s per measurement after {warmup:.2g} s warm-up, taken in {ROUNDS} rounds that go "
        "round all contestants; random legal actions.\n",
        flush=True,
    )
    makers = [(lambda n=n, c=c: PettingZooRun(n, **c)) for n, c in SINGLE]
    makers += [(lambda n=n, b=b, c=c: BatchRun(n, b, **c)) for n, c in BATCH for b in batch_sizes]
    makers.append(lambda: BareGrid(max(batch_sizes)))
    if peers:
        makers += [MiniGridRun, MAgentRun]
    runners, notes = [], []
    for maker in makers:
        try:
            runners.append(maker())
        except ImportError as err:  # a peer that is not installed
            notes.append(f"{maker.__name__.removesuffix('Run')} skipped: not importable ({err})")
            print(f"  {notes[-1]}", flush=True)
    print(
        f"  measuring {len(runners)} contestants, about {len(runners) * seconds * 1.43:.0f} s ...", flush=True
    )
    rows = measure_all(runners, seconds, warmup)
    print()
    print(format_table(rows))
    for note in notes:
        print(note)
    print()
    print(targets(rows))
    return rows


def warm_kernels() -> float:
    """Seconds until every scenario has reset and stepped once: the engine's numba kernels are
    compiled then (or loaded from their on-disk cache), so no measurement below includes it."""
    start = perf_counter()
    for name in worlds.SCENARIOS:
        env = worlds.make_parallel(name)
        env.reset(seed=0)
        env.step(dict.fromkeys(env.agents, 0))
    return perf_counter() - start


def machine() -> str:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return (
        f"machine: {platform.machine()} {platform.processor() or platform.system()}, "
        f"{cores} cores ({usable} usable), Python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}"
    )


def format_table(rows: list[dict]) -> str:
    head = ("contestant", "config", "env-steps/s", "agent-steps/s", "sampler")
    body = [
        (
            r["contestant"],
            r["config"],
            f"{r['env_steps_per_s']:,.0f}",
            f"{r['agent_steps_per_s']:,.0f}",
            f"{100 * r['sampler_share']:.1f}%",
        )
        for r in rows
    ]
    widths = [max(len(line[k]) for line in [head, *body]) for k in range(len(head))]
    lines = []
    for line in [head, *body]:
        cells = [line[k].ljust(widths[k]) if k < 2 else line[k].rjust(widths[k]) for k in range(len(head))]
        lines.append(" | ".join(cells))
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def targets(rows: list[dict]) -> str:
    """The project's speed goals, each said met or not in this run (figures, not asserts)."""
    lines = ["speed goals (this run):"]
    minigrid = [r for r in rows if r["contestant"] == "MiniGrid"]
    goal = TARGET_SINGLE_VS_MINIGRID
    for r in rows:
        if r["kind"] != "single" or r["num_agents"] != 4:
            continue
        head = f"  PettingZoo single env {r['config']}: >= {goal:g}x MiniGrid env-steps/s:"
        if not minigrid:
            lines.append(f"{head} not measured (MiniGrid skipped)")
            continue
        ratio = r["env_steps_per_s"] / minigrid[0]["env_steps_per_s"]
        lines.append(f"{head} {ratio:.2f}x -> {'met' if ratio >= goal else 'NOT met'}")
    batch = [r for r in rows if r["kind"] == "batch" and r["num_worlds"] == TARGET_WORLDS]
    for r in batch:
        rate, goal = r["agent_steps_per_s"], TARGET_BATCH_AGENT_STEPS
        verdict = "met" if rate >= goal else "NOT met"
        lines.append(f"  batch {r['config']}: >= {goal:,} agent-steps/s: {rate:,.0f} -> {verdict}")
    if not batch:
        lines.append(f"  batch B={TARGET_WORLDS}, 4 agents, 7x7: not measured")
    return "\n".join(lines)


def bench(args) -> None:
    """The `arena bench` subcommand."""
    run(quick=args.quick, peers=not args.no_peers, seconds=args.seconds)


def add_arguments(parser) -> None:
    """The benchmark's flags, shared by `arena bench` and `python -m benchmarks.engine`."""
    parser.add_argument("--quick", action="store_true", help="short measurements (0.5 s each)")
    parser.add_argument("--no-peers", action="store_true", help="skip MiniGrid and MAgent2")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per measurement (default 3)")


def add_parser(subparsers) -> None:
    """Registers `arena bench` on the CLI's subparsers."""
    parser = subparsers.add_parser("bench", help="measure env-steps/s and agent-steps/s against peers")
    add_arguments(parser)
    parser.set_defaults(func=bench)
