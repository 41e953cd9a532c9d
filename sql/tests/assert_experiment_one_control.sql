-- every segment of an experiment has exactly one control arm
select
    segment,
    count(*) filter (where is_control) as count_controls
from marts.fct_experiment_arms
group by segment
having count(*) filter (where is_control) <> 1
