"""The plasticity remedies on a tiny net: each does what it says."""

from __future__ import annotations

import pytest
import torch

from agents.nets import PolicyValueNet
from agents.plasticity import L2Init, check_plasticity, levels, reset_last_layers, shrink_perturb
from worlds.errors import ConfigError


def tiny_net(seed: int) -> PolicyValueNet:
    torch.manual_seed(seed)
    return PolicyValueNet((3, 3), 4, kind="mlp", hidden=8)


def weights(net) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def test_shrink_perturb_scales_and_adds_noise_of_the_stated_size():
    net = tiny_net(0)
    before = weights(net)
    shrink_perturb(net, 0.5, 0.0)  # no noise: exactly half
    for key, value in net.state_dict().items():
        assert torch.equal(value, 0.5 * before[key])
    net = tiny_net(0)
    shrink_perturb(net, 0.8, 0.1, torch.Generator().manual_seed(1))
    noise = torch.cat([(net.state_dict()[k] - 0.8 * before[k]).flatten() for k in before])
    g = torch.Generator().manual_seed(1)
    expected = torch.cat([torch.randn(v.shape, generator=g).flatten() for v in before.values()])
    assert torch.allclose(noise, 0.1 * expected, atol=1e-6)  # the same draws, times sp_noise
    assert len(noise) > 1000 and abs(float(noise.std()) - 0.1) < 0.01  # the stated size


def test_l2_init_loss_is_zero_at_init_grows_and_pulls_back():
    net = tiny_net(0)
    reg = L2Init(net, 0.5)
    assert reg.loss().item() == 0.0
    losses = []
    for step in (0.01, 0.1, 1.0):
        with torch.no_grad():
            net.value.bias.fill_(step)
        losses.append(reg.loss().item())
    assert losses == pytest.approx([0.5 * s**2 for s in (0.01, 0.1, 1.0)])  # one weight moved by s
    # attached: an optimizer step with no other loss is a gradient step on the regularizer alone
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    reg.attach(opt)
    opt.zero_grad()
    opt.step()
    assert float(net.value.bias) == pytest.approx(1.0 - 0.1 * 2 * 0.5 * 1.0)
    assert reg.loss().item() < losses[-1]


def test_reset_reinitializes_exactly_the_last_layers():
    net, fresh = tiny_net(0), tiny_net(1)
    assert levels(net) == [["policy", "value"], ["encoder.body.3"], ["encoder.body.1"]]
    opt = torch.optim.Adam(net.parameters())
    logits, value = net(torch.zeros((2, 3, 3, 3), dtype=torch.uint8))
    (logits.sum() + value.sum()).backward()
    opt.step()
    before = weights(net)
    reset = reset_last_layers(net, 1, fresh, opt)
    assert reset == ["policy", "value"]
    after, new = net.state_dict(), fresh.state_dict()
    for key in before:
        if key.split(".")[0] in ("policy", "value"):
            assert torch.equal(after[key], new[key]) and not torch.equal(after[key], before[key])
        else:
            assert torch.equal(after[key], before[key])
    assert net.policy.weight not in opt.state and net.encoder.body[1].weight in opt.state
    reset_last_layers(net, 2, fresh)
    assert torch.equal(net.encoder.body[3].weight, fresh.encoder.body[3].weight)
    assert not torch.equal(net.encoder.body[1].weight, fresh.encoder.body[1].weight)


def test_plasticity_settings_are_checked():
    assert check_plasticity({"sp_shrink": 0.5, "lr": 1})["sp_shrink"] == 0.5
    for bad in ({"sp_shrink": 0}, {"sp_noise": -1}, {"reset_layers": 0.5}, {"l2_init": "x"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            check_plasticity(bad)
