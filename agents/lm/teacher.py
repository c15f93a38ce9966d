"""Distillation from a teacher's action distributions into a language-model student.

The teacher is any controller of a seat: a trained RL team (a checkpoint: its softmax policy,
read from `thinking()`), a scripted planner (its chosen action, one-hot, or with `target="q"`
every action its path values rate best), or another LM. `collect` plays batch worlds in which
the student's team is labelled by the teacher at every live row: prompt (as the LM seat builds
it), the teacher's distribution over the scenario's actions and the legal ones. In the first
round the teacher's own actions are played (with probability `epsilon` a random legal one, to
visit states off its path); in later rounds the student plays and the teacher labels the states
the student reaches (DAgger, Ross et al. 2011). `train` fits the student's policy (the softmax
over legal actions of each action's log-likelihood, as `LMController` acts) to the teacher's by
KL(teacher || student), and `agreement` measures how often the student's best action is one of
the teacher's most likely.

A word-level student meets words it lacks in a scenario it was not built for (keys_v0's
`pickup`); `extend_vocabulary` appends them to its tokenizer and gives each new embedding the
mean of the old ones, so every earlier token keeps its id and its weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from agents.base import Observations, thinking_of
from agents.lm.distill import optimizer
from agents.lm.prompt import HISTORY_LENGTH, Prompt, build_prompt, candidate
from agents.lm.scoring import Scorer
from worlds.batch import BatchEnv
from worlds.scenario import Scenario

TARGETS = ("policy", "q", "onehot")
_MASKED = -1e9  # the log-likelihood given to illegal actions (finite: no inf * 0 in gradients)


@dataclass
class PolicyCorpus:
    """Prompts of the student's team and the teacher's distribution at each."""

    prompts: list[Prompt] = field(default_factory=list)
    target: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # [n, A]
    legal: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))  # [n, A]

    def __len__(self) -> int:
        return len(self.prompts)

    def __add__(self, other: PolicyCorpus) -> PolicyCorpus:
        if not len(self):
            return other
        return PolicyCorpus(
            self.prompts + other.prompts,
            np.concatenate([self.target, other.target]),
            np.concatenate([self.legal, other.legal]),
        )


def teacher_policy(teacher, obs: Observations, target: str = "policy") -> tuple[np.ndarray, np.ndarray]:
    """(the teacher's actions int[n], its distribution float32[n, A] over the scenario's
    actions, 0 on illegal ones). `policy`: the probabilities the teacher's `thinking()` shows
    (a planner's are one-hot); `q`: uniform over the actions a planner's path values rate best,
    where its chosen action is one of them (else one-hot); `onehot`: the chosen action."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    actions = np.asarray(teacher.act(obs), dtype=np.int64)
    legal = obs.action_mask.astype(bool)
    n, A = legal.shape
    onehot = np.zeros((n, A), np.float32)
    onehot[np.arange(n), actions] = 1.0
    thought = thinking_of(teacher)
    if target == "onehot" or thought is None or thought.kind != "probs":
        return actions, onehot  # a Q-learner's values are no distribution: its greedy action
    if target == "q":
        q = thought.extras.get("q")
        if q is None:
            raise ValueError(
                f"the teacher ({getattr(teacher, 'name', '?')}) shows no q values: use --target policy"
            )
        q = np.asarray(q, np.float64)[:, :A]
        known = legal & np.isfinite(q)
        best = np.where(known, q, -np.inf).max(1, keepdims=True)
        ties = known & (q >= best - 1e-6)
        use = ties[np.arange(n), actions]
        probs = np.where(use[:, None], ties / np.maximum(ties.sum(1, keepdims=True), 1), onehot)
        return actions, probs.astype(np.float32)
    probs = np.nan_to_num(np.asarray(thought.values, np.float64)[:, :A]) * legal
    total = probs.sum(1, keepdims=True)
    probs = np.where(total > 0, probs / np.maximum(total, 1e-12), onehot)
    return actions, probs.astype(np.float32)


def rows(obs: Observations, index: np.ndarray) -> Observations:
    return Observations(
        obs.scenario, obs.state, obs.view[index], obs.action_mask[index], obs.world[index], obs.agent[index]
    )


def collect(
    scenario: Scenario,
    teacher,
    agents: np.ndarray,
    opponent,
    worlds: int,
    steps: int,
    seed: int,
    epsilon: float = 0.0,
    actor=None,
    target: str = "policy",
) -> PolicyCorpus:
    """`steps` batch steps of `worlds` worlds (world b seeded `seed + b`, reset when done):
    every live row of `agents` labelled by the teacher; the teacher plays them (or `actor`, the
    student, when given), `opponent` every other agent."""
    env = BatchEnv(scenario, worlds, seed)
    raw = env.reset()
    agents = np.asarray(agents, dtype=np.int64)
    others = np.setdiff1d(np.arange(scenario.num_agents), agents)
    rng = np.random.default_rng(seed)
    memory: dict[tuple[int, int], list[str]] = {}
    prompts, targets, legals = [], [], []
    for _ in range(steps):
        actions = np.zeros((worlds, scenario.num_agents), dtype=np.int64)
        obs = Observations.of_batch(scenario, env.world, raw, agents)
        live = np.flatnonzero(env.world.alive[obs.world, obs.agent])
        if len(live):
            sub = rows(obs, live)
            wanted, probs = teacher_policy(teacher, sub, target)
            keys = sub.seats()
            for key, t in zip(keys, sub.steps().tolist(), strict=True):
                if t == 0:
                    memory[key] = []
            prompts += [
                build_prompt(text, memory.get(k, ())) for text, k in zip(sub.texts(), keys, strict=True)
            ]
            targets.append(probs)
            legals.append(sub.action_mask.astype(bool))
            if actor is None:
                executed = wanted.copy()
                wild = np.flatnonzero(rng.random(len(live)) < epsilon)
                noise = rng.random((len(wild), sub.action_mask.shape[1])) * sub.action_mask[wild]
                executed[wild] = noise.argmax(-1)
            else:
                executed = np.asarray(actor.act(sub), dtype=np.int64)
            for key, a in zip(keys, executed.tolist(), strict=True):
                memory[key] = [*memory.get(key, ()), scenario.actions[a]][-HISTORY_LENGTH:]
            actions[sub.world, sub.agent] = executed
        if len(others):
            theirs = Observations.of_batch(scenario, env.world, raw, others)
            alive = np.flatnonzero(env.world.alive[theirs.world, theirs.agent])
            if len(alive):
                part = rows(theirs, alive)
                actions[part.world, part.agent] = opponent.act(part)
        raw, *_ = env.step(actions)
    if not prompts:
        return PolicyCorpus()
    return PolicyCorpus(prompts, np.concatenate(targets), np.concatenate(legals))


def policy_kl(scores: torch.Tensor, target: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) per row, the student's policy being the softmax over legal actions
    of the action scores."""
    logp = torch.log_softmax(scores.masked_fill(~legal, _MASKED), -1)
    terms = torch.where(target > 0, target * (torch.log(target.clamp_min(1e-12)) - logp), 0.0)
    return terms.sum(-1)


def train(
    model,
    tokenizer,
    actions,
    corpus: PolicyCorpus,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> list[float]:
    """Fit the student's policy to the teacher's (KL, AdamW with warm-up and cosine decay);
    returns each epoch's mean loss. Shuffling comes from `seed`."""
    scorer = Scorer(model, tokenizer, actions)
    rng = np.random.default_rng(seed)
    opt, sched = optimizer(model, lr, epochs * -(-len(corpus) // batch_size))
    target = torch.as_tensor(corpus.target)
    legal = torch.as_tensor(corpus.legal)
    model.train()
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(len(corpus))
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            scores = scorer.score([corpus.prompts[k] for k in idx.tolist()]).scores
            idx_t = torch.as_tensor(idx)
            loss = policy_kl(scores, target[idx_t].to(scores.device), legal[idx_t].to(scores.device)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        losses.append(total / len(corpus))
        if log:
            log(f"epoch {epoch + 1}/{epochs}: KL to the teacher {losses[-1]:.4f}")
    model.eval()
    return losses


@torch.no_grad()
def agreement(model, tokenizer, actions, corpus: PolicyCorpus, batch_size: int = 256) -> dict[str, float]:
    """Share of states where the student's most likely legal action is one of the teacher's
    most likely (`agreement`), and the mean KL(teacher || student) (`kl`)."""
    was_training = model.training
    model.eval()
    scorer = Scorer(model, tokenizer, actions)
    hits, kls = [], []
    for start in range(0, len(corpus), batch_size):
        part = slice(start, start + batch_size)
        scores = scorer.score(corpus.prompts[part], cache=False).scores.float().cpu()
        target, legal = torch.as_tensor(corpus.target[part]), torch.as_tensor(corpus.legal[part])
        kls.append(policy_kl(scores, target, legal))
        best = scores.masked_fill(~legal, _MASKED).argmax(-1)
        chosen = target.gather(1, best[:, None])[:, 0]
        hits.append(chosen >= target.max(1).values - 1e-6)
    model.train(was_training)
    return {"agreement": float(torch.cat(hits).float().mean()), "kl": float(torch.cat(kls).mean())}


# -- the student's words ----------------------------------------------------------------------
def scenario_texts(scenario: Scenario, corpus: PolicyCorpus) -> list[str]:
    """Every text the student will read or say in the scenario: the corpus' prompts, the
    actions as candidates, the agents', teams' and goals' words."""
    texts = [p.text for p in corpus.prompts] + [candidate(a) for a in scenario.actions]
    texts += list(scenario.agent_names) + list(scenario.team_names)
    return texts + [scenario.goal_words(i) for i in range(scenario.num_agents)]


def extend_vocabulary(model, tokenizer, texts: list[str]):
    """(model, tokenizer, added words): a word-level tokenizer gains the words of `texts` it
    lacks, appended after its own (ids unchanged), and the model an embedding row for each, the
    mean of the old rows. Other tokenizers spell any word: returned as they are."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not isinstance(backend.model, models.WordLevel):
        return model, tokenizer, []
    vocab = tokenizer.get_vocab()
    split = backend.pre_tokenizer.pre_tokenize_str if backend.pre_tokenizer else lambda t: [(t, None)]
    new = sorted({piece for text in texts for piece, _ in split(text)} - set(vocab))
    if not new:
        return model, tokenizer, []
    size = len(vocab)
    core = Tokenizer(
        models.WordLevel(
            vocab=vocab | {w: size + k for k, w in enumerate(new)}, unk_token=tokenizer.unk_token
        )
    )
    core.pre_tokenizer = backend.pre_tokenizer
    grown = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=tokenizer.bos_token,
        eos_token=tokenizer.eos_token,
        unk_token=tokenizer.unk_token,
        pad_token=tokenizer.pad_token,
        clean_up_tokenization_spaces=False,
        model_max_length=tokenizer.model_max_length,
    )
    rows_before = model.get_input_embeddings().weight.shape[0]
    model.resize_token_embeddings(max(rows_before, len(grown)), mean_resizing=False)
    with torch.no_grad():
        for layer in {
            id(m): m for m in (model.get_input_embeddings(), model.get_output_embeddings())
        }.values():
            if layer is not None:
                layer.weight[size : size + len(new)] = layer.weight[:size].mean(0)
    return model, grown, new
