-- The indicator catalogue: what each indicator measures, how its numbers add up and how they are
-- shown (decimals: the indicator's own display precision, NULL where it takes its unit's default).
select id, name_zh, name_en, unit, domain, kind, frequency, cumulative, report_level,
       higher_is_better, description, source, seq, decimals
from indicators
order by seq, id
