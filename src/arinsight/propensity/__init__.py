"""Who pays without escalation: payment timing per open invoice, worklist, cash forecast.

A survival model (lifelines' Cox model, stratified by the dunning stage reached)
is fitted from the warehouse alone: open invoices at past month ends, their
features as known on that day, and when they were paid afterwards (censored at
the scoring date). See ``docs/propensity.md``.

Submodules import polars, numpy and lifelines on use:
``arinsight.propensity.features`` (the point-in-time feature query),
``arinsight.propensity.model`` (fit, predict, ``score`` → ``marts.fct_open_invoice_scores``),
``arinsight.propensity.forecast`` (13-week cash forecast → ``marts.fct_cash_forecast``),
``arinsight.propensity.worklist`` and ``arinsight.propensity.backtest``.
"""
