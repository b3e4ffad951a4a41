-- Every region with its place in the hierarchy and its centroid (WGS84).
-- Parameters: $area varchar (the user's area: only it and the regions below it; null = all).
select code, name, level, parent_code, lon, lat, valid_from, valid_to, successor_code
from regions
where $area::varchar is null
   or code in (select code from ancestors where ancestor = $area::varchar)
order by code
