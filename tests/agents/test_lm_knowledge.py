"""The knowledge base: round trips, retrieval order, persistence across processes, hostile
files, team sharing, and recall in an LM seat's decisions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("usearch", reason="the knowledge base needs the memory extra (usearch)")

import worlds  # noqa: E402
from agents.base import Observations  # noqa: E402
from agents.lm.embed import NAME, text_vectors  # noqa: E402
from agents.lm.knowledge import Entry, KnowledgeBase, lesson_text  # noqa: E402
from agents.lm.recall import Recall  # noqa: E402
from worlds.errors import BadFileError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def entry(text: str, action: str = "north", kind: str = "step", success: bool = True) -> Entry:
    return Entry(kind, "maze_v0", text, action, success, 0.5, 12)


def unit(rows) -> np.ndarray:
    x = np.asarray(rows, np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_round_trip_keeps_entries_and_vectors(tmp_path):
    path = tmp_path / "kb.safetensors"
    store = KnowledgeBase(path, "test", 3)
    vectors = unit([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    entries = [entry("a"), entry("b", "east"), entry("lesson b", "", "lesson", False)]
    store.add(vectors, entries)
    store.save()
    again = KnowledgeBase(path, "test", 3)
    assert again.entries == entries
    np.testing.assert_array_equal(again.vectors, vectors)
    assert not list(tmp_path.glob(".kb*"))  # the atomic write left no temporary file


def test_search_returns_the_most_similar_first(tmp_path):
    store = KnowledgeBase(tmp_path / "kb", "test", 4)
    angles = np.linspace(0, np.pi / 2, 10)  # entry k lies at angle k from the query's direction
    store.add(
        unit(np.stack([np.cos(angles), np.sin(angles), 0 * angles, 0 * angles], 1)),
        [entry(str(k)) for k in range(10)],
    )
    [hits] = store.search(unit([[1, 0, 0, 0]]), k=4)
    assert [key for key, _ in hits] == [0, 1, 2, 3]
    distances = [d for _, d in hits]
    assert distances == sorted(distances) and distances[0] < 1e-6
    # a batch of queries, each its own order; and a kind filter
    both = store.search(unit([[1, 0, 0, 0], [0, 1, 0, 0]]), k=2)
    assert [k for k, _ in both[0]] == [0, 1] and [k for k, _ in both[1]] == [9, 8]
    store.add(unit([[0.9, 0.1, 0, 0]]), [entry("lesson", "", "lesson")])
    [lessons] = store.search(unit([[1, 0, 0, 0]]), k=3, kind="lesson")
    assert [k for k, _ in lessons] == [10]


def test_the_store_persists_across_processes_and_merges_their_writes(tmp_path):
    path = tmp_path / "team.kb"
    mine = KnowledgeBase(path, "test", 2)
    mine.add(unit([[1, 0]]), [entry("mine")])
    mine.save()
    # another process (another seat, another run) adds to the same file meanwhile
    code = (
        "import numpy as np\n"
        "from agents.lm.knowledge import Entry, KnowledgeBase\n"
        f"kb = KnowledgeBase({str(path)!r}, 'test', 2)\n"
        "assert [e.text for e in kb.entries] == ['mine'], kb.entries\n"
        "theirs = Entry('step', 'maze_v0', 'theirs', 'west', True, 1.0, 3)\n"
        "kb.add(np.array([[0.0, 1.0]], np.float32), [theirs])\n"
        "kb.save()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    mine.add(unit([[1, 1]]), [entry("mine again")])
    mine.save()  # rereads theirs before writing: nothing is lost
    assert [e.text for e in KnowledgeBase(path, "test", 2).entries] == ["mine", "theirs", "mine again"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a store at all",
        b"\x80\x04\x95" + b"cos\nsystem\n(S'touch PWNED'\ntR." * 3,  # a pickle that would run a command
    ],
)
def test_a_corrupt_or_hostile_file_fails_with_one_line_naming_it(tmp_path, content):
    path = tmp_path / "bad.kb"
    path.write_bytes(content)
    with pytest.raises(BadFileError) as err:
        KnowledgeBase(path, "test", 2)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_a_store_of_other_vectors_or_damaged_entries_is_refused(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "kb"
    store = KnowledgeBase(path, "test", 2)
    store.add(unit([[1, 0]]), [entry("a")])
    store.save()
    with pytest.raises(BadFileError, match="not 'other' of 2"):
        KnowledgeBase(path, "other", 2)
    bad = {"format": "grid-arena-knowledge", "version": "1", "embedding": "test", "dim": "2"}
    for entries, match in [
        ('[["step", "m", "t", "a", "yes", 1, 2]]', "success or outcome"),
        ("{not json", "entries are corrupt"),
        ('[["step", "m", "t", "a", true, 1.0, 2], ["step", "m", "t", "a", true, 1.0, 2]]', "shape"),
    ]:
        save_file({"vectors": np.zeros((1, 2), np.float32)}, str(path), metadata=bad | {"entries": entries})
        with pytest.raises(BadFileError, match=match):
            KnowledgeBase(path, "test", 2)


def test_seats_given_one_path_share_one_store(tmp_path):
    scenario = worlds.make_scenario("maze_v0", style="open", size=7)
    a = Recall.open(tmp_path / "team.kb", scenario)
    b = Recall.open(tmp_path / "team.kb", scenario)
    assert a.store is b.store
    texts = ["Your goal is 2 east.\n#.@..G"]
    vectors = a.vectors(texts)
    a.note([(0, 0)], np.array([0]), vectors, texts, np.array([3]))  # east
    a.episode_over(0, True, 1, {0: 0.9})
    p, has = b.prior(vectors, np.ones((1, len(scenario.actions)), np.int8))  # the teammate recalls it
    assert has[0] and p[0, scenario.actions.index("east")] == pytest.approx(1.0)


def test_recall_files_successes_and_lessons_and_biases_towards_what_worked(tmp_path):
    scenario = worlds.make_scenario("maze_v0", style="open", size=7)
    recall = Recall.open(tmp_path / "kb", scenario, weight=0.5)
    env = worlds.BatchEnv(scenario, 2, 0)
    raw = env.reset()
    obs = Observations.of_batch(scenario, env.world, raw, [0])
    texts = obs.texts()
    vectors = recall.vectors(texts)
    west = scenario.actions.index("west")
    recall.note(obs.seats(), obs.steps(), vectors, texts, np.array([west, west]))
    assert recall.episode_over(1, False, 9, {0: 0.0}) == 1  # a failure: only its lesson
    assert [e.kind for e in recall.store.entries] == ["lesson"] and not recall.store.entries[0].success
    assert recall.episode_over(0, True, 4, {0: 0.8}) == 2  # a success: its step and its lesson
    assert [e.kind for e in recall.store.entries] == ["lesson", "step", "lesson"]
    assert recall.store.entries[1].action == "west" and recall.store.entries[1].text == texts[0]
    uniform = np.full((2, len(scenario.actions)), 0.2, np.float32)
    mask = np.ones_like(uniform, dtype=np.int8)
    mixed = recall.blend(uniform, vectors, mask)
    assert mixed[0, west] == pytest.approx(0.6) and mixed[0].sum() == pytest.approx(1.0)
    mask[0, west] = 0  # a remembered action that is illegal now gets no vote
    assert recall.blend(uniform, vectors, mask)[0, west] == pytest.approx(0.2)
    far = recall.vectors(["Legal actions: tag.\n@@@@@@@"])
    assert recall.blend(uniform[:1], far, mask[:1])[0].tolist() == uniform[0].tolist()


def test_the_text_embedding_ignores_the_clock_and_is_the_same_in_every_process():
    a = "You are agent_0 (team agents) at row 1, column 2; step 3 of 40.\n#.@\nYour goal is 2 east."
    b = a.replace("step 3 of 40", "step 17 of 40")
    c = a.replace("2 east", "2 west")
    va, vb, vc = text_vectors([a, b, c])
    assert np.allclose(va, vb) and not np.allclose(va, vc)
    assert np.linalg.norm(va) == pytest.approx(1.0)
    code = f"import json, agents.lm.embed as e; print(json.dumps(e.text_vectors([{a!r}])[0].tolist()))"
    other = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True)
    assert np.allclose(json.loads(other.stdout), va)


def test_lessons_say_how_the_episode_went():
    assert "succeeded in 12 of 40" in lesson_text("maze_v0", True, 12, 0.7, 40)
    assert "failed after 40 of 40" in lesson_text("maze_v0", False, 40, 0.0, 40)


def test_an_lm_seat_with_memory_files_its_episode_and_the_store_outlives_the_match(tmp_path):
    from arena.lm.seats import equip
    from arena.match import Match
    from arena.seats import Seating

    path = tmp_path / "maze.kb"
    config = {"style": "open", "size": 5, "max_cycles": 30}
    scenario = worlds.make_scenario("maze_v0", **config)
    seating = Seating.from_specs(scenario, ["agents=lm"], seed=0, device="cpu")
    [lm] = equip(seating, scenario, memory=path)
    match = Match("maze_v0", config, seating, seed=1)
    match.play(lambda m: None)
    assert path.exists()
    kept = KnowledgeBase(path, NAME, 256)
    lessons = [e for e in kept.entries if e.kind == "lesson"]
    assert len(lessons) == 1 and lessons[0].success == match.success()
    assert len(kept) == (1 + match.steps if match.success() else 1)


def test_entries_added_after_a_search_are_found_and_the_oldest_go_beyond_the_limit(tmp_path):
    store = KnowledgeBase(tmp_path / "kb", "test", 2, max_entries=3)
    store.add(unit([[1, 0]]), [entry("first")])
    assert store.search(unit([[0, 1]]), k=1)[0][0][0] == 0  # the index is built here
    store.add(unit([[0, 1]]), [entry("second")])  # and grows in place
    assert store.search(unit([[0, 1]]), k=1)[0][0] == (1, pytest.approx(0.0, abs=1e-6))
    store.add(unit([[1, 1], [1, -1]]), [entry("third"), entry("fourth")])
    assert [e.text for e in store.entries] == ["second", "third", "fourth"]
    [hits] = store.search(unit([[1, -1]]), k=3)
    assert store.entries[hits[0][0]].text == "fourth" and len(hits) == 3


def test_a_success_files_its_way_without_the_loops():
    from agents.lm.recall import loop_erased

    walk = [(None, "t", a, cell) for a, cell in [
        ("east", (1, 1)), ("east", (1, 2)), ("west", (1, 3)), ("east", (1, 2)),  # back to (1, 2)
        ("noop", (1, 3)), ("south", (1, 3)), ("east", (2, 3)),
    ]]  # fmt: skip
    assert [(s[2], s[3]) for s in loop_erased(walk)] == [
        ("east", (1, 1)), ("east", (1, 2)), ("south", (1, 3)), ("east", (2, 3)),
    ]  # fmt: skip
    assert loop_erased([(None, "t", "a", None)] * 3) == [(None, "t", "a", None)] * 3
