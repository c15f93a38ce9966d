"""A model folder on disk: transformers' files, `training.json` and a model card, written in
one move (`write_model_dir`), and the default model's card (`model_card`)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path


def write_model_dir(model, tokenizer, report: dict, out: Path, card=None) -> Path:
    """Save a model folder (transformers format + model card + training.json) in one move: it
    is written beside `out` and renamed into place, so `out` is never half written. `card(report,
    folder)` writes the card's text (default: the distilled default model's, `model_card`)."""
    from agents.lm.model import quiet_bars

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        with quiet_bars():  # one small shard: its bar is noise
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        (tmp / "training.json").write_text(json.dumps(report, indent=2) + "\n")
        (tmp / "README.md").write_text((card or model_card)(report, tmp))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700 and safetensors files 0600: normal ones
        for f in tmp.iterdir():
            f.chmod(0o666 & ~umask)
        old = out.with_name(f".{out.name}.old")
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def model_card(report: dict, folder: Path) -> str:
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    acc, untrained, chance = (
        report["heldout_accuracy"],
        report["heldout_accuracy_untrained"],
        report["chance_accuracy"],
    )
    rows = "\n".join(
        f"| {s} | {report['per_source'].get(s, 0)} | {acc[s]:.3f} | {chance[s]:.3f} | {untrained[s]:.3f} |"
        for s in acc
        if s != "all"
    )
    recipe = "\n".join(
        f"  - {line['label']}: `{line['scenario']}` {json.dumps(line['config'])}, {line['episodes']} episodes"
        for line in report["recipe"]
    )
    return f"""# Grid Arena default language model

A tiny Llama-architecture causal LM ({report["parameters"]:,} parameters, {size / 1e6:.2f} MB on disk
with its tokenizer) that reads Grid Arena's text view and names an action. Built by
`arena lm train --seed {report["seed"]} --threads {report["torch_threads"]}`
in {report.get("seconds", 0):.0f} s (knowledge distillation from the scripted planners); the same
seed and thread count rebuild the same weights.

- Tokenizer: word level, {report["vocabulary"]} tokens, covering every word of the text view
  (`agents/lm/tokenizer.py`); one token per map cell; numbers digit by digit.
- Prompt format: `grid-arena-prompt-v1` (`agents/lm/prompt.py`); actions are scored as the
  continuation " <action>" after the cue `Action:`.
- Data: {report["examples"]["train"]:,} (prompt, planner action) pairs from seeded episodes, the
  executed action being the planner's or, with probability {report["epsilon"]}, a random legal
  one (labels stay the planner's); {report["examples"]["heldout"]:,} held-out pairs from episodes
  seeded {report["seed"] + 7_000_000:,} onwards. Recipe:
{recipe}
- Training: {report["epochs"]} epochs, batch {report["batch_size"]}, AdamW lr {report["lr"]}
  (warm-up, cosine), loss = cross-entropy of the action token over the whole vocabulary.
  Epoch losses: {", ".join(f"{x:.3f}" for x in report["losses"])}.

## Held-out action accuracy

Share of held-out states where the model's most likely legal action is the planner's action.
The planner reads the whole map; the model sees only its view and the goal's direction, so
100% is out of reach where the view does not show the way.

| source | training examples | accuracy | random legal action | untrained model |
|---|---|---|---|---|
{rows}
| **all** | {report["examples"]["train"]} | **{acc["all"]:.3f}** | {chance["all"]:.3f} | \
{untrained["all"]:.3f} |

Training-set accuracy (every 4th example): {report["train_accuracy"]["all"]:.3f}.
"""
