-- Every region with its place in the hierarchy and its centroid (WGS84).
select code, name, level, parent_code, lon, lat
from regions
order by code
