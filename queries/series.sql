-- Values of indicators for regions over a period range, rolled up by indicator kind.
-- A region's own observation wins. Without one, counts and amounts are the sum over the
-- descendants at the indicator's reporting level, and rates are Σnumerator / Σdenominator
-- over them (never an average of rates). Standards are never summed: a region shows beside its
-- own value (or instead of it) the min–max of the values set by its descendants at the
-- indicator's reporting level (a province over its counties, the cities setting none).
-- The sums are precomputed per version in `rollup` (minsheng/rollup.py), so this reads only
-- the asked regions' rows: their own observations and their roll-up rows.
-- Parameters: $indicators varchar[], $regions varchar[], $date_from date, $date_to date,
-- $area varchar (the user's area: regions outside its subtree are dropped; null = no limit).
with
roots as (
    select distinct code
    from (select unnest($regions::varchar[]) as code)
    where $area::varchar is null
       or code in (select code from ancestors where ancestor = $area::varchar)
),
wanted as (
    select id, kind, report_level
    from indicators
    where id in (select unnest($indicators::varchar[]))
),
own as (
    select indicator_id, region_code, period, value, numerator, denominator, status, source
    from observations
    where region_code in (select code from roots)
      and indicator_id in (select id from wanted)
      and period between $date_from and $date_to
),
below as (
    select indicator_id, region_code, period, sum_value, sum_num, sum_den, min_value, max_value,
           n_reported, status, source
    from rollup
    where region_code in (select code from roots)
      and indicator_id in (select id from wanted)
      and period between $date_from and $date_to
),
expected as (
    select roots.code as region_code, wanted.id as indicator_id, coverage.n_below as n_expected
    from roots
    cross join wanted
    left join coverage on coverage.region_code = roots.code and coverage.level = wanted.report_level
)
select
    coalesce(own.indicator_id, below.indicator_id) as indicator_id,
    coalesce(own.region_code, below.region_code) as region_code,
    coalesce(own.period, below.period) as period,
    case
        when own.region_code is not null then own.value
        when wanted.kind in ('count', 'amount') then below.sum_value
        when wanted.kind = 'rate' then 100.0 * below.sum_num / nullif(below.sum_den, 0)
    end as value,
    coalesce(own.numerator, below.sum_num) as numerator,
    coalesce(own.denominator, below.sum_den) as denominator,
    case when wanted.kind = 'standard' then below.min_value end as min_value,
    case when wanted.kind = 'standard' then below.max_value end as max_value,
    own.region_code is null as derived,
    coalesce(below.n_reported, 0) as n_reported,
    coalesce(expected.n_expected, 0) as n_expected,
    coalesce(own.status, below.status) as status,
    coalesce(own.source, below.source) as source
from own
full outer join below
    on below.region_code = own.region_code
   and below.indicator_id = own.indicator_id
   and below.period = own.period
join wanted
    on wanted.id = coalesce(own.indicator_id, below.indicator_id)
left join expected
    on expected.region_code = coalesce(own.region_code, below.region_code)
   and expected.indicator_id = coalesce(own.indicator_id, below.indicator_id)
order by indicator_id, region_code, period
