"""The seat spec of a language model, `lm:SOURCE#OPTIONS`, checked in one place, and the
controller it builds.

SOURCE is `default` (the shipped model; also an empty SOURCE), `smollm2` (optional extra), a
local model folder (any `AutoModelForCausalLM` with its tokenizer), a hub id already in the
local cache, or the address of an OpenAI-compatible server, `http(s)://HOST:PORT/v1`.
OPTIONS, after `#`, are comma-separated `key=value` pairs or the words `score`, `generate`
(`mode=`) and `greedy` (`greedy=true`); for a server, a first word that is none of these names
the model (`lm:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-0.5B-Instruct,generate`):

    mode         score (default): score the legal actions; generate: write an answer, then ACTION: x
    greedy       true: argmax / greedy decoding (default false: sample)
    temperature  > 0 to score (default 1.0); >= 0 to generate (default 0.7, 0 = greedy)
    max_tokens   tokens an answer may take (default 256)
    chat         auto (default: the tokenizer's chat template when it has one) | on | off
    think        true (default): a generating seat is invited to reason before its ACTION line
    normalize    sum (default) | token | word: how an action's token log-probabilities add up
    model        a server's model name (or the first bare word)
    template     (server, score) a local tokenizer folder whose chat template renders the prompt
    timeout      seconds a request may take (server; default 60)
    retries      retries of a failed request, with backoff (server; default 2)
    concurrency  requests in flight at once (server; default 16)

SOURCE may also be a JSON file holding the same as an object, e.g. `{"source":
"http://127.0.0.1:8000/v1", "model": "Qwen/Qwen2.5-0.5B-Instruct", "mode": "generate"}`; options
after `#` override the file's. Every failure is a `ConfigError` naming the option (a
`BadFileError` naming the file for a file that is not such an object).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from pathlib import Path

from worlds.errors import BadFileError, ConfigError
from worlds.scenario import Scenario

MODES = ("score", "generate")
NORMALIZE = ("sum", "token", "word")
_WORDS = {"score": ("mode", "score"), "generate": ("mode", "generate"), "greedy": ("greedy", "true")}
_SERVED_ONLY = ("model", "template", "timeout", "retries", "concurrency")


@dataclass(frozen=True)
class LMSpec:
    source: str = "default"
    mode: str = "score"
    greedy: bool = False
    temperature: float | None = None  # None: 1.0 to score, 0.7 to generate
    max_tokens: int = 256
    chat: str = "auto"
    think: bool = True
    normalize: str = "sum"
    model: str | None = None
    template: str | None = None
    timeout: float = 60.0
    retries: int = 2
    concurrency: int = 16

    @property
    def served(self) -> bool:
        return self.source.startswith(("http://", "https://"))


def parse_lm_spec(option: str) -> LMSpec:
    """`SOURCE#OPTIONS` (what follows `lm:` in a seat spec) -> a checked `LMSpec`."""
    source, _, rest = option.partition("#")
    source, values = source.strip() or "default", {}
    if source.endswith(".json") and Path(source).is_file():
        source, values = _read_file(Path(source))
    spec, given = LMSpec(source=source), set()
    for k, item in enumerate(part.strip() for part in rest.split(",") if part.strip()):
        key, eq, value = item.partition("=")
        if not eq:
            if item in _WORDS:
                key, value = _WORDS[item]
            elif k == 0 and spec.served:
                key, value = "model", item
            else:
                raise ConfigError(f"lm seat option {item!r}: use key=value, or one of {', '.join(_WORDS)}")
        key = key.strip()
        if key in given:
            raise ConfigError(f"lm seat option {key} is given twice")
        given.add(key)
        values[key] = value.strip()
    return check(replace(spec, **_typed(values)))


def _read_file(path: Path) -> tuple[str, dict[str, str]]:
    """(source, options as text) from a JSON seat config; never executes anything."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise BadFileError(f"{path}: not a JSON seat config ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("source"), str):
        raise BadFileError(f'{path}: a seat config is a JSON object with a "source" (a model or an address)')
    values = {}
    for key, value in data.items():
        if not isinstance(value, (str, int, float, bool)):
            raise BadFileError(f"{path}: option {key!r} must be a string, a number or true/false")
        values[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return values.pop("source"), values


def _typed(values: dict[str, str]) -> dict:
    known = {f.name: f for f in fields(LMSpec) if f.name != "source"}
    out = {}
    for key, text in values.items():
        if key not in known:
            raise ConfigError(f"unknown lm seat option {key!r}; known: {', '.join(known)}")
        kind = str(known[key].type)
        try:
            if "bool" in kind:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError
                out[key] = text.lower() in ("true", "1", "yes", "on")
            elif "float" in kind:
                out[key] = float(text)
            elif "int" in kind:
                out[key] = int(text)
            else:
                out[key] = text
        except ValueError:
            raise ConfigError(f"lm seat option {key} must be a {kind.split(' ')[0]}, got {text!r}") from None
    return out


def check(spec: LMSpec) -> LMSpec:
    if spec.mode not in MODES:
        raise ConfigError(f"lm seat option mode must be one of {', '.join(MODES)}, got {spec.mode!r}")
    if spec.normalize not in NORMALIZE:
        known = ", ".join(NORMALIZE)
        raise ConfigError(f"lm seat option normalize must be one of {known}, got {spec.normalize!r}")
    if spec.chat not in ("auto", "on", "off"):
        raise ConfigError(f"lm seat option chat must be auto, on or off, got {spec.chat!r}")
    t = spec.temperature
    if t is not None and (t != t or t < 0 or (t == 0 and spec.mode == "score")):
        raise ConfigError(f"lm seat option temperature must be > 0 to score, >= 0 to generate, got {t}")
    for key, low in (("max_tokens", 1), ("retries", 0), ("concurrency", 1)):
        if getattr(spec, key) < low:
            raise ConfigError(f"lm seat option {key} must be >= {low}, got {getattr(spec, key)}")
    if not spec.timeout > 0:
        raise ConfigError(f"lm seat option timeout must be > 0 seconds, got {spec.timeout}")
    if not spec.served:
        given = [k for k in _SERVED_ONLY if getattr(spec, k) != getattr(LMSpec, k)]
        if given:
            raise ConfigError(
                f"lm seat option {given[0]} is for a served model (lm:http://HOST:PORT/v1#MODEL)"
            )
    if spec.template is not None and not Path(spec.template).is_dir():
        raise ConfigError(f"lm seat option template: {spec.template} is not a tokenizer folder")
    return spec


def make_lm_seat(option: str, scenario: Scenario, seed: int | None = None, device="auto"):
    """The controller for seat spec `lm:<option>`: scoring or generating, local or served."""
    spec = parse_lm_spec(option)
    if spec.served:
        from agents.lm.served import ServedModel
        from agents.lm.served_seat import ServedController

        template = None
        if spec.template is not None:
            from transformers import AutoTokenizer

            template = AutoTokenizer.from_pretrained(spec.template)
        server = ServedModel(spec.source, spec.model, spec.timeout, spec.retries, spec.concurrency)
        return ServedController(
            server, scenario, seed, spec.mode, spec.temperature, spec.greedy, spec.max_tokens,
            spec.chat, spec.think, spec.normalize, template,
        )  # fmt: skip
    from agents.checkpoint import pick_device
    from agents.lm.model import load_model

    model, tokenizer = load_model(spec.source, pick_device(device))
    if spec.mode == "generate":
        from agents.lm.generation import LMGenerator

        return LMGenerator(
            model, tokenizer, scenario, seed, 0.7 if spec.temperature is None else spec.temperature,
            spec.greedy, spec.max_tokens, spec.chat, spec.think, spec.source,
        )  # fmt: skip
    from agents.lm.policy import LMController

    temperature = 1.0 if spec.temperature is None else spec.temperature
    return LMController(
        model, tokenizer, scenario, seed, spec.normalize, temperature, spec.greedy, spec.source, spec.chat
    )
