"""The docs say what is true: every verb in the README table, no links to missing files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from arinsight.cli import COMMANDS

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md"), REPO / "bench" / "README.md"])


def test_readme_verb_table_matches_the_commands() -> None:
    # One row per verb of `arinsight --help`, in its order: a new verb needs a row.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `arinsight ([a-z-]+)[^`]*` \|", readme, flags=re.M)
    assert rows == list(COMMANDS)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_docs_are_self_contained(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    # The design document lives outside the repository: docs must not send readers there.
    assert "DESIGN.md" not in text
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"^[a-z]+://", target):
            continue
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_cli_doc_lists_every_exit_status_main_uses() -> None:
    from arinsight import errors

    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    codes = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ArinsightError)
    }
    for code in sorted(codes | {0, 2, 130}):
        assert f"\n| {code} |" in text, code
