"""`arena train --population N --ray`: members on Ray actors (a local Ray on 127.0.0.1, two CPUs)
take the same decisions, and end with the same weights, as members trained in turn here."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from arena.population.config import CHECKPOINT, PopulationConfig
from arena.population.population import LINEAGE, Population

ray = pytest.importorskip("ray", reason="members on Ray need Ray: pip install -e '.[ray]' (test extra)")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def local_ray():
    from arena.cluster import LOCAL, connect

    started = not ray.is_initialized()
    connect(LOCAL, num_cpus=2)
    yield LOCAL
    if started:
        ray.shutdown()


def records(folder, name="log.jsonl") -> list[dict]:
    rows = [json.loads(line) for line in (folder / name).read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


CONFIG = PopulationConfig(
    scenario="maze_v0:size=5:max_cycles=20", hyper={"hidden": 16, "rollout": 8, "epochs": 1},
    population=4, worlds=4, steps=4 * 24, exploit_every=4 * 8, eval_worlds=4, seed=3,
)  # fmt: skip


class Stop(Exception):
    """Raised from a population's callback: the run dies as if killed."""


def same_end(a, b) -> None:
    assert records(a, LINEAGE) == records(b, LINEAGE)
    assert records(a) == records(b)
    left, right = load_file(a / CHECKPOINT), load_file(b / CHECKPOINT)
    assert left.keys() == right.keys()
    assert all(torch.equal(left[key], right[key]) for key in left)


@pytest.mark.slow
def test_members_on_ray_actors_give_the_same_lineage_and_weights_as_members_here(tmp_path, local_ray):
    config = CONFIG
    Population(config, tmp_path / "here", quiet=True).run()
    on_ray = Population(config, tmp_path / "ray", quiet=True, ray=local_ray)
    assert type(on_ray.hosts).__name__ == "OnRay"
    on_ray.run()
    lineage = records(tmp_path / "ray", LINEAGE)
    assert any(e["kind"] == "exploit" for e in lineage)
    same_end(tmp_path / "ray", tmp_path / "here")


@pytest.mark.slow
def test_a_population_killed_on_ray_resumes_here_to_the_same_end(tmp_path, local_ray):
    Population(CONFIG, tmp_path / "here", quiet=True).run()

    def stop(population):
        if population.step >= 64:
            raise Stop

    with pytest.raises(Stop):
        Population(CONFIG, tmp_path / "moved", quiet=True, ray=local_ray).run(stop)
    Population(None, tmp_path / "moved", resume=True, quiet=True).run()
    same_end(tmp_path / "moved", tmp_path / "here")
