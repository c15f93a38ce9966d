"""Headless episodes: play a PettingZoo env to the end, keep the returns and (optionally) frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agents.files import write_atomic
from agents.random_agent import RandomAgent


@dataclass
class Episode:
    steps: int = 0
    returns: dict[str, float] = field(default_factory=dict)
    ended: dict[str, str] = field(default_factory=dict)  # agent -> "terminated" | "truncated"
    frames: list[np.ndarray] = field(default_factory=list)


def play_episode(
    env, agent: RandomAgent, seed: int | None, keep_frames: bool = False, stride: int = 1
) -> Episode:
    """One episode of a ParallelEnv (built with render_mode="rgb_array" if frames are kept;
    every `stride`-th pixel of them, to keep a huge map's frames small)."""
    obs, _ = env.reset(seed=seed)
    episode = Episode(returns=dict.fromkeys(env.possible_agents, 0.0))
    if keep_frames:
        episode.frames.append(env.render()[::stride, ::stride])
    while env.agents:
        masks = np.stack([obs[a]["action_mask"] for a in env.agents])
        actions = dict(zip(env.agents, agent.act(masks).tolist(), strict=True))
        obs, rewards, terms, truncs, _ = env.step(actions)
        episode.steps += 1
        for a, r in rewards.items():
            episode.returns[a] += r
        for a in rewards:
            if terms[a] or truncs[a]:
                episode.ended[a] = "terminated" if terms[a] else "truncated"
        if keep_frames:
            episode.frames.append(env.render()[::stride, ::stride])
    return episode


def save_png(frame: np.ndarray, path: str | Path) -> Path:
    from PIL import Image

    return write_atomic(path, lambda tmp: Image.fromarray(frame).save(tmp, format="PNG"))


def frame_ms(fps: int) -> int:
    """A frame's duration in a GIF: 1000 / fps rounded to whole centiseconds."""
    return 10 * round(100 / fps)


def save_gif(frames: list[np.ndarray], path: str | Path, fps: int = 6) -> Path:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    # GIF counts time in centiseconds; hold the last frame so the outcome can be read.
    durations = [frame_ms(fps)] * (len(images) - 1) + [1500]

    def write(tmp):
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)

    return write_atomic(path, write)
