-- model: stg_ladder_stages
-- grain: one row per stored ladder version per segment key per stage
-- keys: ladder_version, segment, stage_number
-- depends_on: meta.ladder_stages, meta.ladders
-- notes: the ladder versions stored by `arinsight ladder apply`
--   (meta.ladder_stages with the effective date from meta.ladders; not a
--   raw table, the only staging model that reads meta). segment '*' = the
--   version's default stages, used for every segment the version does not
--   list. due_offset_days = offset from the due date with anchors
--   resolved. Empty when no ladder was ever applied: the marts then infer
--   the ladder from the dunning log.

with

stages as (
    select * from meta.ladder_stages
),

versions as (
    select * from meta.ladders
),

final as (
    select
        stages.version as ladder_version,
        versions.effective_date,
        stages.segment,
        stages.stage_number,
        stages.stage_name,
        stages.due_offset_days,
        stages.channel,
        stages.fee_amount
    from stages
    inner join versions on stages.version = versions.version
)

select * from final
