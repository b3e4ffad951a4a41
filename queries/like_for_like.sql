-- 同比 like for like: for each asked region, indicator and period, the roll-up over only those
-- units at the indicator's reporting level below the region that reported both in that period and
-- a year before — so villages that stopped (or started) reporting do not read as a fall (or a rise).
-- Counts and amounts: Σvalue of those units in each period; rates: 100 · Σnumerator / Σdenominator.
-- Standards are never summed and are left out. n_both: how many units are compared.
-- A unit is one region across its code changes (430221 株洲县 → 430212 渌口区): a row pairs with the
-- year-before row of any code whose chain of successors ends where its own does, and a row counts
-- only in periods its code is valid (the period's last day, minsheng/lineage.py), as the roll-ups do.
-- Cheap by construction: only the asked regions' subtrees (through `ancestors`), only their
-- reporting units' observations, only the asked periods and the year before them.
-- Parameters: $indicators varchar[], $regions varchar[], $date_from date, $date_to date,
-- $area varchar (the user's area: regions outside its subtree are dropped; null = no limit).
with recursive
chain as (  -- each code and every code after it; depth-bounded, though the importer refuses cycles
    select code, code as heir, 0 as depth from regions
    union all
    select chain.code, r.successor_code, chain.depth + 1
    from chain join regions r on r.code = chain.heir
    where r.successor_code is not null and r.successor_code <> '' and chain.depth < 32
),
heirs as (
    select code, arg_max(heir, depth) as heir from chain group by code
),
roots as (
    select distinct code
    from (select unnest($regions::varchar[]) as code)
    where $area::varchar is null
       or code in (select code from ancestors where ancestor = $area::varchar)
),
wanted as (
    select id, kind, report_level, frequency
    from indicators
    where id in (select unnest($indicators::varchar[])) and kind <> 'standard'
),
below as (
    select ancestor as root, code
    from ancestors
    where ancestor in (select code from roots) and depth > 0
),
placed as (  -- the asked subtrees' rows, each with its region's level and validity: joined on the code
    -- alone first, so no regions × indicators product is ever built (at 100M rows that product
    -- was 1.35 s of a county's 1.5 s)
    select o.indicator_id, o.region_code, o.period, o.value, o.numerator, o.denominator,
           r.level, r.valid_from, r.valid_to
    from observations o
    join regions r on r.code = o.region_code
    where o.region_code in (select code from below)
      and o.indicator_id in (select id from wanted)
      and o.period between cast($date_from::date - interval 1 year as date) and $date_to::date
),
units as (
    select o.indicator_id, o.region_code, coalesce(heirs.heir, o.region_code) as unit, o.period, o.value,
           o.numerator, o.denominator
    from placed o
    join wanted on wanted.id = o.indicator_id and wanted.report_level = o.level
    left join heirs on heirs.code = o.region_code
    where ((o.period + case wanted.frequency when 'month' then interval 1 month when 'quarter' then interval 3 month
                       else interval 1 year end - interval 1 day)::date
           between coalesce(o.valid_from, date '0001-01-01') and coalesce(o.valid_to, date '9999-12-31'))
),
pairs as (
    select cur.indicator_id, cur.region_code, cur.period,
           cur.value, cur.numerator, cur.denominator,
           prev.value as base_value, prev.numerator as base_num, prev.denominator as base_den
    from units cur
    join units prev
      on prev.indicator_id = cur.indicator_id
     and prev.unit = cur.unit
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
