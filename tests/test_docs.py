"""The docs site keeps up with the code: a page per registered scenario, listed in the nav."""

from __future__ import annotations

from pathlib import Path

import worlds

ROOT = Path(__file__).resolve().parent.parent


def test_every_scenario_has_a_page_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for name in worlds.SCENARIOS:
        assert (ROOT / "docs" / "scenarios" / f"{name}.md").is_file(), f"no docs/scenarios/{name}.md"
        assert f"scenarios/{name}.md" in nav, f"docs/scenarios/{name}.md is not in mkdocs.yml's nav"


def test_readme_stays_one_screen() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 60


def test_the_cli_reference_is_generated_from_the_parsers():
    from arena.cli_reference import reference

    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert page == reference(), "docs/cli.md is stale: python -m arena.cli_reference > docs/cli.md"
    assert str(ROOT) not in page, "the help names this checkout's path: it differs on every machine"
