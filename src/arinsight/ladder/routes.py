"""Checks of a ladder's ``route`` rules (the gentler path for likely payers).

The schema (:class:`arinsight.config.Route`) already refuses a route on a stage
the ladder does not have, two routes on one stage, an agency as the gentler
step and thresholds outside (0, 1). What is left are findings in the style of
:mod:`arinsight.ladder.rules`, printed by ``arinsight ladder check``:

===============================  ========  =================================================
rule                             severity  what
===============================  ========  =================================================
``route_<legal rule>``           as rule   the gentler step breaks a legal rule where it goes
                                           out (a fee on a consumer's step, ...): the step is
                                           checked in place of the stage it replaces
``route_never_hands_over``       warning   ``fallback_after_days: null`` on a handover: routed
                                           invoices still open are never handed over and run
                                           into write-off
``route_unknown_segment``        warning   the route names a segment the warehouse has no
                                           customers in (checked with ``--db`` only)
===============================  ========  =================================================
"""

from __future__ import annotations

from collections.abc import Mapping

from arinsight.config import Ladder, Stage
from arinsight.ladder.rules import Finding, check_ladder


def _with_step(stages: tuple[Stage, ...], stage: int, ladder: Ladder, i: int) -> tuple[Stage, ...]:
    r = ladder.route[i]
    return tuple(
        s.model_copy(
            update={"name": r.instead.name, "channel": r.instead.channel, "fee": r.instead.fee}
        )
        if s.stage == stage
        else s
        for s in stages
    )


def check_routes(ladder: Ladder, customer_types: Mapping[str, str]) -> list[Finding]:
    """Findings about ``ladder.route`` (see the module doc); [] without routes."""
    out: list[Finding] = []
    base = {(f.segment, f.rule, f.stage) for f in check_ladder(ladder, customer_types)}
    for i, r in enumerate(ladder.route):
        segs = list(r.segments) if r.segments is not None else ["default", *ladder.segments]
        swapped = ladder.model_copy(
            update={
                "default": _with_step(ladder.default, r.stage, ladder, i)
                if r.segments is None
                else ladder.default,
                "segments": {
                    s: _with_step(st, r.stage, ladder, i) if r.applies_to(s) else st
                    for s, st in ladder.segments.items()
                },
                "route": (),
            }
        )
        if r.segments is not None:
            # a routed segment without stages of its own uses the default ones
            extra = {
                s: _with_step(ladder.for_segment(s), r.stage, ladder, i)
                for s in r.segments
                if s not in ladder.segments
            }
            swapped = swapped.model_copy(update={"segments": {**swapped.segments, **extra}})
        for f in check_ladder(swapped, customer_types):
            if f.stage != r.stage or (f.segment, f.rule, f.stage) in base:
                continue
            if r.segments is not None and f.segment not in r.segments:
                continue
            out.append(
                Finding(
                    rule=f"route_{f.rule}",
                    segment=f.segment,
                    stage=f.stage,
                    severity=f.severity,
                    message=f"route.{i} ({r.instead.name!r} instead of stage {r.stage}): "
                    f"{f.message}",
                )
            )
        for seg in segs:
            stage = next((s for s in ladder.for_segment(seg) if s.stage == r.stage), None)
            if (
                stage is not None
                and stage.channel == "collection_agency"
                and r.fallback_after_days is None
            ):
                out.append(
                    Finding(
                        rule="route_never_hands_over",
                        segment=seg,
                        stage=r.stage,
                        severity="warning",
                        message=f"route.{i}: fallback_after_days is null, so routed invoices "
                        "still open are never handed over and run into write-off; set "
                        "fallback_after_days to hand them over later",
                    )
                )
        if customer_types and r.segments is not None:
            for seg in r.segments:
                if seg not in customer_types:
                    out.append(
                        Finding(
                            rule="route_unknown_segment",
                            segment=seg,
                            stage=r.stage,
                            severity="warning",
                            message=f"route.{i}.segments: no customers in segment {seg!r} "
                            f"in the warehouse (segments: {', '.join(sorted(customer_types))})",
                        )
                    )
    return out
