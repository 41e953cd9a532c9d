"""The report notebooks: templates with a parameters cell, committed without outputs,
executing with their defaults on a small simulated warehouse."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from report_warehouse import small_warehouse

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
EXPECTED = {"monthly_review", "dunning_effectiveness", "explore"}
PARAMETERS = {"month", "db", "ladder", "segment", "lang"}


def test_the_three_templates_exist() -> None:
    assert {p.stem for p in NOTEBOOKS} == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_is_the_parameters_cell(path: Path) -> None:
    import papermill as pm

    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
    # papermill reads every parameter with a type and a comment.
    found = pm.inspect_notebook(str(path))
    assert set(found) == PARAMETERS
    assert all(p["inferred_type_name"] != "None" and p["help"] for p in found.values())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a cell has an execution count"


def test_report_headings_come_from_the_sections_only() -> None:
    """The monthly review's sections print their own headings (``review.section``); a
    markdown heading cell not tagged ``template-doc`` would print a second one (the
    cash-forecast heading did, alone on a PDF page)."""
    nb = nbformat.read(str(REPO / "notebooks" / "monthly_review.ipynb"), as_version=4)
    shown = [
        c.source.splitlines()[0]
        for c in nb.cells
        if c.cell_type == "markdown"
        and c.source.lstrip().startswith("#")
        and "template-doc" not in c.metadata.get("tags", [])
    ]
    assert shown == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_metric_logic_in_notebooks(path: Path) -> None:
    """Cells call arinsight; they do not aggregate frames themselves."""
    nb = nbformat.read(str(path), as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for forbidden in (".group_by(", ".agg(", ".mean(", ".sum(", "import pandas", "duckdb.connect"):
        assert forbidden not in source, f"{path.name} uses {forbidden}"


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executes_with_its_defaults(
    path: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No parameters passed: the defaults read $ARINSIGHT_DB and the latest month."""
    import papermill as pm

    db = small_warehouse(tmp_path_factory)
    old = os.environ.get("ARINSIGHT_DB")
    os.environ["ARINSIGHT_DB"] = str(db)
    try:
        out = tmp_path / path.name
        pm.execute_notebook(
            str(path), str(out), kernel_name="python3", progress_bar=False, cwd=str(tmp_path)
        )
    finally:
        if old is None:
            os.environ.pop("ARINSIGHT_DB", None)
        else:
            os.environ["ARINSIGHT_DB"] = old
    nb = nbformat.read(str(out), as_version=4)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors == []
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert len(shown) >= 5  # tables and charts came out
