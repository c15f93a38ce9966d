"""Knowledge distillation from the scripted planners into a language model.

`collect` plays seeded episodes of a scenario in batch mode and records, for every live agent
at every step, its prompt (text view + its recent actions) and the planner's action there. The
executed action is the planner's, or with probability `epsilon` a random legal one, so the corpus
also holds states off the planner's own path, labelled with how to recover (DAgger-lite). `train`
fits the model with the language-model loss on the action's words (cross-entropy over the whole
vocabulary of each action token after the prompt) and `accuracy` measures how often the model's
best legal action is the planner's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from agents.base import Observations
from agents.lm.prompt import HISTORY_LENGTH, Prompt, build_prompt
from agents.lm.scoring import Scorer
from worlds.batch import BatchEnv
from worlds.registry import make_scenario
from worlds.scenario import MOVES, Scenario

ACTIONS = (*MOVES, "tag")  # every scenario's actions, in one order (by name)

# (label, scenario name, config, episodes): the corpus `arena lm train` distils by default.
RECIPE = (
    ("maze", "maze_v0", {}, 260),
    ("maze rooms", "maze_v0", {"style": "rooms"}, 100),
    ("maze open", "maze_v0", {"style": "open", "size": 7}, 100),
    ("maze 2 agents", "maze_v0", {"num_agents": 2, "loops": 0.2}, 80),
    ("plates", "plates_v0", {}, 120),
    ("tag", "tag_v0", {}, 24),
)


@dataclass
class Corpus:
    prompts: list[Prompt] = field(default_factory=list)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # index in ACTIONS
    legal: np.ndarray = field(default_factory=lambda: np.zeros((0, len(ACTIONS)), bool))
    source: list[str] = field(default_factory=list)  # which recipe line each example came from

    def __len__(self) -> int:
        return len(self.prompts)

    def __add__(self, other: Corpus) -> Corpus:
        return Corpus(
            self.prompts + other.prompts,
            np.concatenate([self.labels, other.labels]),
            np.concatenate([self.legal, other.legal]),
            self.source + other.source,
        )

    def choices(self) -> Corpus:
        """The examples with more than one legal action: a forced move (a lost signal_v0 round
        leaves only `noop`) teaches nothing and costs a forward pass."""
        return self.take(np.flatnonzero(self.legal.sum(1) > 1))

    def take(self, idx: Sequence[int]) -> Corpus:
        idx = np.asarray(idx, dtype=np.int64)
        return Corpus(
            [self.prompts[k] for k in idx.tolist()],
            self.labels[idx],
            self.legal[idx],
            [self.source[k] for k in idx.tolist()],
        )


def collect(
    scenario: Scenario,
    episodes: int,
    seed: int,
    epsilon: float = 0.2,
    label: str | None = None,
    labeller: Callable | None = None,
    actions: Sequence[str] = ACTIONS,
) -> Corpus:
    """One episode in each of `episodes` worlds (world b seeded `seed + b`), every live agent's
    prompt at every step labelled by `labeller(scenario, seed)` (default: the scripted planner);
    labels index `actions`, the union of the action names of every scenario in the corpus."""
    if labeller is None:
        from agents.planners import make_planner as labeller
    env = BatchEnv(scenario, episodes, seed)
    teacher = labeller(scenario, seed)
    rng = np.random.default_rng(seed)
    agents = np.arange(scenario.num_agents)
    to_union = np.array([list(actions).index(a) for a in scenario.actions])
    memory = {}
    recording = np.ones(episodes, dtype=bool)
    corpus = Corpus(legal=np.zeros((0, len(actions)), bool))
    raw = env.reset()
    while recording.any():
        obs = Observations.of_batch(scenario, env.world, raw, agents)
        wanted = teacher.act(obs)
        rows = np.flatnonzero(env.world.alive[obs.world, obs.agent] & recording[obs.world])
        seen = Observations(
            scenario, env.world, obs.view[rows], obs.action_mask[rows], obs.world[rows], obs.agent[rows]
        )
        keys = seen.seats()
        corpus.prompts += [
            build_prompt(t, memory.get(k, ())) for t, k in zip(seen.texts(), keys, strict=True)
        ]
        corpus.labels = np.concatenate([corpus.labels, to_union[wanted[rows]]])
        legal = np.zeros((len(rows), len(actions)), dtype=bool)
        legal[:, to_union] = seen.action_mask.astype(bool)
        corpus.legal = np.concatenate([corpus.legal, legal])
        corpus.source += [label or scenario.name] * len(rows)

        executed = wanted.copy()
        wild = rows[rng.random(len(rows)) < epsilon]
        noise = rng.random((len(wild), obs.action_mask.shape[1])) * obs.action_mask[wild]
        executed[wild] = noise.argmax(-1)
        for k, a in zip(keys, executed[rows].tolist(), strict=True):
            memory[k] = [*memory.get(k, ()), scenario.actions[a]][-HISTORY_LENGTH:]
        raw, _, _, _, info = env.step(executed.reshape(episodes, len(agents)))
        recording &= ~info["done"]
    return corpus


def collect_recipe(
    recipe=RECIPE, seed: int = 0, scale: float = 1.0, epsilon: float = 0.2, labeller=None, actions=ACTIONS
) -> Corpus:
    """The corpus of every recipe line; line j's worlds are seeded from `seed + 100_000 * j`."""
    corpus = Corpus(legal=np.zeros((0, len(actions)), bool))
    for j, (label, name, config, episodes) in enumerate(recipe):
        scenario = make_scenario(name, **config)
        count = max(1, round(episodes * scale))
        corpus = corpus + collect(scenario, count, seed + 100_000 * j, epsilon, label, labeller, actions)
    return corpus


def union_scorer(model, tokenizer, actions: Sequence[str] = ACTIONS) -> Scorer:
    return Scorer(model, tokenizer, actions)


@torch.no_grad()
def accuracy(scorer: Scorer, corpus: Corpus, batch_size: int = 256) -> dict[str, float]:
    """Share of examples whose best legal action (by score) is the planner's: overall ("all")
    and per source."""
    was_training = scorer.model.training
    scorer.model.eval()
    hits = np.zeros(len(corpus), dtype=bool)
    for start in range(0, len(corpus), batch_size):
        part = slice(start, start + batch_size)
        scores = scorer.score(corpus.prompts[part], cache=False).scores.cpu().numpy()
        best = np.where(corpus.legal[part], scores, -np.inf).argmax(-1)
        hits[part] = best == corpus.labels[part]
    scorer.model.train(was_training)
    source = np.array(corpus.source)
    out = {"all": float(hits.mean())}
    for name in dict.fromkeys(corpus.source):
        out[name] = float(hits[source == name].mean())
    return out


def train(
    model,
    tokenizer,
    corpus: Corpus,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    actions: Sequence[str] = ACTIONS,
) -> list[float]:
    """Fit `model` to the corpus (AdamW, linear warm-up then cosine decay); returns the mean
    loss of each epoch. Shuffling comes from `seed`; labels index `actions`."""
    scorer = union_scorer(model, tokenizer, actions)
    rng = np.random.default_rng(seed)
    opt, sched = optimizer(model, lr, epochs * -(-len(corpus) // batch_size))
    labels = torch.as_tensor(corpus.labels)
    model.train()
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(len(corpus))
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            scores = scorer.score([corpus.prompts[k] for k in idx.tolist()]).scores
            target = labels[idx].to(scores.device)
            loss = -scores.gather(1, target[:, None]).mean()  # LM loss on the action word
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        losses.append(total / len(corpus))
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
    model.eval()
    return losses


def optimizer(model, lr: float, steps: int):
    """AdamW with a linear warm-up over the first 5% of `steps`, then cosine decay: (opt, sched)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(1.0, s / steps)))
    )
    return opt, sched


HELDOUT_SEED = 7_000_000  # held-out episodes are seeded far from every training episode


def chance(corpus: Corpus) -> dict[str, float]:
    """Accuracy of a uniformly random legal action, overall and per source."""
    p = 1.0 / corpus.legal.sum(1)
    source = np.array(corpus.source)
    return {"all": float(p.mean())} | {s: float(p[source == s].mean()) for s in dict.fromkeys(corpus.source)}


def distill_default(
    seed: int = 0,
    scale: float = 1.0,
    heldout_scale: float = 0.3,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    model_config: dict | None = None,
    log: Callable[[str], None] | None = None,
):
    """Build the default model from scratch: tokenizer, planner-labelled corpus (recipe lines
    scaled by `scale`), training, held-out accuracy. Returns (model, tokenizer, report)."""
    from agents.lm.model import build_model, parameter_count
    from agents.lm.tokenizer import build_tokenizer

    say = log or (lambda _: None)
    tokenizer = build_tokenizer()
    corpus = collect_recipe(seed=seed, scale=scale)
    heldout = collect_recipe(seed=seed + HELDOUT_SEED, scale=heldout_scale)
    say(f"corpus: {len(corpus)} training examples, {len(heldout)} held out; vocabulary {len(tokenizer)}")
    model = build_model(tokenizer, seed, **(model_config or {}))
    scorer = union_scorer(model, tokenizer)
    before = accuracy(scorer, heldout)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        losses = train(model, tokenizer, corpus, epochs, batch_size, lr, seed, log)
    report = {
        "seed": seed,
        "parameters": parameter_count(model),
        "vocabulary": len(tokenizer),
        "recipe": [
            {"label": label, "scenario": name, "config": config, "episodes": max(1, round(n * scale))}
            for label, name, config, n in RECIPE
        ],
        "examples": {"train": len(corpus), "heldout": len(heldout)},
        "per_source": {s: int(c) for s, c in zip(*np.unique(corpus.source, return_counts=True), strict=True)},
        "epochs": epochs,
        "torch_threads": torch.get_num_threads(),
        "batch_size": batch_size,
        "lr": lr,
        "epsilon": 0.2,
        "losses": losses,
        "heldout_accuracy": accuracy(scorer, heldout),
        "heldout_accuracy_untrained": before,
        "chance_accuracy": chance(heldout),
        "train_accuracy": accuracy(scorer, corpus.take(range(0, len(corpus), 4))),
    }
    return model, tokenizer, report
