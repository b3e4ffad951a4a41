-- 同比 like for like: for each asked region, indicator and period, the roll-up over only those
-- units at the indicator's reporting level below the region that reported both in that period and
-- a year before — so villages that stopped (or started) reporting do not read as a fall (or a rise).
-- Counts and amounts: Σvalue of those units in each period; rates: 100 · Σnumerator / Σdenominator.
-- Standards are never summed and are left out. n_both: how many units are compared.
-- Cheap by construction: only the asked regions' subtrees (through `ancestors`), only their
-- reporting units' observations, only the asked periods and the year before them.
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
    where id in (select unnest($indicators::varchar[])) and kind <> 'standard'
),
below as (
    select ancestor as root, code
    from ancestors
    where ancestor in (select code from roots) and depth > 0
),
units as (
    select o.indicator_id, o.region_code, o.period, o.value, o.numerator, o.denominator
    from observations o
    join wanted on wanted.id = o.indicator_id
    join regions r on r.code = o.region_code and r.level = wanted.report_level
    where o.region_code in (select code from below)
      and o.period between cast($date_from::date - interval 1 year as date) and $date_to::date
),
pairs as (
    select cur.indicator_id, cur.region_code, cur.period,
           cur.value, cur.numerator, cur.denominator,
           prev.value as base_value, prev.numerator as base_num, prev.denominator as base_den
    from units cur
    join units prev
      on prev.indicator_id = cur.indicator_id
     and prev.region_code = cur.region_code
     and prev.period = cast(cur.period - interval 1 year as date)
    where cur.period between $date_from::date and $date_to::date
)
select pairs.indicator_id, below.root as region_code, pairs.period,
       case when wanted.kind = 'rate' then 100.0 * sum(pairs.numerator) / nullif(sum(pairs.denominator), 0)
            else sum(pairs.value) end as value,
       case when wanted.kind = 'rate' then 100.0 * sum(pairs.base_num) / nullif(sum(pairs.base_den), 0)
            else sum(pairs.base_value) end as base_value,
       count(*) as n_both
from pairs
join below on below.code = pairs.region_code
join wanted on wanted.id = pairs.indicator_id
group by pairs.indicator_id, below.root, pairs.period, wanted.kind
order by indicator_id, region_code, period
