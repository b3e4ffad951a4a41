-- The first and last period with data for each indicator.
select indicator_id, min(period) as first_period, max(period) as last_period, count(*) as n_rows
from observations
group by indicator_id
order by indicator_id
