"""A model served over the OpenAI-compatible HTTP API (vLLM, llama.cpp's server, Ollama,
`transformers serve`, ...), through the maintained `openai` client (extra `served`).

* `chat`: chat completions, one request per row, the server applying the model's chat template.
* `complete`: legacy completions of raw text (a plain prompt, stopped at a line break).
* `score`: the log-likelihood of each action string after a context, from legacy completions
  with `echo` and `logprobs` (the prompt's own tokens' log-probabilities): one request per row
  holding its A candidate texts `context + " <action>"`. Each candidate's score is the sum of the
  log-probabilities of its tokens, found by their text offsets counted back from the end of the
  prompt (so a BOS the server adds in front shifts nothing). Servers that do not return prompt
  log-probabilities are detected by `offers_logprobs` (one tiny request).

All rows of a step are sent at once, from a pool of `concurrency` threads. The client retries a
failed connection, a time-out, 408/409/429 and 5xx answers `retries` times with exponential
backoff (the openai client's own policy); every other failure, and a server that is down or does
not serve the model, raises `ServerError` with one line naming the address and what went wrong.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from worlds.errors import ArenaError, ConfigError

EXTRA = "served"  # the pyproject extra that installs the openai client


class ServerError(ArenaError):
    """The model server is down, refused a request, or does not serve the model."""


class ServedModel:
    """One model on one OpenAI-compatible server (`url` ends with /v1, as the client expects)."""

    def __init__(
        self, url: str, model: str | None, timeout: float = 60.0, retries: int = 2, concurrency: int = 16
    ):
        try:
            import openai
        except ImportError:
            raise ConfigError(
                f"a served lm seat needs the openai client: pip install -e '.[{EXTRA}]' or pip install openai"
            ) from None
        self.openai, self.url = openai, url.rstrip("/")
        key = os.environ.get("OPENAI_API_KEY") or "not-needed"  # local servers take any key
        self.client = openai.OpenAI(base_url=self.url, api_key=key, timeout=timeout, max_retries=retries)
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lm-served")
        self.model = self.resolve(model)

    # -- the server ---------------------------------------------------------------------------
    def resolve(self, model: str | None) -> str:
        """The model's name, checked against the server's list (`/models`) where it has one."""
        try:
            served = [m.id for m in self.client.models.list()]
        except self.openai.NotFoundError:  # a server without /models: the first request will tell
            served = None
        except self.openai.OpenAIError as err:
            raise self.error(err, "listing its models") from None
        if model is None:
            if served and len(served) == 1:
                return served[0]
            listed = f"it serves: {', '.join(served)}" if served else "it lists none"
            raise ServerError(f"{self.url}: name the model, as lm:{self.url}#MODEL ({listed})")
        if served is not None and model not in served:
            raise ServerError(
                f"{self.url} does not serve model {model!r}; it serves: {', '.join(served) or 'nothing'}"
            )
        return model

    def error(self, err: Exception, doing: str) -> ServerError:
        """One line for a failed request."""
        o = self.openai
        if isinstance(err, o.APITimeoutError):
            return ServerError(f"{self.url}: no answer in time while {doing} (raise the seat's timeout=)")
        if isinstance(err, o.APIConnectionError):
            cause = err.__cause__ or err
            reason = _one_line(str(cause)) or type(cause).__name__
            return ServerError(f"cannot reach the model server at {self.url} ({reason}): is it running?")
        if isinstance(err, o.APIStatusError):
            said = _one_line(_message(err))
            if err.status_code in (404, 400) and self.model_named_in(said):
                return ServerError(f"{self.url} does not serve model {self.model!r}: {said}")
            return ServerError(f"{self.url} refused a request while {doing}: HTTP {err.status_code}: {said}")
        return ServerError(f"{self.url}: {doing} failed: {_one_line(str(err))}")

    def model_named_in(self, said: str) -> bool:
        return getattr(self, "model", None) is not None and self.model in said

    def _call(self, doing: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self.openai.OpenAIError as err:
            raise self.error(err, doing) from None

    def _each(self, doing: str, fn, rows: Sequence) -> list:
        """`fn(row)` for every row, concurrently; the first failure is raised."""
        return list(self.pool.map(lambda row: self._call(doing, fn, row), rows))

    # -- generation ---------------------------------------------------------------------------
    def chat(
        self, conversations: Sequence[list[dict]], max_tokens: int, temperature: float, seeds: Sequence[int]
    ) -> list[str]:
        """The assistant's answer to each conversation."""

        def one(pair):
            messages, seed = pair
            out = self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature,
                seed=int(seed),
            )  # fmt: skip
            return out.choices[0].message.content or ""

        return self._each("generating an answer", one, list(zip(conversations, seeds, strict=True)))

    def complete(
        self, prompts: Sequence[str], max_tokens: int, temperature: float, seeds: Sequence[int], stop=None
    ) -> list[str]:
        """The completion of each raw text prompt."""

        def one(pair):
            prompt, seed = pair
            out = self.client.completions.create(
                model=self.model, prompt=prompt, max_tokens=max_tokens, temperature=temperature,
                seed=int(seed), stop=stop,
            )  # fmt: skip
            return out.choices[0].text or ""

        return self._each("completing a prompt", one, list(zip(prompts, seeds, strict=True)))

    # -- scoring ------------------------------------------------------------------------------
    def offers_logprobs(self) -> tuple[bool, str]:
        """Whether the server returns the log-probabilities of a prompt's own tokens (echo), and
        what it did instead when not."""
        probe = "Action: north"
        try:
            out = self.client.completions.create(
                model=self.model, prompt=[probe], echo=True, logprobs=1, max_tokens=1, temperature=0.0
            )
        except self.openai.BadRequestError as err:
            return False, f"it refused echo with logprobs ({_one_line(_message(err))})"
        except self.openai.UnprocessableEntityError as err:
            return False, f"it refused echo with logprobs ({_one_line(_message(err))})"
        except self.openai.OpenAIError as err:
            raise self.error(err, "asking for prompt log-probabilities") from None
        lp = out.choices[0].logprobs if out.choices else None
        offsets = getattr(lp, "text_offset", None) or []
        if not lp or not lp.token_logprobs or len(offsets) < 2 or min(offsets) >= len(probe):
            return False, "its completions carry no log-probabilities of the prompt's tokens"
        return True, ""

    def score(self, contexts: Sequence[str], candidates: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(log-likelihood float64[n, A] of each candidate after each context, its token count
        int[n, A])."""

        def one(context: str):
            prompts = [context + c for c in candidates]
            out = self.client.completions.create(
                model=self.model, prompt=prompts, echo=True, logprobs=1, max_tokens=1, temperature=0.0
            )
            scores, counts = np.zeros(len(prompts)), np.zeros(len(prompts), dtype=np.int64)
            for choice in out.choices:
                scores[choice.index], counts[choice.index] = _candidate_logprob(
                    choice.logprobs, len(candidates[choice.index])
                )
            return scores, counts

        rows = self._each("scoring the actions", one, contexts)
        return np.stack([s for s, _ in rows]), np.stack([c for _, c in rows])

    def close(self) -> None:
        self.pool.shutdown(wait=False)
        self.client.close()


def _candidate_logprob(lp, length: int) -> tuple[float, int]:
    """Sum of the log-probabilities of the prompt tokens that make up its last `length`
    characters: every token but the generated last one whose offset is at least the end of the
    prompt (the generated token's offset) minus `length`."""
    if lp is None or not lp.token_logprobs or not lp.text_offset:
        raise ServerError("the server's completion carries no log-probabilities of the prompt's tokens")
    end = lp.text_offset[-1]
    picked = [
        v for off, v in zip(lp.text_offset[:-1], lp.token_logprobs[:-1], strict=True) if off >= end - length
    ]
    if not picked or any(v is None for v in picked):
        raise ServerError(f"the server's log-probabilities do not cover the action's {length} characters")
    return float(sum(picked)), len(picked)


def _message(err) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner.get("detail") or inner)
        return str(body.get("detail") or inner)
    return str(getattr(err, "message", err))


def _one_line(text: str, width: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 3] + "..."
