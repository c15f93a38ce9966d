"""The `arena meta` command line: `arena meta train FAMILY` and `arena meta eval`, a thin layer
over `arena.meta.train` and `arena.meta.protocol`."""

from __future__ import annotations

import json
from pathlib import Path

from arena.options import positive_int
from arena.training.loop import parse_pairs

DEFAULT_OUT = Path("runs/meta")


def add_parser(sub) -> None:
    meta = sub.add_parser(
        "meta", help="meta-learning over a task family: Reptile, multi-task, RL^2; few-shot eval"
    )
    cmds = meta.add_subparsers(dest="meta_command", required=True)

    train = cmds.add_parser(
        "train",
        help="meta-train over a family's train tasks",
        description="Meta-train over worlds.tasks(FAMILY, 'train'): Reptile, the multi-task learner with "
        "the same budget, or RL^2. Writes learner.safetensors, meta.json, log.jsonl/csv, training.png.",
    )
    train.add_argument("family", help="a task family of worlds.tasks: maze, plates, tag, forage, ...")
    train.add_argument("--method", default="reptile", choices=("reptile", "multitask", "rl2"))
    train.add_argument(
        "--steps", type=positive_int, default=200_000, help="env steps in all (default 200000)"
    )
    train.add_argument("--algo", default="ppo", choices=("ppo", "a2c", "reinforce"), help="the inner learner")
    train.add_argument(
        "--hp",
        action="append",
        metavar="KEY=VALUE",
        help="a hyper-parameter of the learner (lr, rollout, hidden, ...) or of the method: inner_updates, "
        "meta_batch, meta_lr, anneal (rl2: trials and its own)",
    )
    train.add_argument("--config", action="append", metavar="KEY=VALUE", help="override every task's config")
    train.add_argument("--worlds", type=positive_int, default=8, help="worlds per task (default 8)")
    train.add_argument("--seed", type=int, default=0)
    _common(train)
    train.add_argument("--out", help="run folder (default runs/meta/FAMILY-METHOD)")
    train.set_defaults(func=train_command)

    ev = cmds.add_parser(
        "eval",
        help="few-shot success on held-out tasks, against scratch",
        description="Success on the family's test tasks after 0..K fine-tuning rounds (rl2: trials), "
        "for each contender: `scratch`, a run folder of `arena meta train`, or a checkpoint. "
        "Writes eval.json and adaptation.png.",
    )
    ev.add_argument("contenders", nargs="+", metavar="CHECKPOINT_OR_scratch")
    ev.add_argument("--family", help="task family (default: the first run's)")
    ev.add_argument("--shots", type=int, default=5, help="fine-tuning rounds K (default 5)")
    ev.add_argument("--round-steps", type=positive_int, default=2048, help="env steps a round (default 2048)")
    ev.add_argument("--tasks", type=positive_int, default=8, help="held-out tasks (default 8)")
    ev.add_argument("--worlds", type=positive_int, default=8, help="worlds while fine-tuning (default 8)")
    ev.add_argument("--eval-worlds", type=positive_int, default=32, help="episodes per score (default 32)")
    ev.add_argument("--eval-greedy", action="store_true", help="score the greedy policy, not samples")
    ev.add_argument("--seed", type=int, default=0, help="the test stream's seed and the runs' (default 0)")
    ev.add_argument("--config", action="append", metavar="KEY=VALUE", help="task config (default: the run's)")
    ev.add_argument("--hp", action="append", metavar="KEY=VALUE", help="scratch's hyper-parameters "
                    "(default: the first checkpoint's)")  # fmt: skip
    ev.add_argument(
        "--algo", choices=("ppo", "a2c", "reinforce"), help="scratch's learner (default: as above)"
    )
    _common(ev)
    ev.add_argument("--out", help="folder for eval.json and adaptation.png (default runs/meta/FAMILY-eval)")
    ev.add_argument("--json", action="store_true", help="print eval.json instead of the table")
    ev.set_defaults(func=eval_command)


def _common(p) -> None:
    p.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: cuda if torch sees one"
    )
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--quiet", action="store_true")


def train_command(args) -> int:
    import torch

    from arena.meta.train import meta_train

    torch.set_num_threads(args.threads)
    out = Path(args.out or DEFAULT_OUT / f"{args.family}-{args.method}")
    meta = meta_train(
        args.family, args.method, args.steps, out, seed=args.seed, algo=args.algo,
        hyper=parse_pairs(args.hp or [], "--hp"), worlds=args.worlds,
        config=parse_pairs(args.config or [], "--config"), device=args.device, quiet=args.quiet,
    )  # fmt: skip
    if not args.quiet:
        files = [meta["checkpoint"], "meta.json", *(["log.jsonl", "training.png"] * (args.method != "rl2"))]
        took = f"{meta['steps']:,} env steps in {meta['seconds']:,.0f} s"
        print(f"{args.method} on {args.family}: {took}; wrote {out}/: {', '.join(files)}")
    return 0


def eval_command(args) -> int:
    import torch

    from arena.episode import write_atomic
    from arena.meta.plots import plot_adaptation
    from arena.meta.protocol import SCRATCH, contender, format_table, run_protocol
    from arena.meta.tasks import Practice

    torch.set_num_threads(args.threads)
    contenders = [contender(spec) for spec in args.contenders]
    names = [c.name for c in contenders]
    for c in contenders:  # two runs of one method: told apart by their folders
        if names.count(c.name) > 1:
            c.name = f"{c.name}:{c.checkpoint.parent.name}" if c.checkpoint else c.name
    runs = [c for c in contenders if c.meta]
    family = args.family or (runs[0].meta["family"] if runs else None)
    if family is None:
        raise ValueError("--family is needed when no contender is a run of `arena meta train`")
    for c in runs:
        if c.meta["family"] != family:
            raise ValueError(
                f"{c.checkpoint}: trained on family {c.meta['family']!r}, evaluated on {family!r}"
            )
    config = parse_pairs(args.config, "--config") if args.config else (runs[0].meta["config"] if runs else {})
    algo, hyper = scratch_learner(contenders, args)
    practice = Practice(family, algo, hyper, config, args.worlds, args.seed, args.device,
                        eval_worlds=args.eval_worlds, greedy=args.eval_greedy)  # fmt: skip
    if not any(c.method == SCRATCH for c in contenders):
        contenders.append(contender(SCRATCH))  # the reference every speedup is measured against
    summary = run_protocol(contenders, practice, args.shots, args.round_steps, args.tasks, args.seed)
    out = Path(args.out or DEFAULT_OUT / f"{family}-eval")
    summary["plot"] = str(plot_adaptation(summary, out / "adaptation.png"))
    text = json.dumps(summary, indent=2) + "\n"
    write_atomic(out / "eval.json", lambda tmp: Path(tmp).write_text(text))
    if args.json:
        print(text, end="")
    elif not args.quiet:
        print(format_table(summary))
        print(f"wrote {out}/: eval.json, adaptation.png")
    return 0


def scratch_learner(contenders, args) -> tuple[str, dict]:
    """The scratch learner's algorithm and hyper-parameters: given, else the first checkpoint's
    (so that its net is the same), else the defaults."""
    from agents.checkpoint import read_checkpoint

    hyper = parse_pairs(args.hp or [], "--hp")
    first = next((c for c in contenders if c.checkpoint is not None and c.method != "rl2"), None)
    if first is None:
        return args.algo or "ppo", hyper
    config, _, _ = read_checkpoint(first.checkpoint)
    saved = {k: v for k, v in config["hyper"].items() if k not in ("continual",)}
    return args.algo or config["algo"], saved | hyper
