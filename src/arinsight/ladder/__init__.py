"""Dunning ladders: the versions in force, the legal check, and timing recommendations.

Submodules are imported on use (``arinsight.ladder.store``, ``arinsight.ladder.rules``,
``arinsight.ladder.recommend``) so the CLI's start-up stays light.
"""
