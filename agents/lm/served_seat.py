"""A seat played by a model on an OpenAI-compatible server (`--seat agent_0=lm:http://HOST:PORT/v1#MODEL`).

Two ways to choose, as for a local model:

* `score` (the default): each legal action's log-likelihood after the prompt, from the server's
  prompt log-probabilities (`ServedModel.score`), then a softmax over the legal actions at
  `temperature` (or its argmax), exactly as `agents.lm.policy.LMController` does locally. The
  prompt is the plain one of `agents.lm.prompt`, or, with `template=FOLDER` (a local tokenizer
  folder with the served model's chat template), the chat turns rendered with it and the cue
  `ACTION:`. A server that returns no prompt log-probabilities (`transformers serve`, Ollama)
  is found out when the seat starts: it says so on stderr, in one line, and generates instead.
* `generate`: the chat turns of `agents.lm.chat` as chat completions (the server applies the
  template; `chat=off` sends the plain prompt as a completion of one line instead), the answer
  read by `agents.lm.answer` with counted fallbacks, as `agents.lm.generation.LMGenerator`.

Each row's request is seeded from the seat's generator; every row of a step is in flight at once.
"""

from __future__ import annotations

import sys

import numpy as np

from agents.base import Observations, Thinking, masked_probs
from agents.lm.answer import Tally, fall_back, parse_answer
from agents.lm.chat import ANSWER_CUE, Renderer
from agents.lm.generation import answer_thinking
from agents.lm.policy import choose
from agents.lm.prompt import candidate
from agents.lm.prompting import PromptedSeat
from agents.lm.served import ServedModel
from worlds.errors import ConfigError
from worlds.scenario import Scenario


class ServedController(PromptedSeat):
    """Acts on `Observations` through a served model; see the module docstring."""

    def __init__(
        self,
        server: ServedModel,
        scenario: Scenario,
        seed: int | None = None,
        mode: str = "score",
        temperature: float | None = None,
        greedy: bool = False,
        max_tokens: int = 256,
        chat: str = "auto",
        think: bool = True,
        normalize: str = "sum",
        template=None,
    ):
        super().__init__(scenario, seed)
        self.server, self.greedy, self.max_tokens = server, greedy, max_tokens
        self.chat, self.think, self.normalize = chat != "off", think, normalize
        self.renderer = Renderer(template, ANSWER_CUE) if template is not None else None
        self.tally = Tally()
        self.fell_back = ""  # why a scoring seat generates instead ("" when it does not)
        if mode == "score":
            ok, why = server.offers_logprobs()
            if not ok:
                self.fell_back = f"{server.url} offers no prompt log-probabilities: {why}"
                said = f"lm seat {server.model}: {self.fell_back}; it generates its answers instead"
                print(said, file=sys.stderr)
                mode = "generate"
        self.mode = mode
        default = 1.0 if mode == "score" else 0.7
        self.temperature = default if temperature is None else temperature
        if mode == "score" and self.temperature <= 0:
            raise ConfigError(f"lm seat option temperature must be > 0 to score, got {self.temperature}")
        self.label = f"lm:{server.model.split('/')[-1]} {'scores' if mode == 'score' else 'writes'}"

    @property
    def model_name(self) -> str:
        return self.server.model

    @property
    def stats(self) -> dict[str, int]:
        """Answers so far by status, and fallbacks (generation only; zeros when scoring)."""
        return dict(self.tally.counts, decisions=self.tally.decisions, fallbacks=self.tally.fallbacks)

    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        greedy = self.greedy or not explore
        actions = self._score(obs, greedy) if self.mode == "score" else self._generate(obs, greedy)
        self.remember(obs, actions)
        return actions

    def contexts(self, obs: Observations) -> list[str]:
        """Each row's prompt text for scoring: plain, or the chat turns rendered with `template`."""
        if self.renderer is not None:
            return [self.renderer.prompt(t).text for t in self.turns(obs, generate=False)]
        return [p.text for p in self.plain_prompts(obs)]

    def probs(self, obs: Observations) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities float32[n, A] with 0 on illegal actions, scores float32[n, A])."""
        actions = obs.scenario.actions
        total, count = self.server.score(self.contexts(obs), [candidate(a) for a in actions])
        if self.normalize == "token":
            total = total / np.maximum(count, 1)
        elif self.normalize == "word":
            total = total / np.array([len(a.split()) for a in actions])
        scores = total.astype(np.float32)
        return masked_probs(scores / self.temperature, obs.action_mask), scores

    def _score(self, obs: Observations, greedy: bool) -> np.ndarray:
        probs, scores = self.probs(obs)
        actions = choose(probs, greedy, self.rng)
        shown = np.where(obs.action_mask.astype(bool), probs, np.nan).astype(np.float32)
        self._last = Thinking("probs", shown, {"scores": scores, "model": self.model_name})
        return actions

    def _generate(self, obs: Observations, greedy: bool) -> np.ndarray:
        temperature = 0.0 if greedy else self.temperature
        seeds = self.rng.integers(2**31, size=len(obs)).tolist()
        if self.chat:
            conversations = [t.messages() for t in self.turns(obs, generate=True, think=self.think)]
            said = self.server.chat(conversations, self.max_tokens, temperature, seeds)
        else:
            prompts = [p.text for p in self.plain_prompts(obs)]
            said = self.server.complete(prompts, self.max_tokens, temperature, seeds, stop=["\n"])
        legal = obs.action_mask.astype(bool)
        answers = [parse_answer(t, obs.scenario.actions, row) for t, row in zip(said, legal, strict=True)]
        actions = fall_back(answers, legal, self.rng)
        self.tally.add(answers)
        self._last = answer_thinking(answers, said, actions, legal, self.tally, self.model_name)
        if self.fell_back:
            self._last.extras["mode"] = "generates: " + self.fell_back
        return actions
