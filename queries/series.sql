-- Values of indicators for regions over a period range, rolled up by indicator kind.
-- A region's own observation wins. Without one, counts and amounts are the sum over the
-- descendants at the indicator's reporting level, and rates are Σnumerator / Σdenominator
-- over them (never an average of rates). Standards are never summed: a region shows beside its
-- own value (or instead of it) the min–max of the values set by its descendants at the
-- indicator's reporting level (a province over its counties, the cities setting none).
-- The sums are precomputed per version in `rollup` (minsheng/rollup.py), so this reads only
-- the asked regions' rows: their own observations and their roll-up rows. Codes change
-- (minsheng/lineage.py): n_expected counts the units valid on each period's last day, read from
-- `coverage`'s validity windows, and the roll-ups already leave out rows outside a code's validity.
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
    select id, kind, report_level, frequency
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
answer as (  -- each asked region's own rows beside its roll-up rows
    select coalesce(own.indicator_id, below.indicator_id) as indicator_id,
           coalesce(own.region_code, below.region_code) as region_code,
           coalesce(own.period, below.period) as period,
           own.region_code is not null as has_own,
           own.value, own.numerator, own.denominator, own.status, own.source,
           below.sum_value, below.sum_num, below.sum_den, below.min_value, below.max_value,
           below.n_reported, below.status as below_status, below.source as below_source
    from own
    full outer join below
        on below.region_code = own.region_code
       and below.indicator_id = own.indicator_id
       and below.period = own.period
),
-- How many units are expected in each answered period: those valid on the period's last day
-- (codes change, minsheng/lineage.py) at the indicator's reporting level, standards included.
-- `coverage` holds the counts per window of days.
expected as (
    -- a double, as DuckDB's HUGEINT sum reaches pandas, on ClickHouse too (its sum is an Int64)
    select answer.indicator_id, answer.region_code, answer.period,
           cast(sum(coverage.n_below) as double) as n_expected
    from answer
    join wanted on wanted.id = answer.indicator_id
    join coverage
      on coverage.region_code = answer.region_code
     and coverage.level = wanted.report_level
     and ((answer.period + case wanted.frequency when 'month' then interval 1 month when 'quarter' then interval 3 month
                          else interval 1 year end - interval 1 day)::date
          between coalesce(coverage.valid_from, date '0001-01-01') and coalesce(coverage.valid_to, date '9999-12-31'))
    group by all
)
select
    answer.indicator_id,
    answer.region_code,
    answer.period,
    case
        when answer.has_own then answer.value
        when wanted.kind in ('count', 'amount') then answer.sum_value
        when wanted.kind = 'rate' then 100.0 * answer.sum_num / nullif(answer.sum_den, 0)
    end as value,
    coalesce(answer.numerator, answer.sum_num) as numerator,
    coalesce(answer.denominator, answer.sum_den) as denominator,
    case when wanted.kind = 'standard' then answer.min_value end as min_value,
    case when wanted.kind = 'standard' then answer.max_value end as max_value,
    cast(not answer.has_own as boolean) as derived,  -- a boolean on ClickHouse too (there: UInt8)
    coalesce(answer.n_reported, 0) as n_reported,
    coalesce(expected.n_expected, 0) as n_expected,
    coalesce(answer.status, answer.below_status) as status,
    coalesce(answer.source, answer.below_source) as source
from answer
join wanted
    on wanted.id = answer.indicator_id
left join expected
    on expected.region_code = answer.region_code
   and expected.indicator_id = answer.indicator_id
   and expected.period = answer.period
order by indicator_id, region_code, period
