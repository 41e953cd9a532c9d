-- model: fct_dash_survival_bands
-- grain: one row per segment per dunning stage per number of days since the
--   stage was sent on which a case settled or was censored, plus segment
--   'all' (the rows of fct_stage_survival)
-- keys: segment, stage_number, days_since_send
-- depends_on: fct_stage_survival
-- notes: fct_stage_survival with a pointwise 95 % confidence band for the
--   Kaplan-Meier curve, for the dashboard and the report. Greenwood's
--   variance sum g(d) = sum over days <= d of settled / (at risk * (at risk
--   - settled)); the band is the log-log one (Kalbfleisch & Prentice):
--   se = sqrt(g) / abs(ln S), lower = S ^ exp(1.96 * se), upper = S ^
--   exp(-1.96 * se), so it stays within [0, 1]. Where S is 1 (nothing
--   settled yet) or 0 the band collapses onto the curve.

with

survival as (
    select * from fct_stage_survival
),

greenwood as (
    select
        *,
        sum(
            cast(count_settled as double)
            / nullif(count_at_risk * (count_at_risk - count_settled), 0)
        ) over (
            partition by segment, stage_number
            order by days_since_send
            rows between unbounded preceding and current row
        ) as greenwood_sum
    from survival
),

final as (
    select
        segment,
        stage_number,
        days_since_send,
        count_at_risk,
        count_settled,
        count_censored,
        still_open_ratio,
        case
            when
                still_open_ratio <= 0
                or still_open_ratio >= 1
                or greenwood_sum is null
                then still_open_ratio
            else pow(
                still_open_ratio,
                exp(1.96 * sqrt(greenwood_sum) / abs(ln(still_open_ratio)))
            )
        end as lower_ratio,
        case
            when
                still_open_ratio <= 0
                or still_open_ratio >= 1
                or greenwood_sum is null
                then still_open_ratio
            else pow(
                still_open_ratio,
                exp(-1.96 * sqrt(greenwood_sum) / abs(ln(still_open_ratio)))
            )
        end as upper_ratio
    from greenwood
)

select * from final
