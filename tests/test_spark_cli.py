"""``arinsight build --engine spark`` through the real entry point, without starting Spark.

What a user without pyspark or Java sees (exactly what to install, non-zero
exit), and the option checks. The build itself is compared with DuckDB in
``test_spark_build.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARINSIGHT = str(Path(sys.executable).parent / "arinsight")


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False
    )


def _env_without_java(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    env["PATH"] = str(empty)  # no java (and nothing else) on PATH
    return env


def _fake_java(tmp_path: Path, version_line: str) -> Path:
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n", encoding="utf-8")
    java.chmod(0o755)
    return home


def test_without_java_says_what_to_install(tmp_path: Path) -> None:
    res = _run(
        [ARINSIGHT, "build", "--engine", "spark", "--input", str(tmp_path)],
        _env_without_java(tmp_path),
        tmp_path,
    )
    assert res.returncode == 3, res.stderr
    assert "no `java` on PATH" in res.stderr
    assert "apt-get install -y openjdk-17-jre-headless" in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_a_java_home_without_java_is_named(tmp_path: Path) -> None:
    env = _env_without_java(tmp_path)
    env["JAVA_HOME"] = str(tmp_path / "nowhere")
    res = _run([ARINSIGHT, "build", "--engine", "spark", "--input", "x"], env, tmp_path)
    assert res.returncode == 3
    assert f"JAVA_HOME={tmp_path / 'nowhere'} has no bin/java" in res.stderr


def test_an_old_java_is_refused(tmp_path: Path) -> None:
    env = _env_without_java(tmp_path)
    env["JAVA_HOME"] = str(_fake_java(tmp_path, 'openjdk version "11.0.21" 2023-10-17'))
    res = _run([ARINSIGHT, "build", "--engine", "spark", "--input", "x"], env, tmp_path)
    assert res.returncode == 3
    assert "is Java 11; Spark 4 needs Java 17+" in res.stderr


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('openjdk version "17.0.15" 2025-04-15', None),  # Debian 12's openjdk-17
        ('java version "1.8.0_392"', "is Java 8"),  # the old 1.x numbering
        ('openjdk version "21" 2023-09-19', None),  # a bare major version
    ],
)
def test_java_version_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, problem: str | None
) -> None:
    from arinsight.models.spark import java_problem

    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, line)))
    found = java_problem()
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_without_pyspark_says_what_to_install(tmp_path: Path) -> None:
    # the entry point with pyspark made unimportable (as when the extra is not installed)
    code = (
        "import sys; sys.modules['pyspark'] = None; "
        "from arinsight.cli import main; main(sys.argv[1:])"
    )
    res = _run(
        [sys.executable, "-c", code, "build", "--engine", "spark", "--input", str(tmp_path)],
        dict(os.environ),
        tmp_path,
    )
    assert res.returncode == 3, res.stderr
    assert "pyspark is not installed. Install it: pip install 'arinsight[spark]'" in res.stderr


def test_spark_needs_an_input(tmp_path: Path) -> None:
    res = _run([ARINSIGHT, "build", "--engine", "spark"], dict(os.environ), tmp_path)
    assert res.returncode == 1
    assert "--engine spark needs --input" in res.stderr


def test_spark_options_need_the_spark_engine(tmp_path: Path) -> None:
    res = _run([ARINSIGHT, "build", "--output", "out"], dict(os.environ), tmp_path)
    assert res.returncode == 2
    assert "need --engine spark" in res.stderr


def test_malformed_spark_conf_is_named(tmp_path: Path) -> None:
    res = _run(
        [ARINSIGHT, "build", "--engine", "spark", "--input", "x", "--spark-conf", "novalue"],
        dict(os.environ),
        tmp_path,
    )
    assert res.returncode == 1
    assert "--spark-conf 'novalue': expected KEY=VALUE" in res.stderr


def test_help_lists_the_spark_options_without_importing_spark(tmp_path: Path) -> None:
    code = (
        "import sys; from arinsight.cli import main\n"
        "try:\n    main(['build', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pyspark', 'sqlglot', 'duckdb', 'polars')))"
    )
    res = _run([sys.executable, "-c", code], dict(os.environ), REPO)
    for option in ("--engine [duckdb|spark]", "--spark-master", "--input", "--output"):
        assert option in res.stdout
    assert "LOADED []" in res.stdout
