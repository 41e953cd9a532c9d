"""``arinsight build``: run the SQL models, key checks and SQL asserts."""

from __future__ import annotations

import click

from arinsight.cli._common import db_option, json_option, quiet_option, settings_option


@click.command("build")
@db_option
@click.option(
    "--accept-quarantine",
    is_flag=True,
    help="Publish marts even when a load quarantined more than max_quarantine_pct.",
)
@click.option(
    "--select",
    "select",
    multiple=True,
    metavar="MODEL[+]",
    help="Build only MODEL and the models it reads (MODEL+: also everything "
    "downstream of it); publishes only those marts. Repeatable.",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Where the models run; spark reads --input and writes --output (docs/scale.md).",
)
@click.option(
    "--spark-master",
    default=None,
    help="Spark master, e.g. local[2], spark://host:7077, yarn (default: the running "
    "session's, else local[*]).",
)
@click.option(
    "--input",
    "source",
    default=None,
    help="Spark: raw tables: a directory (or URI) of canonical Parquet files, or a Spark "
    "database holding tables of the canonical names.",
)
@click.option(
    "--output",
    default=None,
    help="Spark: where the marts go, one Parquet directory each [default: data/marts].",
)
@click.option(
    "--output-format",
    type=click.Choice(["parquet", "delta"]),
    default="parquet",
    show_default=True,
    help="Spark: file format of the marts (delta needs Delta Lake on the cluster).",
)
@click.option(
    "--spark-conf",
    multiple=True,
    metavar="KEY=VALUE",
    help="Spark: extra session settings, e.g. spark.driver.memory=4g (repeatable).",
)
@json_option
@quiet_option
@settings_option
def command(
    db: str,
    accept_quarantine: bool,
    select: tuple[str, ...],
    engine: str,
    spark_master: str | None,
    source: str | None,
    output: str | None,
    output_format: str,
    spark_conf: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Build staging → intermediate → marts in one transaction.

    Models run in the order of what their SQL reads; keys are checked unique
    and non-null and every sql/tests assert must return no rows, or nothing is
    published and the previous build stays. With --select only the selected
    marts are replaced (atomically); the others keep their last build. Prints
    one line per model (a progress bar on a terminal).
    """
    from arinsight.cli._progress import model_progress
    from arinsight.cli._render import build_json, print_build_result, print_json, set_quiet
    from arinsight.pipeline import run_build

    set_quiet(quiet or as_json)
    if engine == "spark":
        from arinsight.cli._render import say
        from arinsight.models.spark import run_spark_build

        if select:
            raise click.UsageError("--select is not supported with --engine spark yet")
        result = run_spark_build(
            source, output, spark_master, spark_conf, output_format, accept_quarantine, say
        )
        if as_json:
            print_json(build_json(result))
        else:
            print_build_result(result)
        return
    if source or output or spark_master or spark_conf or output_format != "parquet":
        raise click.UsageError("--input/--output/--spark-* options need --engine spark")
    with model_progress() as on_model:
        result = run_build(
            db, accept_quarantine=accept_quarantine, on_model=on_model, select=select
        )
    if as_json:
        print_json(build_json(result))
    else:
        print_build_result(result)
