-- The indicator catalogue: what each indicator measures and how its numbers add up.
select id, name_zh, name_en, unit, domain, kind, frequency, cumulative, report_level,
       higher_is_better, description, source, seq
from indicators
order by seq, id
