"""The SQL model runner: ``sql/`` files in dependency order, with key checks and asserts."""

from arinsight.models.runner import BuildResult, Model, build, discover_models, sql_dir

__all__ = ["BuildResult", "Model", "build", "discover_models", "sql_dir"]
