"""A population run's summary: each member's last score, hyper-parameters and lineage, the best
member, and the table printed at the end."""

from __future__ import annotations


def score_key(record: dict) -> tuple:
    """How eval records compare: the score, then (goal scenarios) the return."""
    return (record["score"], record.get("return", 0.0))


def summarize(population, records: list[dict]) -> dict:
    evals = [r for r in records if r.get("kind") == "eval"]
    steps = sorted({r["step"] for r in evals})
    last = {r["member"]: r for r in evals if steps and r["step"] == steps[-1]}
    first = {r["member"]: r for r in evals if steps and r["step"] == steps[0]}
    copies = [e for e in population.lineage if e.get("kind") == "exploit"]
    names = population.names
    members = []
    for name in names:
        record = last.get(name, {})
        members.append({
            "member": name, "score": record.get("score"), "success": record.get("success"),
            "rating": record.get("rating"), "root": population.root[name],
            "hyper": population.searched[name], "copied": sum(e["member"] == name for e in copies),
            "copied_by": sum(e["from"] == name for e in copies),
            "files": [str(population.member_file(name, seat)) for seat in (population.payloads or [{}])[0]],
        })  # fmt: skip
    ranked = [name for name in names if name in last]
    best = max(ranked, key=lambda name: score_key(last[name])) if ranked else None
    first_best = max(first, key=lambda name: score_key(first[name])) if first else None
    env_steps = population.step * len(names)
    return {
        "scenario": population.config.scenario,
        "algo": population.algo,
        "population": len(names),
        "steps": population.step,
        "env_steps": env_steps,
        "seconds": round(population.elapsed, 1),
        "steps_per_s": round(env_steps / max(population.elapsed, 1e-9), 1),
        "score": "rating" if population.ladder else "success",
        "best": None if best is None else {"member": best} | _row(members, best),
        "first_evaluation_best": None
        if first_best is None
        else {"member": first_best, "step": steps[0], "score": first[first_best]["score"]},  # fmt: skip
        "copies": len(copies),
        "members": members,
    }


def _row(members: list[dict], name: str) -> dict:
    row = next(m for m in members if m["member"] == name)
    return {k: v for k, v in row.items() if k != "member"}


def format_summary(summary: dict) -> str:
    keys = sorted({k for m in summary["members"] for k in m["hyper"]})
    head = ("member", summary["score"], "lineage", *keys, "copied", "copied by")
    body = [
        (
            m["member"],
            _num(m["score"]),
            m["root"],
            *(f"{m['hyper'].get(k, float('nan')):.3g}" for k in keys),
            str(m["copied"]),
            str(m["copied_by"]),
        )  # fmt: skip
        for m in summary["members"]
    ]
    widths = [max(len(row[k]) for row in [head, *body]) for k in range(len(head))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [head, *body]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    best, s = summary["best"], summary
    lines.insert(
        0,
        f"{s['scenario']}: {s['population']} {s['algo']} members x {s['steps']:,} env "
        f"steps in {summary['seconds']:,.0f} s ({summary['steps_per_s']:,.0f} steps/s), {summary['copies']} "
        f"copies; best {best['member'] if best else '-'} ({summary['score']} {_num(best and best['score'])})",
    )
    return "\n".join(lines)


def _num(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"
