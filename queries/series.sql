-- Values of indicators for regions over a period range, rolled up by indicator kind.
-- A region's own observation wins. Without one, counts and amounts are the sum over the
-- descendants at the indicator's reporting level, and rates are Σnumerator / Σdenominator
-- over them (never an average of rates). Standards are never summed: a region without its
-- own value shows the min–max of its direct children's values instead.
-- Parameters: $indicators varchar[], $regions varchar[], $date_from date, $date_to date.
with recursive
tree as (
    select code as root, code as node, 0 as depth
    from regions
    where code in (select unnest($regions::varchar[]))
    union all
    select tree.root, regions.code, tree.depth + 1
    from tree
    join regions on regions.parent_code = tree.node
),
wanted as (
    select id, kind, report_level
    from indicators
    where id in (select unnest($indicators::varchar[]))
),
obs as (
    select
        tree.root, tree.depth, regions.level,
        wanted.kind, wanted.report_level,
        observations.indicator_id, observations.period, observations.value,
        observations.numerator, observations.denominator,
        observations.status, observations.source
    from observations
    join wanted on wanted.id = observations.indicator_id
    join tree on tree.node = observations.region_code
    join regions on regions.code = observations.region_code
    where observations.period between $date_from and $date_to
),
own as (
    select root, indicator_id, period, value, numerator, denominator, status, source
    from obs
    where depth = 0
),
below as (
    select
        root, indicator_id, period, any_value(kind) as kind,
        round(sum(value), 6) as sum_value,
        sum(numerator) as sum_num,
        sum(denominator) as sum_den,
        min(value) as min_value,
        max(value) as max_value,
        count(*) as n_reported,
        case when bool_or(status = 'provisional') then 'provisional' else 'final' end as status,
        string_agg(distinct source, '；' order by source) as source
    from obs
    where depth > 0
      and ((kind = 'standard' and depth = 1) or (kind <> 'standard' and level = report_level))
    group by root, indicator_id, period
),
expected as (
    select tree.root, wanted.id as indicator_id, count(*) as n_expected
    from tree
    join regions on regions.code = tree.node
    cross join wanted
    where tree.depth > 0
      and ((wanted.kind = 'standard' and tree.depth = 1)
           or (wanted.kind <> 'standard' and regions.level = wanted.report_level))
    group by tree.root, wanted.id
)
select
    coalesce(own.indicator_id, below.indicator_id) as indicator_id,
    coalesce(own.root, below.root) as region_code,
    coalesce(own.period, below.period) as period,
    case
        when own.root is not null then own.value
        when below.kind in ('count', 'amount') then below.sum_value
        when below.kind = 'rate' then 100.0 * below.sum_num / nullif(below.sum_den, 0)
    end as value,
    coalesce(own.numerator, below.sum_num) as numerator,
    coalesce(own.denominator, below.sum_den) as denominator,
    case when below.kind = 'standard' then below.min_value end as min_value,
    case when below.kind = 'standard' then below.max_value end as max_value,
    own.root is null as derived,
    coalesce(below.n_reported, 0) as n_reported,
    coalesce(expected.n_expected, 0) as n_expected,
    coalesce(own.status, below.status) as status,
    coalesce(own.source, below.source) as source
from own
full outer join below
    on below.root = own.root
   and below.indicator_id = own.indicator_id
   and below.period = own.period
left join expected
    on expected.root = coalesce(own.root, below.root)
   and expected.indicator_id = coalesce(own.indicator_id, below.indicator_id)
order by indicator_id, region_code, period
