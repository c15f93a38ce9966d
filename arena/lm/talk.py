"""`arena lm talk`: does talking help an LM team? Success with words vs without, measured.

On `--tasks` held-out tasks of a family (`worlds.tasks(FAMILY, "test", seed)`), one LM seat
drives the whole first team for `--worlds` episodes a task, in each condition with the same
seeds:

* signal (`signal_v0`, whose words are actions): `words`, as trained, vs `muted`, the same
  seat with every `say_` action replaced by `noop` (the listeners then hear nothing), and vs
  `babble`, every `say_` action replaced by a random word. Words can beat silence without
  carrying anything (a listener who hears any colour walks to a landmark); only words that beat
  babble carry the target;
* any other family: `channel`, the seat on a `TeamChannel` (a message picked after each action,
  read by teammates next step), vs `none`, the same seat without one.

Success is averaged per task, with its standard error over tasks (and the paired differences).
In signal, whose layout also fixes the secret target, every episode draws a fresh room and target
from the task's (held-out) knobs; elsewhere the task's layout is played.
`--train` first builds the talk model (`agents.lm.talk_model`) into `--out`
(default `assets/lm/talk/`), which `--model talk` (the default here) then loads.
"""

from __future__ import annotations

import json
import time
from itertools import islice
from pathlib import Path

import numpy as np

from arena.lm.trials import fmt, play_round, summary, team_seats
from arena.options import add_threads_option

TALK_OUT = Path(__file__).resolve().parents[2] / "assets" / "lm" / "talk"


class Muted:
    """A seat whose words are never said: every `say_` action becomes `noop`."""

    name = "muted"

    def __init__(self, controller):
        self.controller = controller
        self.says = np.array([a.startswith("say_") for a in controller.scenario.actions])

    def act(self, obs):
        actions = np.asarray(self.controller.act(obs))
        return np.where(self.says[actions], self.replacement(actions), actions)

    def replacement(self, actions: np.ndarray) -> np.ndarray:
        return np.zeros_like(actions)  # noop


class Babble(Muted):
    """A seat whose words say nothing: every `say_` action becomes a `say_` word drawn at random."""

    name = "babble"

    def __init__(self, controller, seed: int = 0):
        super().__init__(controller)
        self.words, self.rng = np.flatnonzero(self.says), np.random.default_rng(seed)

    def replacement(self, actions: np.ndarray) -> np.ndarray:
        return self.rng.choice(self.words, size=actions.shape)


def conditions(family: str) -> tuple[str, ...]:
    """The talking condition first, then its controls."""
    return ("words", "muted", "babble") if family == "signal" else ("channel", "none")


def measure(
    family: str, tasks: int, worlds: int, seed: int = 0, model: str = "talk", device="cpu", log=print
):
    import worlds as w
    from agents.lm.talk import TeamChannel
    from agents.registry import make_controller

    task_list = list(islice(w.tasks(family, "test", seed), tasks))
    talking, *controls = conditions(family)
    results = {}
    for condition in (talking, *controls):
        success, length = np.zeros(len(task_list)), np.zeros(len(task_list))
        start = time.perf_counter()
        for t, task in enumerate(task_list):
            # a signal task's layout pins its secret target too: each episode draws its own,
            # else a task would be one coin flip for a listener that heard nothing
            scenario = task.make_scenario(layout_seed=None) if family == "signal" else task.make_scenario()
            lm = make_controller(f"lm:{model}", scenario, seed=seed + t, device=device)
            seat = lm
            if condition == "channel":
                lm.join(TeamChannel(scenario))
            elif condition == "muted":
                seat = Muted(lm)
            elif condition == "babble":
                seat = Babble(lm, seed=seed + t)
            played = play_round(scenario, team_seats(scenario, seat, seed=seed), worlds, seed + 10_000 * t)
            success[t], length[t] = played["success"].mean(), played["length"].mean()
            log(f"{condition:7s} {task.label}: {success[t]:.2f} ({length[t]:.1f} steps)")
        results[condition] = {
            "per_task": success.tolist(),
            "success": summary(success),
            "length": summary(length),
            "seconds": round(time.perf_counter() - start, 1),
        }
    said = np.array(results[talking]["per_task"])
    results["differences"] = {
        f"{talking} - {c}": summary(said - np.array(results[c]["per_task"])) for c in controls
    }
    results["setup"] = {
        "family": family,
        "tasks": [t.label for t in task_list],
        "worlds": worlds,
        "seed": seed,
        "model": model,
        "conditions": [talking, *controls],
    }
    return results


def report(results: dict) -> str:
    setup = results["setup"]
    lines = [
        f"{setup['family']}: {len(setup['tasks'])} held-out tasks x {setup['worlds']} episodes, "
        f"model {setup['model']}",
        "condition | success | episode length",
    ]
    for condition in setup["conditions"]:
        r = results[condition]
        lines.append(f"{condition} | {fmt(*r['success'])} | {r['length'][0]:.1f}")
    for pair, diff in results["differences"].items():
        lines.append(f"{pair}, paired over tasks: {fmt(*diff)}")
    return "\n".join(lines)


def retitle_card(folder: Path) -> Path:
    """The model card written by `write_model_dir` names the default model: name this one."""
    from agents.files import write_atomic

    card = folder / "README.md"
    text = card.read_text().replace("# Grid Arena default language model", "# Grid Arena talk model")
    text = text.replace("`arena lm train --seed", "`arena lm talk --train --tasks 0 --seed")
    text = text.replace("that reads Grid Arena's text view and names an action.", (
        "that reads Grid Arena's text view and names an action; it also reads and says signal_v0's "
        "words (`agents/lm/talk_model.py`)."
    ))  # fmt: skip
    write_atomic(card, lambda tmp: Path(tmp).write_text(text))
    return folder


def talk_command(args) -> int:
    from arena.lm.commands import _threads

    _threads(args.threads)
    if args.train:
        from agents.lm.talk_model import distill_talk
        from arena.lm.model_dir import write_model_dir

        start = time.perf_counter()
        model, tokenizer, result = distill_talk(
            seed=args.seed, scale=args.scale, epochs=args.epochs, log=print, recipe=args.recipe
        )
        result["seconds"] = round(time.perf_counter() - start, 1)
        out = retitle_card(write_model_dir(model, tokenizer, result, Path(args.out)))
        acc = result["heldout_accuracy"]
        print(
            f"held-out action accuracy {acc['all']:.3f} (random legal {result['chance_accuracy']['all']:.3f})"
        )
        print(f"wrote {out} in {result['seconds']:.0f} s")
        if not args.tasks:
            return 0
    if args.tasks < 1 or args.worlds < 1:
        raise ValueError("--tasks and --worlds must be >= 1")
    quiet = (lambda _: None) if args.json else print
    results = measure(args.family, args.tasks, args.worlds, args.seed, args.model, args.device, log=quiet)
    print(json.dumps(results) if args.json else report(results))
    return 0


def add_parser(cmds) -> None:
    talk = cmds.add_parser("talk", help="success of an LM team that talks vs one that does not")
    talk.add_argument(
        "family", nargs="?", default="signal", help="task family (worlds.tasks), held-out split"
    )
    talk.add_argument("--tasks", type=int, default=20, help="held-out tasks (0 with --train: train only)")
    talk.add_argument("--worlds", type=int, default=8, help="episodes per task, played at once")
    talk.add_argument("--model", default="talk", help="talk (default), default, a folder, ...")
    talk.add_argument("--seed", type=int, default=0)
    talk.add_argument("--device", default="cpu")
    add_threads_option(talk)
    talk.add_argument("--json", action="store_true")
    talk.add_argument("--train", action="store_true", help="first build the talk model")
    talk.add_argument(
        "--scale", type=float, default=1.0, help="with --train: episodes per recipe line, scaled"
    )
    talk.add_argument("--epochs", type=int, default=3, help="with --train")
    talk.add_argument(
        "--recipe", choices=("all", "signal"), default="all", help="with --train: what to distil"
    )
    talk.add_argument(
        "--out", default=str(TALK_OUT), help="with --train: model folder (default assets/lm/talk)"
    )
    talk.set_defaults(func=talk_command)
