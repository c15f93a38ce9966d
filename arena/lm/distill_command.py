"""`arena lm distill`: a trained RL team or a planner, distilled into the LM student.

arena lm distill --teacher assets/checkpoints/maze_v0_agents.safetensors --threads 1
arena lm distill --teacher planner --scenario plates_v0 --target q --steps 8192
arena lm distill --teacher assets/checkpoints/tag_v0_runners.safetensors --team runners

The teacher labels every state the student's team meets with its action distribution
(`agents.lm.teacher`); the student (the shipped model by default, `--student fresh` for a new
one, or a model folder) learns it by KL over DAgger rounds. Before and after, the report gives
the student's agreement with the teacher and KL on held-out states, and the success (and the
progress score of `arena lm eval`, on the same seeds) of teacher and student. The student is
written as a model folder (`--out`, by default under `out/lm_distill/`, never the shipped
model's folder) that any `lm:PATH` seat, `arena lm eval --model PATH` included, loads.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from arena.options import add_threads_option, positive_int, seed_int, set_threads
from worlds.errors import ConfigError

OUT_ROOT = Path("out") / "lm_distill"
# the distillation's hyper-parameters (`--hp K=V`): AdamW's learning rate, training epochs after
# each round, minibatch size, and the share of random legal actions while the teacher plays
HYPER = {"lr": 1e-3, "epochs": 3, "batch_size": 64, "epsilon": 0.2}


def check_hyper(pairs: list[str]) -> dict:
    """`--hp` pairs over the defaults, each checked (a ConfigError names the option)."""
    from arena.training.loop import parse_pairs

    given = parse_pairs(pairs, "--hp")
    unknown = sorted(set(given) - set(HYPER))
    if unknown:
        raise ConfigError(f"--hp {unknown[0]}: unknown; distillation takes {', '.join(HYPER)}")
    hyper = HYPER | given
    for key, low, high in (("lr", 0.0, 1.0), ("epsilon", 0.0, 1.0)):
        value = hyper[key]
        if not isinstance(value, (int, float)) or not low <= value <= high or (key == "lr" and value == 0):
            raise ConfigError(
                f"--hp {key} must be a number in {'(0' if key == 'lr' else '[0'}, {high}], got {value!r}"
            )
    for key in ("epochs", "batch_size"):
        if not isinstance(hyper[key], int) or isinstance(hyper[key], bool) or hyper[key] < 1:
            raise ConfigError(f"--hp {key} must be a whole number >= 1, got {hyper[key]!r}")
    return hyper


def add_parser(cmds) -> None:
    d = cmds.add_parser("distill", help="distil a checkpoint (RL team) or a planner into the LM student")
    d.add_argument(
        "--teacher", required=True, help="planner, or a checkpoint path (e.g. assets/checkpoints/...)"
    )
    d.add_argument(
        "--scenario",
        default=None,
        help="SCENARIO[:K=V...] (default: the checkpoint's own scenario and config)",
    )
    d.add_argument("--team", default=None, help="the team the student learns to play (default: the first)")
    d.add_argument(
        "--student", default="default", help="default (the shipped model), fresh, or a model folder"
    )
    d.add_argument("--target", choices=("policy", "q", "onehot"), default="policy",
                   help="the teacher's distribution: its policy (a planner's: one-hot), q: every action a "
                   "planner rates best, onehot: its chosen action")  # fmt: skip
    d.add_argument("--steps", type=positive_int, default=4096, help="env steps of collection, all rounds")
    d.add_argument("--worlds", type=positive_int, default=16)
    d.add_argument("--rounds", type=positive_int, default=2, help="1: the teacher plays; more: DAgger rounds")
    d.add_argument(
        "--hp",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="hyper-parameters: " + ", ".join(f"{k}={v}" for k, v in HYPER.items()),
    )
    d.add_argument("--episodes", type=positive_int, default=64, help="evaluation episodes, before and after")
    d.add_argument("--seed", type=seed_int, default=0)
    add_threads_option(d)
    d.add_argument("--device", default="auto", help="auto (cuda if torch sees one), cpu or cuda")
    d.add_argument("--out", default=None, help=f"model folder to write (default {OUT_ROOT}/SCENARIO-TEACHER)")
    d.add_argument("--json", action="store_true", help="print the report as JSON")
    d.set_defaults(func=distill_command)


def distill_command(args) -> int:
    set_threads(args.threads)
    args.hyper = check_hyper(args.hp)
    scenario, label = teacher_scenario(args.teacher, args.scenario)
    out = out_folder(args.out, scenario.name, args.teacher)
    say = (lambda _: None) if args.json else (lambda line: print(line, flush=True))
    model, tokenizer, report = distill(args, scenario, label, log=say)
    from transformers.utils import logging as hf_logging

    from arena.lm.model_dir import write_model_dir

    hf_logging.disable_progress_bar()  # a bar for writing one small file is noise
    report["out"] = str(write_model_dir(model, tokenizer, report, out, card=card))
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(table(report))
        print(
            f"wrote {report['out']} (use it as --seat NAME=lm:{report['out']}, or arena lm eval --model ...)"
        )
    return 0


def teacher_scenario(teacher: str, text: str | None):
    """The scenario to distil on and its label: `--scenario`, else the checkpoint's own."""
    from arena.training.loop import parse_scenario

    if text:
        return parse_scenario(text), text
    if teacher == "planner" or not Path(teacher).is_file():
        raise ValueError("--scenario is needed unless the teacher is a checkpoint (it names its scenario)")
    from agents.files import read_safetensors
    from worlds.registry import make_scenario

    try:
        named = json.loads(read_safetensors(teacher)[0]["config"])["scenario"]
        scenario = make_scenario(named["name"], **named["config"])
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"{teacher}: the checkpoint names no scenario ({err}); give --scenario") from None
    return scenario, named["name"] + " (the checkpoint's config)"


def out_folder(out: str | None, scenario: str, teacher: str) -> Path:
    """`--out`, or out/lm_distill/SCENARIO-TEACHER; never the shipped model's folder."""
    from agents.lm.model import DEFAULT_DIR

    folder = Path(out) if out else OUT_ROOT / f"{scenario}-{Path(teacher).stem}"
    shipped = DEFAULT_DIR.resolve()
    if folder.resolve() == shipped or shipped in folder.resolve().parents:
        raise ValueError(f"--out {folder}: that is the shipped model's folder; write the student elsewhere")
    return folder


def make_teacher(spec: str, scenario, seed: int, device: str):
    """The teacher: any seat spec (a checkpoint is checked against the scenario's views)."""
    from agents.registry import make_controller

    return make_controller(spec, scenario, seed=seed, device=device)


def make_student(name: str, texts: list[str], seed: int, device):
    """(model, tokenizer, words added): the shipped model or a folder, its vocabulary extended
    to the scenario's words, or a fresh default-sized model over them."""
    from agents.lm import teacher as lm_teacher
    from agents.lm.model import build_model, load_model

    if name == "fresh":
        from agents.lm.tokenizer import build_tokenizer

        tokenizer = build_tokenizer(extra_texts=texts)
        return build_model(tokenizer, seed).to(device), tokenizer, []
    model, tokenizer = load_model(name, device)
    return lm_teacher.extend_vocabulary(model, tokenizer, texts)


def distill(args, scenario, label: str, log=print):
    """Collect, train over the rounds, and measure; returns (student model, tokenizer, report)."""
    from agents.checkpoint import pick_device
    from agents.lm import teacher as lm_teacher
    from agents.lm.distill import HELDOUT_SEED  # held-out states: worlds seeded far from training's
    from agents.lm.policy import LMController
    from agents.planners import make_planner
    from arena.lm.eval import evaluated_agents

    start = time.perf_counter()
    hyper = getattr(args, "hyper", None) or check_hyper(args.hp)
    device = pick_device(args.device)
    team = team_index(scenario, args.team)
    mine, _ = evaluated_agents(scenario, team)
    teacher = make_teacher(args.teacher, scenario, args.seed, args.device)
    opponent = make_planner(scenario, args.seed)
    per_round = -(-args.steps // (args.rounds * args.worlds))  # batch steps of one round

    def gather(seed: int, steps: int, actor=None):
        return lm_teacher.collect(
            scenario, teacher, mine, opponent, args.worlds, steps, seed,
            epsilon=hyper["epsilon"] if actor is None else 0.0, actor=actor, target=args.target,
        )  # fmt: skip

    corpus = gather(args.seed, per_round)
    heldout = gather(args.seed + HELDOUT_SEED, max(1, per_round // 4))
    texts = lm_teacher.scenario_texts(scenario, corpus + heldout)
    model, tokenizer, added = make_student(args.student, texts, args.seed, device)
    words = f" (+{len(added)} words: {' '.join(added[:12])}{' ...' if len(added) > 12 else ''})"
    log(
        f"{label}: teacher {args.teacher} ({scenario.team_names[team]}), student {args.student}"
        + (words if added else "")
        + f"; {len(corpus)} states from the teacher's play, {len(heldout)} held out"
    )
    before = measure(args, scenario, team, teacher, model, tokenizer, heldout)
    log(_line("student before", before))
    history = []
    for r in range(args.rounds):
        if r:
            actor = LMController(model, tokenizer, scenario, seed=args.seed + r)
            corpus = corpus + gather(args.seed + 100_000 * r, per_round, actor)
        losses = lm_teacher.train(
            model, tokenizer, scenario.actions, corpus, hyper["epochs"], hyper["batch_size"], hyper["lr"],
            seed=args.seed + r, log=log,
        )  # fmt: skip
        history.append({"round": r, "states": len(corpus), "losses": losses})
        log(f"round {r + 1}/{args.rounds}: {len(corpus)} states, KL {losses[-1]:.4f}")
    after = measure(args, scenario, team, None, model, tokenizer, heldout)
    report = {
        "scenario": label, "name": scenario.name, "team": scenario.team_names[team],
        "teacher": args.teacher, "student": args.student, "target": args.target, "seed": args.seed,
        "steps": args.steps, "worlds": args.worlds, "rounds": args.rounds, "hyper": hyper,
        "episodes": args.episodes, "heldout_states": len(heldout), "torch_threads": _torch_threads(),
        "words_added": added, "history": history, "teacher_play": before["teacher"],
        "before": _without(before, "teacher"), "after": after,
        "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    return model, tokenizer, report


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def team_index(scenario, name: str | None) -> int:
    if name is None:
        return 0
    if name not in scenario.team_names:
        raise ValueError(f"--team {name}: {scenario.name} has teams {', '.join(scenario.team_names)}")
    return scenario.team_names.index(name)


def measure(args, scenario, team: int, teacher, model, tokenizer, heldout) -> dict:
    """Agreement with the teacher on the held-out states, and success (sampled and greedy) of
    student and teacher on `arena lm eval`'s seeds, with its progress score on the first team."""
    from agents.lm import teacher as lm_teacher
    from agents.lm.policy import LMController
    from agents.planners import make_planner
    from arena.lm import eval as lm_eval

    out = lm_teacher.agreement(model, tokenizer, scenario.actions, heldout)
    first = lm_eval.EVAL_SEED + args.seed
    base = None
    if team == 0:
        base = lm_eval.baselines(scenario, args.episodes, first, 64, lm_eval.DEFAULT_CACHE, seed=args.seed)[0]

    def result(controller) -> dict:
        played = lm_eval.play(
            scenario, controller, make_planner(scenario, args.seed), args.episodes, first, 64, team
        )
        got = {"success": float(played.success.mean()), "score": float(played.score.mean())}
        if base is not None:
            got["progress"] = lm_eval.progress(lm_eval.metric(scenario), played, **base)["progress"]
        return got

    for how, greedy in (("sampled", False), ("greedy", True)):
        out[how] = result(LMController(model, tokenizer, scenario, seed=args.seed, greedy=greedy))
    if teacher is not None:
        out["teacher"] = {how: result(_Mode(teacher, how == "sampled")) for how in ("sampled", "greedy")}
    return out


class _Mode:
    """A controller acting sampled or greedy: a learner's `explore`; others act as they do."""

    def __init__(self, controller, explore: bool):
        self.controller, self.explore = controller, explore
        self.name = getattr(controller, "name", "teacher")

    def act(self, obs):
        if callable(getattr(self.controller, "learn", None)):
            return self.controller.act(obs, explore=self.explore)
        return self.controller.act(obs)


def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


def _line(who: str, m: dict) -> str:
    return (f"{who}: agreement {m['agreement']:.3f}, KL {m['kl']:.3f}, success sampled "
            f"{m['sampled']['success']:.2f} / greedy {m['greedy']['success']:.2f}")  # fmt: skip


def table(report: dict) -> str:
    """Teacher, student before and after: success, score, progress, agreement and KL."""
    rows = [
        ("teacher", report["teacher_play"], None),
        ("student before", report["before"], report["before"]),
        ("student after", report["after"], report["after"]),
    ]
    columns = f"{'':<15} | {'success':>13} | {'score':>15} | {'progress':>13} | {'agreement':>9} | {'KL':>6}"
    lines = [
        f"{report['scenario']}, team {report['team']}: {report['episodes']} episodes each (sampled | greedy)",
        columns,
        "-" * len(columns),
    ]
    for who, play, agree in rows:
        s, g = play["sampled"], play["greedy"]
        prog = "-" if "progress" not in s else f"{_num(s['progress'])} | {_num(g['progress'])}"
        lines.append(
            f"{who:<15} | {s['success']:>5.2f} | {g['success']:>5.2f} | {s['score']:>6.2f} | "
            f"{g['score']:>6.2f} | {prog:>13} | {_agree(agree)}"
        )
    lines.append(
        f"({report['seconds']:.0f} s; agreement: the student's best action is one of the teacher's most "
        f"likely, on {report['heldout_states']} held-out states)"
    )
    return "\n".join(line.rstrip() for line in lines)


def _num(x) -> str:
    return "n/a" if x is None else f"{x:5.1f}"


def _agree(m: dict | None) -> str:
    return f"{'':>9} | {'':>6}" if m is None else f"{m['agreement']:>9.3f} | {m['kl']:>6.3f}"


def card(report: dict, folder: Path) -> str:
    """The student folder's README."""
    return f"""# Grid Arena LM student distilled from {report["teacher"]}

Built by `arena lm distill --teacher {report["teacher"]} --scenario {report["name"]} --seed {report["seed"]}`
(student `{report["student"]}`, target `{report["target"]}`, {report["steps"]} env steps in {report["rounds"]}
rounds, hyper-parameters {json.dumps(report["hyper"])}; {report["seconds"]:.0f} s, {report["torch_threads"]}
torch threads). It plays team
`{report["team"]}` of {report["scenario"]}; words added to the vocabulary:
{", ".join(report["words_added"]) or "none"}.

```
{table(report)}
```
"""
