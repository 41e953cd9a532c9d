"""Layers: library code never imports the CLI; great-expectations is imported by `check` only."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "arinsight"


def _library_modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if parts[:2] == ("arinsight", "cli") or parts == ("arinsight", "__main__"):
            continue
        out.append((".".join(parts), path))
    return out


def _imported_names(path: Path, module: str) -> set[str]:
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def test_the_walk_finds_the_library() -> None:
    found = {m for m, _ in _library_modules()}
    assert {"arinsight.pipeline", "arinsight.quality.render", "arinsight.quality.runner"} <= found
    assert not any(m.startswith("arinsight.cli") for m in found)


@pytest.mark.parametrize("module,path", _library_modules(), ids=lambda v: str(v))
def test_library_module_does_not_import_the_cli(module: str, path: Path) -> None:
    # Anywhere in the file, including imports inside functions.
    bad = sorted(
        n
        for n in _imported_names(path, module)
        if n == "arinsight.cli" or n.startswith("arinsight.cli.")
    )
    assert not bad, f"{module} imports {bad}: return data / take a callback; only cli/ renders"


def test_importing_the_library_loads_no_cli_module() -> None:
    modules = [m for m, _ in _library_modules()]
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('arinsight.cli'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_verbs_other_than_check_do_not_import_great_expectations(tmp_path: Path) -> None:
    # A ledger of one invoice paid in full, then load, build and metrics in one process.
    (tmp_path / "customers.csv").write_text("customer_id,segment\nC1,smb\n", encoding="utf-8")
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\nI1,C1,2024-01-15,2024-02-14,300\n",
        encoding="utf-8",
    )
    (tmp_path / "payments.csv").write_text(
        "payment_id,invoice_id,paid_at,amount\nP1,I1,2024-02-29,300\n", encoding="utf-8"
    )
    db = str(tmp_path / "w.duckdb")
    code = (
        "import sys\n"
        "from arinsight.cli import main\n"
        f"for args in (['--help'], ['load', {str(tmp_path)!r}, '--db', {db!r}, '-q'],\n"
        f"             ['build', '--db', {db!r}, '-q'], ['metrics', '--db', {db!r}, '--json']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, (args, exc.code)\n"
        "print('great_expectations' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_great_expectations_import_does_not_end_a_python_c_process() -> None:
    # With pyspark installed, importing great-expectations from `python -c` (or a
    # pytest-xdist worker) used to exit the process with status 0 and no output.
    code = "from arinsight.quality.runner import _import_gx\n_import_gx()\nprint('imported')\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stdout.strip()) == (0, "imported"), proc.stderr


def test_run_demo_returns_data_reports_through_the_reporter_and_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from arinsight.pipeline import DemoReporter, run_demo

    # One invoice of 300.00 (2024-01-15, due 2024-02-14) paid in full on 2024-02-29.
    data = tmp_path / "ledger"
    data.mkdir()
    (data / "customers.csv").write_text("customer_id,segment\nC1,smb\n", encoding="utf-8")
    (data / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\nI1,C1,2024-01-15,2024-02-14,300\n",
        encoding="utf-8",
    )
    (data / "payments.csv").write_text(
        "payment_id,invoice_id,paid_at,amount\nP1,I1,2024-02-29,300\n", encoding="utf-8"
    )
    sql = SRC.parents[1] / "sql"
    n_models = sum(len(list((sql / d).glob("*.sql"))) for d in ("staging", "intermediate", "marts"))

    class Recorder(DemoReporter):
        def __init__(self) -> None:
            self.steps: list[tuple[int, int]] = []
            self.models: list[tuple[int, int]] = []

        def step(self, number: int, total: int, title: str) -> None:
            self.steps.append((number, total))

        def model(self, name: str, done: int, total: int, seconds: float) -> None:
            self.models.append((done, total))

    rec = Recorder()
    result = run_demo(tmp_path / "w.duckdb", data, reporter=rec)
    assert capfd.readouterr().out == ""
    assert rec.steps == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert rec.models == [(i, n_models) for i in range(1, n_models + 1)]
    assert result.simulated is None  # the ledger was there
    assert sorted(r.table for r in result.loads) == ["customers", "invoices", "payments"]
    assert len(result.build.models) == n_models
    assert result.headline["as_of"] == "2024-02-29"
