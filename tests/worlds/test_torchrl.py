"""TorchRL as a client (in the test extra): its `PettingZooWrapper` takes tag_v0, where caught
runners leave the game, in the parallel form (`use_mask=True`, `done_on_any=False`) and in the
AEC form (which also needs `keep_removed=True`: TorchRL sends an action, not None, for a departed
agent). Random rollouts sample from the action spec TorchRL masks with the masks our infos
carry; every action a live agent takes is legal."""

from __future__ import annotations

import warnings

import pytest

import worlds

pytest.importorskip("torchrl", reason="TorchRL is not installed (pip install torchrl)")
torch = pytest.importorskip("torch")

STEPS = 60


def wrapped(form: str, **config):
    from torchrl.envs.libs.pettingzoo import PettingZooWrapper

    make = worlds.make_parallel if form == "parallel" else worlds.make_env
    with warnings.catch_warnings():  # TorchRL names the PettingZoo version it was tested with
        warnings.simplefilter("ignore", UserWarning)
        return PettingZooWrapper(
            make("tag_v0", obs_type="flat", size=5, style="open", max_cycles=12, **config),
            use_mask=True,
            done_on_any=False,
            seed=0,
        )


def legal_for_live_agents(rollout, group: str) -> bool:
    taken = rollout[group, "action"].unsqueeze(-1)
    legal = rollout[group, "action_mask"].gather(-1, taken).squeeze(-1)
    return bool((legal | ~rollout[group, "mask"]).all())


def test_parallel_groups_mask_departed_runners() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    env = wrapped("parallel")
    assert env.group_map == {"hunter": ["hunter_0", "hunter_1"], "runner": ["runner_0", "runner_1"]}
    rollout = env.rollout(STEPS, break_when_any_done=False)
    for group in env.group_map:
        assert legal_for_live_agents(rollout, group)
        assert rollout[group, "observation"].shape[-1] == env.observation_spec[group, "observation"].shape[-1]
    runners_in = rollout["runner", "mask"]
    assert not runners_in.all(), "no runner was caught: the test saw no agent leave"
    # a departed runner earns nothing, and the episode goes on until every agent is done
    assert not rollout["next", "runner", "reward"].squeeze(-1)[~runners_in].any()
    ends = rollout["next", "done"].squeeze(-1)
    assert ends.any()
    for step in ends.nonzero().flatten().tolist():
        assert rollout["next", "hunter", "done"][step].all() and rollout["next", "runner", "done"][step].all()


def test_aec_with_keep_removed_plays_one_agent_a_step() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    env = wrapped("aec", keep_removed=True)
    assert list(env.group_map) == ["hunter_0", "hunter_1", "runner_0", "runner_1"]
    rollout = env.rollout(STEPS, break_when_any_done=False)
    acting = torch.stack([rollout[g, "mask"].squeeze(-1) for g in env.group_map], -1)
    assert (acting.sum(-1) == 1).all()  # AEC: one agent acts per step, in turn
    for group in env.group_map:
        assert legal_for_live_agents(rollout, group)
    assert rollout["next", "done"].any()
