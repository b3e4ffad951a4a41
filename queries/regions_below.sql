-- The regions under a region at one level, within the user's area: the rows a map, the 数据 page's
-- level and an export cover. The region itself counts when it is at that level.
-- Parameters: $root varchar (the region), $level varchar (null = the region itself),
-- $area varchar (the user's area: only regions in its subtree; null = no limit),
-- $on date (only the regions whose code is valid that day, the map's period's last day; null = every
-- code, retired ones too, as an export lists the rows reported under them).
select regions.code, regions.name, regions.level, regions.parent_code, regions.lon, regions.lat,
       regions.valid_from, regions.valid_to, regions.successor_code
from ancestors
join regions on regions.code = ancestors.code
where ancestors.ancestor = $root::varchar
  and (($level::varchar is null and ancestors.depth = 0) or regions.level = $level::varchar)
  and ($area::varchar is null
       or regions.code in (select code from ancestors where ancestor = $area::varchar))
  and ($on::date is null
       or (coalesce(regions.valid_from <= $on::date, true) and coalesce(regions.valid_to >= $on::date, true)))
order by regions.code
