-- Yearly task targets set for one region.
-- Parameters: $region varchar, $year integer.
select targets.indicator_id, targets.region_code, targets.year, targets.target,
       targets.department, targets.task, targets.deadline
from targets
where targets.region_code = $region
  and targets.year = $year
order by targets.department, targets.task
