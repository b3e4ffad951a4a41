"""Boundary import: codes, CRS, GCJ-02 round trip, geometry checks, and the demo boundaries re-imported."""

import json
import math

import numpy as np
import pytest
from shapely.geometry import Point, Polygon, mapping, shape

from conftest import JIA, JIA1, ROOT, YI, fixture_tables
from minsheng import repo
from minsheng.ingest import geo
from minsheng.ingest.problems import ERROR, WARNING

CORPUS = ROOT / "tests" / "corpus" / "geo"
REGIONS = fixture_tables()["regions"]
SQUARE = [[[113.05, 27.05], [113.15, 27.05], [113.15, 27.15], [113.05, 27.15], [113.05, 27.05]]]


def feature(code="990101", geometry=None, **props):
    return {"type": "Feature", "properties": {"code": code, **props},
            "geometry": geometry or {"type": "Polygon", "coordinates": SQUARE}}


def to_gcj(g):
    return geo.shapely.transform(g, lambda xy: np.column_stack(geo.wgs84_to_gcj02(xy[:, 0], xy[:, 1])))


def errors(problems):
    return [p for p in problems if p.level == ERROR]


def warnings(problems):
    return [p for p in problems if p.level == WARNING]


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return p


def metres(lon0, lat0, lon1, lat1):
    return math.hypot((lon1 - lon0) * 111320 * math.cos(math.radians(lat0)), (lat1 - lat0) * 110574)


# ---- GCJ-02 -------------------------------------------------------------------------------

def test_gcj_inverse_undoes_forward():
    rng = np.random.default_rng(42)
    lon, lat = rng.uniform(74, 134, 2000), rng.uniform(18, 53, 2000)
    back_lon, back_lat = geo.wgs84_to_gcj02(*geo.gcj02_to_wgs84(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-6 and np.abs(back_lat - lat).max() < 1e-6


def test_gcj_offset_in_hunan_is_several_hundred_metres():
    # 株洲 city centre: the GCJ-02 shift there is about 670 m (east ~570 m, south ~350 m)
    glon, glat = geo.wgs84_to_gcj02(113.13, 27.83)
    assert 400 < metres(113.13, 27.83, float(glon), float(glat)) < 900
    assert glon > 113.13 and glat < 27.83


def test_gcj_leaves_points_outside_china_alone():
    lon, lat = geo.wgs84_to_gcj02([139.69, 2.0], [35.69, 100.0])
    assert lon.tolist() == [139.69, 2.0] and lat.tolist() == [35.69, 100.0]
    lon, lat = geo.gcj02_to_wgs84([139.69], [35.69])
    assert lon.tolist() == [139.69] and lat.tolist() == [35.69]


# ---- the demo boundaries ------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_regions(demo_dir):
    return repo.regions(demo_dir)


def test_demo_counties_reimport_unchanged(demo_dir, demo_regions):
    src = demo_dir / "boundaries" / "county.geojson"
    cols, problems = geo.read_boundaries(src, demo_regions)
    assert not errors(problems)
    # the file says nothing about its CRS: assumed WGS84, with a warning that names the GCJ-02 risk
    assert len(warnings(problems)) == 1 and "GCJ-02" in warnings(problems)[0].message
    assert list(cols) == ["county"]
    got = {f["properties"]["code"]: f for f in cols["county"]["features"]}
    orig = {f["properties"]["code"]: f for f in json.loads(src.read_text(encoding="utf-8"))["features"]}
    assert len(got) == 9 and got.keys() == orig.keys()
    for c, f in got.items():
        a, b = shape(f["geometry"]), shape(orig[c]["geometry"])
        assert a.hausdorff_distance(b) < 2e-5
        assert set(f["properties"]) == {"code", "name", "level", "synthetic", "lon", "lat"}
        assert f["properties"]["name"] == orig[c]["properties"]["name"] and f["properties"]["synthetic"] is False
        assert a.contains(Point(f["properties"]["lon"], f["properties"]["lat"]))


def test_gcj_shifted_copy_comes_back_within_a_metre(demo_dir, demo_regions, tmp_path):
    src = json.loads((demo_dir / "boundaries" / "county.geojson").read_text(encoding="utf-8"))
    shifted = json.loads(json.dumps(src))
    for f in shifted["features"]:
        g = shape(f["geometry"])
        f["geometry"] = mapping(to_gcj(g))
        f["properties"] = {"adcode": int(f["properties"]["code"][:6]), "name": f["properties"]["name"]}  # DataV style
    p = write(tmp_path, "datav.json", shifted)
    orig = {f["properties"]["code"]: shape(f["geometry"]) for f in src["features"]}

    cols, problems = geo.read_boundaries(p, demo_regions, crs="gcj02")
    assert not problems
    feats = cols["county"]["features"]
    assert len(feats) == 9
    for f in feats:
        # set_precision may start rings elsewhere, so compare shapes, not vertex lists; a degree of
        # longitude is ~98 km here, so 1.5e-5° is about 1.5 m (rounding alone moves points ≤ 0.7 m)
        assert shape(f["geometry"]).hausdorff_distance(orig[f["properties"]["code"]]) < 1.5e-5

    # without crs the same file imports shifted by hundreds of metres, and the warning says so
    cols, problems = geo.read_boundaries(p, demo_regions)
    assert "DataV" in warnings(problems)[0].message and "--crs gcj02" in warnings(problems)[0].message
    f = cols["county"]["features"][0]
    a, b = shape(f["geometry"]), orig[f["properties"]["code"]]
    assert 300 < metres(a.centroid.x, a.centroid.y, b.centroid.x, b.centroid.y) < 1000


# ---- codes, levels, CRS declarations ------------------------------------------------------

def test_code_properties_levels_and_unknown_codes():
    cols, problems = geo.read_boundaries(CORPUS / "counties.geojson", REGIONS)
    assert not errors(problems)
    assert sorted(f["properties"]["code"] for f in cols["county"]["features"]) == [JIA, YI]  # adcode int, gb 156…
    assert [f["properties"]["code"] for f in cols["township"]["features"]] == [JIA1]  # 9-digit 区划代码
    assert cols["county"]["features"][0]["properties"]["name"] == "甲县"  # names come from the region table
    unknown = next(p for p in problems if "不在区划表" in p.message)
    assert "990188000000" in unknown.message and "990199000000" in unknown.message and "匹配上的要素 3 个" in unknown.message
    assert any("不是多边形" in p.message for p in warnings(problems))
    # EPSG:4490 declared in the file: no CRS warning
    assert not any("坐标系" in p.message for p in problems)


def test_no_matching_code_is_an_error(tmp_path):
    p = write(tmp_path, "x.geojson", {"type": "Feature", "properties": {"code": "430204"},
                                      "geometry": {"type": "Polygon", "coordinates": SQUARE}})
    cols, problems = geo.read_boundaries(p, REGIONS, crs="wgs84")
    assert cols == {} and "430204000000" in errors(problems)[0].message


@pytest.mark.parametrize("raw, want", [
    ("430204", "430204000000"), (430204, "430204000000"), (430204.0, "430204000000"), ("156430204", "430204000000"),
    ("430204001", "430204001000"), (" 430204001002 ", "430204001002"), ("4302", None), ("43020a", None), (True, None)])
def test_normalise_code(raw, want):
    assert geo.normalise_code(raw) == want


def test_bare_geometry_takes_code_from_file_name():
    cols, problems = geo.read_boundaries(CORPUS / "甲县_990101.geojson", REGIONS, crs="cgcs2000")
    assert not problems
    assert cols["county"]["features"][0]["properties"]["code"] == JIA


@pytest.mark.parametrize("name", ["990101.geojson", "甲县_990101000000.json"])
def test_file_name_codes(tmp_path, name):
    p = write(tmp_path, name, {"type": "Feature", "properties": {"name": "甲县"},
                               "geometry": {"type": "Polygon", "coordinates": SQUARE}})
    cols, _ = geo.read_boundaries(p, REGIONS, crs="wgs84")
    assert cols["county"]["features"][0]["properties"]["code"] == JIA


def test_code_argument_and_display_name(tmp_path):
    p = write(tmp_path, "upload-1234.tmp", {"type": "Polygon", "coordinates": SQUARE})
    cols, problems = geo.read_boundaries(p, REGIONS, crs="wgs84", code="990102")
    assert cols["county"]["features"][0]["properties"]["code"] == YI
    cols, problems = geo.read_boundaries(p, REGIONS, crs="wgs84", display_name="乙县.geojson")
    assert cols == {} and errors(problems)[0].file == "乙县.geojson" and "--code" in errors(problems)[0].message


def test_file_declaring_gcj02_is_converted(tmp_path):
    fc = {"type": "FeatureCollection", "name": "高德 GCJ-02 边界", "features": [feature()]}
    cols, problems = geo.read_boundaries(write(tmp_path, "a.geojson", fc), REGIONS)
    assert not problems
    x, y = min(cols["county"]["features"][0]["geometry"]["coordinates"][0], key=sum)  # south-west corner
    assert 400 < metres(113.05, 27.05, x, y) < 900 and x < 113.05 and y > 27.05
    # the user's word wins over the file's, with a warning about the disagreement
    cols, problems = geo.read_boundaries(write(tmp_path, "a.geojson", fc), REGIONS, crs="wgs84")
    assert [113.05, 27.05] in cols["county"]["features"][0]["geometry"]["coordinates"][0]
    assert "GCJ-02" in warnings(problems)[0].message


def test_property_saying_huoxing_means_gcj02(tmp_path):
    p = write(tmp_path, "b.geojson", {"type": "Feature", "properties": {"code": "990101", "坐标系": "火星坐标"},
                                      "geometry": {"type": "Polygon", "coordinates": SQUARE}})
    cols, problems = geo.read_boundaries(p, REGIONS)
    assert not problems and min(cols["county"]["features"][0]["geometry"]["coordinates"][0])[0] < 113.05


def test_unsupported_crs(tmp_path):
    crs = {"type": "name", "properties": {"name": "EPSG:3857"}}
    p = write(tmp_path, "c.geojson", {"type": "FeatureCollection", "crs": crs, "features": []})
    _, problems = geo.read_boundaries(p, REGIONS)
    assert "EPSG:3857" in errors(problems)[0].message
    _, problems = geo.read_boundaries(CORPUS / "counties.geojson", REGIONS, crs="bd09")
    assert "bd09" in errors(problems)[0].message


# ---- geometry checks ----------------------------------------------------------------------

def test_swapped_lat_lon_is_an_error():
    cols, problems = geo.read_boundaries(CORPUS / "swapped.geojson", REGIONS, crs="wgs84")
    assert cols == {} and "颠倒" in errors(problems)[0].message


def test_projected_coordinates_are_an_error(tmp_path):
    ring = [[12593000, 3225000], [12603000, 3225000], [12603000, 3235000], [12593000, 3225000]]
    p = write(tmp_path, "m.geojson", {"type": "Feature", "properties": {"code": "990101"},
                                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    _, problems = geo.read_boundaries(p, REGIONS, crs="wgs84")
    assert "投影坐标" in errors(problems)[0].message


def test_self_intersecting_polygon_is_repaired_with_a_warning(tmp_path):
    bowtie = [[[113.05, 27.05], [113.15, 27.15], [113.15, 27.05], [113.05, 27.15], [113.05, 27.05]]]
    p = write(tmp_path, "bow.geojson", {"type": "Feature", "properties": {"code": "990101"},
                                        "geometry": {"type": "Polygon", "coordinates": bowtie}})
    cols, problems = geo.read_boundaries(p, REGIONS, crs="wgs84")
    assert not errors(problems) and "已自动修复" in warnings(problems)[0].message
    g = shape(cols["county"]["features"][0]["geometry"])
    assert g.is_valid and g.geom_type == "MultiPolygon" and g.area == pytest.approx(0.005, rel=1e-3)


def test_heavy_polygon_is_simplified_under_the_limit(tmp_path):
    circle = Point(113.1, 27.1).buffer(0.05, quad_segs=2000)  # 8001 vertices
    p = write(tmp_path, "990101.geojson", mapping(circle))
    cols, problems = geo.read_boundaries(p, REGIONS, crs="wgs84", max_vertices=500)
    g = shape(cols["county"]["features"][0]["geometry"])
    assert not problems and 100 < len(g.exterior.coords) <= 500
    assert g.hausdorff_distance(circle) < 1e-4  # the least simplification needed, not a crude one


def test_duplicate_codes_are_merged(tmp_path):
    halves = [Polygon([(113.05, 27.05), (113.1, 27.05), (113.1, 27.15), (113.05, 27.15)]),
              Polygon([(113.1, 27.05), (113.15, 27.05), (113.15, 27.15), (113.1, 27.15)])]
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "990101"}, "geometry": mapping(h)} for h in halves]}
    cols, problems = geo.read_boundaries(write(tmp_path, "d.geojson", fc), REGIONS, crs="wgs84")
    assert "合并" in warnings(problems)[0].message
    assert shape(cols["county"]["features"][0]["geometry"]).equals(Polygon(SQUARE[0]))


# ---- unreadable files ---------------------------------------------------------------------

def test_broken_json_reports_the_position():
    cols, problems = geo.read_boundaries(CORPUS / "broken.geojson", REGIONS)
    (e,) = problems
    assert cols == {} and e.level == ERROR and "第 4 行" in e.message and e.row == 4


def test_empty_file():
    cols, problems = geo.read_boundaries(CORPUS / "empty.geojson", REGIONS)
    assert cols == {} and [p.message for p in problems] == ["文件为空"]


@pytest.mark.parametrize("obj, words", [
    ([1, 2, 3], "不是 GeoJSON"),
    ({"type": "Topology", "objects": {}}, "TopoJSON"),
    ({"type": "FeatureCollection", "features": []}, "没有多边形"),
    (feature(geometry={"type": "Point", "coordinates": [113.1, 27.1]}), "没有多边形"),
    ({"type": "Polygon", "coordinates": [[[113.1, 27.1], [113.2, 27.1]]]}, "坐标格式不正确"),
])
def test_not_usable_geojson(tmp_path, obj, words):
    cols, problems = geo.read_boundaries(write(tmp_path, "990101.json", obj), REGIONS, crs="wgs84")
    assert cols == {} and any(words in p.message for p in errors(problems)), problems


def test_gbk_file_is_read_with_a_warning(tmp_path):
    p = tmp_path / "g.geojson"
    p.write_bytes(json.dumps(feature(name="甲县"), ensure_ascii=False).encode("gbk"))
    cols, problems = geo.read_boundaries(p, REGIONS, crs="wgs84")
    assert cols["county"]["features"] and "GBK" in warnings(problems)[0].message
