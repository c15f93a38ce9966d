"""A seat whose language model writes its answer: it may reason first, then names its action.

Each step every row's prompt is rendered (the chat turns of `agents.lm.chat` with the model's
chat template, or the plain prompt ending in `Action:` for a model without one), the model
generates up to `max_tokens` tokens for all rows in one batched `generate` (left-padded), and
`agents.lm.answer.parse_answer` reads the action from each answer: the last `ACTION: <action>`
line, or an answer of action names only. A malformed or illegal answer falls back to a random
legal action, counted in `stats` and shown in `thinking()`, whose extras carry each row's answer
text (`said`) for the viewer's thoughts panel and the match record.

Sampling is at `temperature` (`greedy`, or `act(..., explore=False)`, decodes greedily) and
seeded from the controller's own generator, so the same seed gives the same answers. A plain
prompt is a completion of one line: generation stops at a line break.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import GenerationConfig

from agents.base import Observations, Thinking
from agents.checkpoint import pick_device
from agents.lm.answer import Answer, Tally, fall_back, parse_answer
from agents.lm.chat import Renderer
from agents.lm.model import load_model
from agents.lm.prompting import PromptedSeat, use_chat
from worlds.scenario import Scenario

SHOWN_CHARS = 480  # the end of an answer kept for the panel and records (the answer comes last)


class LMGenerator(PromptedSeat):
    """Acts on `Observations` by generating answers; see the module docstring."""

    def __init__(
        self,
        model,
        tokenizer,
        scenario: Scenario,
        seed: int | None = None,
        temperature: float = 0.7,
        greedy: bool = False,
        max_tokens: int = 256,
        chat: str = "auto",
        think: bool = True,
        model_name: str = "custom",
    ):
        if temperature < 0 or max_tokens < 1:
            raise ValueError(f"need temperature >= 0 and max_tokens >= 1, got {temperature}, {max_tokens}")
        super().__init__(scenario, seed)
        self.model, self.tokenizer, self.model_name = model, tokenizer, model_name
        self.temperature, self.greedy, self.max_tokens, self.think = temperature, greedy, max_tokens, think
        self.renderer = Renderer(tokenizer) if use_chat(chat, tokenizer, model_name) else None
        self.tally = Tally()
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
        self.stop = [i for i in (tokenizer.eos_token_id,) if i is not None]
        if self.renderer is None:  # a plain prompt's answer is the rest of the cue's line
            newline = tokenizer.encode("\n", add_special_tokens=False)
            self.stop += newline[-1:] if len(newline) == 1 else []

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def stats(self) -> dict[str, int]:
        """Answers so far by status (`answered`, `bare`, `illegal`, `malformed`), and fallbacks."""
        return dict(self.tally.counts, decisions=self.tally.decisions, fallbacks=self.tally.fallbacks)

    def token_ids(self, obs: Observations) -> list[list[int]]:
        """Every row's prompt as token ids, ready to generate after."""
        if self.renderer is not None:
            texts = [self.renderer.text(t) for t in self.turns(obs, generate=True, think=self.think)]
            return [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        prompts = self.plain_prompts(obs)
        return [self.bos + self.tokenizer.encode(p.text, add_special_tokens=False) for p in prompts]

    @torch.no_grad()
    def generate(self, ids: list[list[int]], sample: bool) -> list[str]:
        """The answer text of every row (special tokens removed)."""
        width = max(len(row) for row in ids)
        inputs = torch.tensor([[self.pad] * (width - len(r)) + r for r in ids], device=self.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in ids], device=self.device)
        config = GenerationConfig(
            max_new_tokens=self.max_tokens,
            do_sample=sample,
            temperature=self.temperature if sample else None,
            top_k=0 if sample else None,
            top_p=1.0 if sample else None,
            pad_token_id=self.pad,
            eos_token_id=self.stop or None,
        )
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(self.rng.integers(2**62)))
            out = self.model.generate(input_ids=inputs, attention_mask=mask, generation_config=config)
        return self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)

    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        sample = explore and not self.greedy and self.temperature > 0
        said = self.generate(self.token_ids(obs), sample)
        legal = obs.action_mask.astype(bool)
        answers = [parse_answer(t, obs.scenario.actions, row) for t, row in zip(said, legal, strict=True)]
        actions = fall_back(answers, legal, self.rng)
        self.tally.add(answers)
        self.remember(obs, actions)
        self._last = answer_thinking(answers, said, actions, legal, self.tally, self.model_name)
        return actions


def answer_thinking(
    answers: list[Answer], said: list[str], actions: np.ndarray, legal: np.ndarray, tally: Tally, model: str
) -> Thinking:
    """What a generating seat shows: all the weight on the action taken (nan on illegal ones),
    each row's answer (its end, `SHOWN_CHARS` at most), how it was read, and the running tally."""
    values = np.where(legal, 0.0, np.nan).astype(np.float32)
    values[np.arange(len(actions)), actions] = 1.0
    read = [
        f"{a.status}: {a.said}"
        if a.action is not None
        else f"{a.status} ({a.said or 'no action'}): random legal action"
        for a in answers
    ]
    shown = [s.strip() if len(s.strip()) <= SHOWN_CHARS else "..." + s.strip()[-SHOWN_CHARS:] for s in said]
    extras = {"said": shown, "read": read, "answers": tally.summary(), "model": model}
    return Thinking("probs", values, extras)


def make_generator(model_name: str, scenario: Scenario, seed: int | None = None, device="auto", **options):
    """A generating controller for a named model, a folder or a cached hub id."""
    model, tokenizer = load_model(model_name, pick_device(device))
    return LMGenerator(model, tokenizer, scenario, seed=seed, model_name=model_name, **options)
