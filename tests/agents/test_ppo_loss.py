"""The shared PPO loss: clipping, the plain policy gradient, entropy over legal actions only."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from agents.nets import masked
from agents.ppo_loss import ppo_loss


def batch(logits, legal, action, old_logp, adv, ret=(0.0,)):
    logits = torch.tensor(logits, requires_grad=True)
    logp_all = F.log_softmax(masked(logits, torch.tensor(legal)), -1)
    mb = {
        "action": torch.tensor(action),
        "old_logp": torch.tensor(old_logp),
        "adv": torch.tensor(adv),
        "ret": torch.tensor(ret),
    }
    return logits, logp_all, mb


def test_entropy_counts_legal_actions_only_and_fresh_ratio_has_no_kl():
    logits, logp_all, mb = batch([[0.0, 0.0, 5.0]], [[True, True, False]], [0], [math.log(0.5)], [1.0])
    loss, parts = ppo_loss(logp_all, torch.tensor([0.5]), mb, clip=0.2, vf_coef=0.5, ent_coef=0.01)
    assert math.isclose(parts["entropy"], math.log(2), rel_tol=1e-6)
    assert abs(parts["approx_kl"]) < 1e-7 and parts["clip_fraction"] == 0.0
    assert math.isclose(parts["value_loss"], 0.125, rel_tol=1e-6)  # 0.5 * (0.5 - 0) ** 2
    assert math.isclose(loss.item(), -1.0 + 0.5 * 0.125 - 0.01 * math.log(2), rel_tol=1e-6)


def test_clipping_stops_the_gradient_past_the_trust_region():
    # the action's probability is 0.5 now and was 0.25: ratio 2, beyond 1 + 0.2
    logits, logp_all, mb = batch([[0.0, 0.0]], [[True, True]], [0], [math.log(0.25)], [1.0])
    loss, parts = ppo_loss(logp_all, torch.zeros(1), mb, clip=0.2, vf_coef=0.0, ent_coef=0.0)
    loss.backward()
    assert parts["clip_fraction"] == 1.0 and math.isclose(parts["policy_loss"], -1.2, rel_tol=1e-6)
    assert torch.all(logits.grad == 0)
    # clip 0: the plain policy gradient, which still pushes the action up
    logits, logp_all, mb = batch([[0.0, 0.0]], [[True, True]], [0], [math.log(0.25)], [1.0])
    loss, parts = ppo_loss(logp_all, torch.zeros(1), mb, clip=0.0, vf_coef=0.0, ent_coef=0.0)
    loss.backward()
    assert math.isclose(parts["policy_loss"], -2.0, rel_tol=1e-6)
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]  # descent raises action 0
