"""PPO's loss on one minibatch, shared by the policy-gradient learners (`agents.policy_gradient`,
`agents.recurrent` and `agents.lm.ppo`): the clipped-ratio policy loss (plain policy gradient with
`clip` 0), the value loss and the entropy bonus, with the diagnostics every PPO logs; and the
GAE(lambda) advantages they all start from.
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


def gae(reward, value, last_value, boot, term, trunc, active, gamma: float, lam: float) -> torch.Tensor:
    """Generalized advantage estimates, float[T, n], of T steps of n rows.

    `value[t]` is V(obs_t); the next state's value is `value[t + 1]`, or `last_value` after the
    last step, or `boot[t]` (V of the last observation) where the row was truncated at t; a
    termination (`term`) ends the return. Rows not `active` at t have advantage 0 and cut the
    recursion, as does any episode end."""
    T = len(reward)
    adv = torch.zeros_like(reward)
    running = torch.zeros_like(last_value)
    for t in reversed(range(T)):
        next_value = last_value if t == T - 1 else value[t + 1]
        next_value = torch.where(trunc[t], boot[t], next_value)
        delta = reward[t] + gamma * next_value * ~term[t] - value[t]
        going = ~(term[t] | trunc[t])
        running = torch.where(active[t], delta + gamma * lam * going * running, 0.0)
        adv[t] = running
    return adv
