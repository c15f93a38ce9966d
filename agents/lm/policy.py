"""A seat driven by a causal language model that scores the legal actions (after GLAM and TWOSOME).

Each step the controller turns every row's text view into a prompt: the plain one of
`agents.lm.prompt`, or, for a model whose tokenizer has a chat template (`chat="auto"`), the
system and user turns of `agents.lm.chat` rendered with it and followed by the answer cue
`ACTION:`. It scores every action string's log-likelihood after the prompt
(`agents.lm.scoring`) and takes a softmax over the legal actions only (temperature
`temperature`): it samples from it, or takes its argmax with `greedy=True`. Illegal actions get
probability 0 and are never chosen. The probabilities are what `thinking()` shows the viewer and
replays. Recent actions and extra context lines come from `agents.lm.prompting.PromptedSeat`.

Two optional companions: a `TeamChannel` (`agents.lm.talk`: teammates' messages in the prompt,
and a message chosen after every action) and a `Recall` of a knowledge base
(`agents.lm.recall`: similar past situations as a prior on the action and, if asked, as prompt
lines; `episode_over` files what the episode taught). Their lines join the `extra_context`
lines of `agents.lm.prompting`, in plain and chat prompts alike.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.base import Observations, Thinking, masked_probs
from agents.checkpoint import pick_device
from agents.lm.chat import ANSWER_CUE, Renderer
from agents.lm.model import load_model
from agents.lm.prompt import Prompt
from agents.lm.prompting import PromptedSeat, use_chat
from agents.lm.scoring import Scorer
from agents.lm.talk import TeamChannel, message_prompts, messages
from worlds.scenario import Scenario


class LMController(PromptedSeat):
    """Acts on `Observations` with a language model; see the module docstring."""

    def __init__(
        self,
        model,
        tokenizer,
        scenario: Scenario,
        seed: int | None = None,
        normalize: str = "sum",
        temperature: float = 1.0,
        greedy: bool = False,
        model_name: str = "custom",
        chat: str = "auto",
        channel: TeamChannel | None = None,
        recall=None,
    ):
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        super().__init__(scenario, seed)
        self.model, self.tokenizer = model, tokenizer
        self.scorer = Scorer(model, tokenizer, scenario.actions, normalize)
        self.temperature, self.greedy, self.model_name = temperature, greedy, model_name
        self.renderer = Renderer(tokenizer, ANSWER_CUE) if use_chat(chat, tokenizer, model_name) else None
        self.recall = recall  # agents.lm.recall.Recall | None
        self._vectors = None  # the recall's embeddings of this step's views
        self.channel: TeamChannel | None = None
        self.join(channel)

    def join(self, channel: TeamChannel | None) -> None:
        """Talk on `channel` (None: stay silent); candidate messages the tokenizer cannot spell
        are left out."""
        self.channel, self.messages, self.say_scorer = channel, (), None
        if channel is None:
            return
        unk = self.tokenizer.unk_token_id
        self.messages = tuple(
            m
            for m in messages(self.scenario)
            if unk not in self.tokenizer(" " + m.text, add_special_tokens=False)["input_ids"]
        )
        self.say_scorer = Scorer(
            self.model, self.tokenizer, [m.text for m in self.messages], self.scorer.normalize
        )

    @property
    def device(self) -> torch.device:
        return self.scorer.device

    def prompts(self, obs: Observations) -> list[Prompt]:
        """Every row's prompt; starts a fresh memory for rows at step 0 of an episode."""
        if self.renderer is not None:
            return [self.renderer.prompt(t) for t in self.turns(obs, generate=False)]
        return self.plain_prompts(obs)

    def extras(self, obs: Observations) -> list[list[str]]:
        """Per row, the extra prompt lines: the hook's, teammates' messages, recalled memories."""
        out = [list(lines) for lines in super().extras(obs)]
        if self.channel is not None:
            steps = obs.steps().tolist()
            for row, ((world, agent), t) in enumerate(zip(obs.seats(), steps, strict=True)):
                out[row] += self.channel.heard(world, agent, t)
        if self.recall is not None and self._vectors is not None:
            for row, lines in enumerate(self.recall.prompt_lines(self._vectors)):
                out[row] += lines
        return out

    @torch.no_grad()
    def probs(self, obs: Observations) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities float32[n, A] with 0 on illegal actions, raw scores float32[n, A])."""
        probs, scores, _ = self._decide(obs)
        return probs, scores

    def _decide(self, obs: Observations):
        """(probabilities, raw scores, prompts) with the knowledge base's recall mixed in."""
        texts = obs.texts()
        self._vectors = self.recall.vectors(texts) if self.recall is not None else None
        prompts = self.prompts(obs)
        scores = self.scorer.score(prompts).scores.float().cpu().numpy()
        probs = masked_probs(scores / self.temperature, obs.action_mask)
        if self.recall is not None:
            probs = self.recall.blend(probs, self._vectors, obs.action_mask)
            self._noted = (texts, self._vectors)
        return probs, scores, prompts

    @torch.no_grad()
    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        probs, scores, prompts = self._decide(obs)
        greedy = self.greedy or not explore
        actions = self.choose(probs, greedy=greedy)
        self.remember(obs, actions)
        shown = np.where(obs.action_mask.astype(bool), probs, np.nan).astype(np.float32)
        extras = {"scores": scores, "model": self.model_name}
        if self.channel is not None:
            extras["say"] = self.talk(obs, prompts, actions, greedy)
        if self.recall is not None:
            cells = obs.state.pos[obs.world, obs.agent]
            self.recall.note(obs.seats(), obs.steps(), self._noted[1], self._noted[0], actions, cells)
        self._last = Thinking("probs", shown, extras)
        return actions

    def talk(self, obs: Observations, prompts: list[Prompt], actions: np.ndarray, greedy: bool) -> list[str]:
        """Each row's message (scored after its prompt and chosen action), posted on the channel."""
        names = [self.scenario.actions[a] for a in actions.tolist()]
        bodies = message_prompts([p.body for p in prompts], names)
        said = [Prompt(p.prefix, b) for p, b in zip(prompts, bodies, strict=True)]
        scores = self.say_scorer.score(said).scores.float().cpu().numpy()
        probs = masked_probs(scores / self.temperature, np.ones_like(scores, dtype=np.int8))
        texts = [self.messages[k].text for k in self.choose(probs, greedy).tolist()]
        for (world, agent), t, text in zip(obs.seats(), obs.steps().tolist(), texts, strict=True):
            self.channel.say(world, agent, t, text)
        return texts

    def episode_over(self, world: int, success: bool, steps: int, returns: dict[int, float]) -> None:
        """An episode of `world` ended: the knowledge base files what it taught (if any)."""
        if self.recall is not None:
            self.recall.episode_over(world, success, steps, returns)

    def choose(self, probs: np.ndarray, greedy: bool) -> np.ndarray:
        return choose(probs, greedy, self.rng)


def choose(probs: np.ndarray, greedy: bool, rng: np.random.Generator) -> np.ndarray:
    """Argmax or a sample per row; an action of probability 0 is never drawn."""
    if greedy:
        return probs.argmax(-1).astype(np.int64)
    cum = np.cumsum(probs.astype(np.float64), -1)
    u = rng.random(len(probs)) * cum[:, -1]
    return (cum > u[:, None]).argmax(-1).astype(np.int64)


def make_lm_controller(
    model_name: str, scenario: Scenario, seed: int | None = None, device="auto", **options
) -> LMController:
    """A scoring controller for a model: `default` (the shipped model), `smollm2` (the optional
    extra), a model folder, or a hub id in the local cache. (`agents.lm.spec` builds every kind
    of LM seat from a seat spec.)"""
    model, tokenizer = load_model(model_name, pick_device(device))
    return LMController(model, tokenizer, scenario, seed=seed, model_name=model_name, **options)
