-- 同比 like for like: for each asked region, indicator and period, the roll-up over only those
-- units at the indicator's reporting level below the region that reported both in that period and
-- a year before — so villages that stopped (or started) reporting do not read as a fall (or a rise).
-- Counts and amounts: Σvalue of those units in each period; rates: 100 · Σnumerator / Σdenominator.
-- Standards are never summed and are left out. n_both: how many units are compared.
-- The pairs are made once per data version, in `lfl` (minsheng/rollup.py: a unit is one region across
-- its code changes, each row counting only in periods its code is valid, merged codes summed before
-- pairing) and summed up the region tree like the roll-up, so this reads one row per answer.
-- Parameters: $indicators varchar[], $regions varchar[], $date_from date, $date_to date,
-- $area varchar (the user's area: regions outside its subtree are dropped; null = no limit).
with roots as (
    select distinct code
    from (select unnest($regions::varchar[]) as code)
    where $area::varchar is null
       or code in (select code from ancestors where ancestor = $area::varchar)
),
wanted as (
    select id, kind
    from indicators
    where id in (select unnest($indicators::varchar[])) and kind <> 'standard'
)
select l.indicator_id, l.region_code, l.period,
       case when wanted.kind = 'rate' then 100.0 * l.sum_num / nullif(l.sum_den, 0)
            else l.sum_value end as value,
       case when wanted.kind = 'rate' then 100.0 * l.base_num / nullif(l.base_den, 0)
            else l.base_value end as base_value,
       l.n_both
from lfl l
join wanted on wanted.id = l.indicator_id
where l.region_code in (select code from roots)
  and l.period between $date_from::date and $date_to::date
order by indicator_id, region_code, period
