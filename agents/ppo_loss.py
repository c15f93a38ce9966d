"""PPO's loss on one minibatch, shared by the policy-gradient learners (`agents.policy_gradient`
and `agents.lm.ppo`): the clipped-ratio policy loss (plain policy gradient with `clip` 0), the
value loss and the entropy bonus, with the diagnostics every PPO logs.
"""

from __future__ import annotations

import torch


def ppo_loss(
    logp_all: torch.Tensor,
    value: torch.Tensor,
    mb: dict[str, torch.Tensor],
    clip: float,
    vf_coef: float,
    ent_coef: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """(loss, its parts as floats) of a minibatch.

    `logp_all` float[n, A]: the policy's log-probabilities now, illegal actions masked with a
    finite logit (so they have probability 0 and add nothing to the entropy); `value` float[n].
    `mb` holds `action` int[n], `old_logp` (of the acting policy), `adv` and `ret` float[n].
    """
    logp = logp_all.gather(1, mb["action"][:, None]).squeeze(1)
    log_ratio = logp - mb["old_logp"]
    ratio = log_ratio.exp()
    adv = mb["adv"]
    if clip > 0:
        clipped = ratio.clamp(1 - clip, 1 + clip)
        policy_loss = -torch.minimum(ratio * adv, clipped * adv).mean()
    else:
        policy_loss = -(ratio * adv).mean()
    entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
    value_loss = 0.5 * ((value - mb["ret"]) ** 2).mean()
    loss = policy_loss + vf_coef * value_loss - ent_coef * entropy
    with torch.no_grad():
        approx_kl = ((ratio - 1) - log_ratio).mean()  # Schulman's low-variance estimator
        clip_fraction = ((ratio - 1).abs() > clip).float().mean() if clip > 0 else ratio.new_zeros(())
    parts = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}
    parts |= {"approx_kl": approx_kl, "clip_fraction": clip_fraction}
    return loss, {k: v.item() for k, v in parts.items()}
