-- roll + stay + cure + write-off = opening bucket, rates = 100 %
select
    month_end_date,
    segment,
    from_aging_bucket,
    count_open_invoices,
    open_amount,
    roll_rate_pct + stay_rate_pct + cure_rate_pct + write_off_rate_pct
        as total_pct
from marts.fct_aging_roll_rates
where
    count_rolled + count_stayed + count_cured + count_written_off
    <> count_open_invoices
    or rolled_amount + stayed_amount + cured_amount + written_off_amount
    <> open_amount
    or (
        open_amount <> 0
        and abs(
            roll_rate_pct + stay_rate_pct + cure_rate_pct
            + write_off_rate_pct - 100
        ) > 1e-9
    )
