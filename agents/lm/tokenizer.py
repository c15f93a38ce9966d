"""A word-level tokenizer for the text view, as a real `transformers` tokenizer.

Prose splits into words (spaces between words are dropped), digits one by one (so every number
is covered), and punctuation one character each. Map rows split into exactly one token per cell,
blanks (cells outside the map) included, so the cell north of `@` is always the same number of
tokens back: a blank is a map cell when it touches a line's end or another blank, which is the
only place the text view puts one (the void round a map is contiguous at the view's edges).
Letters that are also cell characters (`G`, `P`, `D`, `d`) stand alone when a run holds nothing
else, so `#GP.` is four cells, not a word `GP`.

The vocabulary is every word the text view can produce: its sentence templates, every scenario's
names, goal words and actions, the cell names and characters, and (as a check on the templates)
the words of real text views from a few seeded episodes of the scenarios the shipped model
knows (`LM_SCENARIOS`).
`build_tokenizer()` returns a `PreTrainedTokenizerFast`; after `save_pretrained(dir)`,
`AutoTokenizer.from_pretrained(dir)` loads it.
"""

from __future__ import annotations

import numpy as np
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from worlds.cells import CHAR_OF, CLASSIC_CELLS, NAME_OF

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIAL = (PAD, UNK, BOS, EOS)

# The shipped model was distilled on the first three scenarios: its vocabulary and word split
# are theirs (words of later scenarios read as <unk> until a model is trained on them).
LM_SCENARIOS = ("maze_v0", "plates_v0", "tag_v0")
_CLASSIC_CHARS = [CHAR_OF[c] for c in range(CLASSIC_CELLS)]
_CLASSIC_NAMES = [NAME_OF[c] for c in range(CLASSIC_CELLS)]
_CELL_LETTERS = "".join(sorted({c for c in _CLASSIC_CHARS if c.isalpha()}))
_OTHER_LETTERS = "".join(
    c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in _CELL_LETTERS
)
# A prose space sits between two non-blank characters (or leads the text, as in " north").
_PROSE_SPACE = r"\A (?=[^ \n])|(?<=[^ \n]) (?=[^ \n])"
# Words hold at least one letter that is not a cell letter; any other letter is a token alone.
_PIECE = rf"[A-Za-z]*[{_OTHER_LETTERS}][A-Za-z]*|[A-Za-z]|[0-9]| |\n|[^A-Za-z0-9 \n]"

# The sentences of `worlds.observe.text_view` (and the prompt's own lines), with every slot
# filled by words listed below; digits and punctuation come from CHAR_OF and string.digits.
TEMPLATES = (
    "You are agent_0 (team agents) at row 0, column 0; step 0 of 0.",
    "Your task: reach your goal.",
    "Your goal is right here.",
    "Your goal is 1 north and 1 west. 1 south and 1 east.",
    "You see 7x7 cells around you, north up, you are @ in the middle (# wall, . floor, G goal, "
    "P pressure plate, D closed gate, d open gate, digits other agents, blank outside the map):",
    "Others in view: none. agent_1 (teammate, shown as 1) 1 north; agent_2 (rival, shown as 2).",
    "You stand on floor.",
    "Legal actions: noop, north, south, east, west.",
)
DIGITS = "0123456789"


def pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_PROSE_SPACE), behavior="removed"),
            pre_tokenizers.Split(Regex(_PIECE), behavior="isolated"),
        ]
    )


def words(text: str) -> list[str]:
    """The tokens `text` splits into (before the vocabulary lookup)."""
    return [piece for piece, _ in pre_tokenizer().pre_tokenize_str(text)]


def scenario_texts() -> list[str]:
    """Words every scenario of `LM_SCENARIOS` puts into text views: names, teams, goals, actions."""
    from worlds.registry import make_scenario

    texts = []
    for name in LM_SCENARIOS:
        scenario = make_scenario(name)
        texts += list(scenario.team_names) + list(scenario.agent_names) + list(scenario.actions)
        texts += [scenario.goal_words(i) for i in range(scenario.num_agents)]
    return texts


def harvested_texts(steps: int = 8, seed: int = 0) -> list[str]:
    """Text views of a few random steps in every scenario of `LM_SCENARIOS` (deterministic)."""
    import worlds

    texts = []
    rng = np.random.default_rng(seed)
    for name in LM_SCENARIOS:
        env = worlds.make_batch(name, num_worlds=2, seed=seed, obs_type="text")
        obs = env.reset()
        for _ in range(steps):
            texts += [t for row in obs["text"] for t in row]
            legal = obs["action_mask"] + rng.random(obs["action_mask"].shape)
            obs, *_ = env.step(legal.argmax(-1))
    return texts


def vocabulary(extra_texts=()) -> list[str]:
    """Special tokens, then every token of the sources, in a fixed (sorted) order."""
    from agents.lm.prompt import PROMPT_WORDS

    sources = [*TEMPLATES, *PROMPT_WORDS, *scenario_texts(), *harvested_texts(), *extra_texts]
    sources += _CLASSIC_NAMES + _CLASSIC_CHARS + list(DIGITS) + ["\n"]
    found = set()
    for text in sources:
        found.update(words(text))
    return list(SPECIAL) + sorted(found - set(SPECIAL))


def build_tokenizer(extra_texts=()) -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(vocabulary(extra_texts))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizer()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        clean_up_tokenization_spaces=False,
        model_max_length=1024,
    )
