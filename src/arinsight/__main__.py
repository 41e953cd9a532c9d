"""``python -m arinsight`` runs the command line."""

from arinsight.cli import main

main()
