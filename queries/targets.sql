-- Yearly task targets set for one region.
-- Parameters: $region varchar, $year integer, $area varchar (the user's area; a region outside
-- its subtree has no targets to show; null = no limit).
select targets.indicator_id, targets.region_code, targets.year, targets.target,
       targets.department, targets.task, targets.deadline
from targets
where targets.region_code = $region
  and targets.year = $year
  and ($area::varchar is null
       or targets.region_code in (select code from ancestors where ancestor = $area::varchar))
order by targets.department, targets.task
