"""Where a population's members live: here, trained in turn, or one Ray actor each (`--ray`).

Both take the same calls, `(member index, method, arguments)`, and give back the results in
the order asked. `Here` runs them one after another in this process; `OnRay` sends each to its
member's actor at once and waits for all, so the members of an interval train side by side on
the cluster's CPUs. The driver makes every decision (who copies whom, what is saved) from the
results, so both give the same lineage for the same evaluations, and the same evaluations for
the same training, which is deterministic on CPU given a member's state.
"""

from __future__ import annotations

from arena.population.member import Member, MemberSpec


class Here:
    """Members in this process, one after another."""

    def __init__(self, specs: list[MemberSpec]):
        self.members = [Member(spec) for spec in specs]

    def call(self, calls: list[tuple[int, str, tuple]]) -> list:
        return [getattr(self.members[k], method)(*args) for k, method, args in calls]

    def share(self, value):
        """What every call may read (a Ray object elsewhere)."""
        return value

    def close(self) -> None:
        pass


class OnRay:
    """One Ray actor per member, spread over the cluster's nodes. Every member must be alive
    at once (each holds its state), so each asks for its threads' CPUs or, when the population
    outnumbers the cluster's CPUs, an equal share of them (and with `--device cuda`, a share
    of the GPUs: an actor that asks for none sees none)."""

    def __init__(self, specs: list[MemberSpec], address: str):
        from arena.cluster import connect

        self.ray = connect(address)
        resources = self.ray.cluster_resources()
        options = {
            "num_cpus": min(float(specs[0].threads), float(resources.get("CPU", 1.0)) / len(specs)),
            "scheduling_strategy": "SPREAD",
        }
        if specs[0].device == "cuda" and resources.get("GPU"):
            options["num_gpus"] = min(1.0, float(resources["GPU"]) / len(specs))
        actor = self.ray.remote(Member).options(**options)
        self.actors = [actor.remote(spec) for spec in specs]

    def call(self, calls: list[tuple[int, str, tuple]]) -> list:
        refs = [getattr(self.actors[k], method).remote(*args) for k, method, args in calls]
        return self.ray.get(refs)

    def share(self, value):
        return self.ray.put(value)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
