-- model: stg_ladder_stages
-- grain: one row per stored ladder version per segment key per stage
-- keys: ladder_version, segment, stage_number
-- depends_on: raw.ladder_stages
-- notes: the ladder versions stored by `arinsight ladder apply`
--   (raw.ladder_stages, written with meta.ladders). segment '*' = the
--   version's default stages, used for every segment the version does not
--   list. due_offset_days = offset from the due date with anchors
--   resolved. Empty when no ladder was ever applied: the marts then infer
--   the ladder from the dunning log.

with

source as (
    select * from raw.ladder_stages
),

final as (
    select
        version as ladder_version,
        effective_date,
        segment,
        stage_number,
        stage_name,
        due_offset_days,
        channel,
        fee_amount
    from source
)

select * from final
