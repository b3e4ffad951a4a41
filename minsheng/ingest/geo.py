"""Boundary import: user GeoJSON → checked WGS-84 FeatureCollections per level, keyed by region code."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping, shape

from minsheng.ingest import limits, sandbox
from minsheng.ingest.problems import ERROR, Problem, error, warning

LEVELS = ("city", "county", "township", "village")  # the levels minsheng.maps draws
CODE_KEYS = ("code", "adcode", "region_code", "区划代码", "代码", "gb")
LON_RANGE, LAT_RANGE = (73.0, 136.0), (3.0, 54.0)
GRID = 1e-5  # 5 decimals, about 1 m, like data/boundaries

# GCJ-02 ("火星坐标") constants: the Krasovsky ellipsoid the published forward transform uses.
_A, _EE = 6378245.0, 0.00669342162296594323
_GCJ_TEXT = re.compile(r"gcj[\s_-]*0?2|火星", re.I)
_WGS_TEXT = re.compile(r"epsg\D{0,3}(?:4326|4490)(?!\d)|crs84|wgs[\s_-]*84|cgcs[\s_-]*2000", re.I)
_CRS_ALIASES = {"gcj02": "gcj02", "wgs84": "wgs84", "cgcs2000": "wgs84", "epsg4326": "wgs84",
                "epsg4490": "wgs84", "4326": "wgs84", "4490": "wgs84", "crs84": "wgs84"}
_CRS_ZH = {"gcj02": "GCJ-02", "wgs84": "WGS84/CGCS2000"}


# ---- GCJ-02 -------------------------------------------------------------------------------

def in_china(lon, lat):
    """The rough box inside which GCJ-02 applies an offset (the usual out_of_china rule, negated)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    return (lon > 73.66) & (lon < 135.05) & (lat > 3.86) & (lat < 53.55)


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """The published GCJ-02 forward transform, vectorised; points outside China are returned as is."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    both = (20 * np.sin(6 * x * pi) + 20 * np.sin(2 * x * pi)) * 2 / 3
    dlat = (-100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + both
            + (20 * np.sin(y * pi) + 40 * np.sin(y / 3 * pi)) * 2 / 3
            + (160 * np.sin(y / 12 * pi) + 320 * np.sin(y * pi / 30)) * 2 / 3)
    dlon = (300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + both
            + (20 * np.sin(x * pi) + 40 * np.sin(x / 3 * pi)) * 2 / 3
            + (150 * np.sin(x / 12 * pi) + 300 * np.sin(x / 30 * pi)) * 2 / 3)
    rad = lat / 180 * pi
    magic = 1 - _EE * np.sin(rad) ** 2
    dlat = dlat * 180 / ((_A * (1 - _EE)) / (magic * np.sqrt(magic)) * pi)
    dlon = dlon * 180 / (_A / np.sqrt(magic) * np.cos(rad) * pi)
    inside = in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(lon, lat, tolerance: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of wgs84_to_gcj02 by fixed-point iteration: the offset varies slowly, so each step
    gains about three digits; 1e-9° (0.1 mm) is reached in a handful of rounds."""
    glon, glat = np.asarray(lon, float), np.asarray(lat, float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(30):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if not elon.size or max(np.abs(elon).max(), np.abs(elat).max()) < tolerance:
            break
    return wlon, wlat


def _gcj_geometry(geom):
    def fix(xy):
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])
    return shapely.transform(geom, fix)


# ---- codes and CRS ------------------------------------------------------------------------

def normalise_code(raw) -> str | None:
    """6/9/12-digit statistical code → 12 digits; None when it is not one."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # DataV writes adcode as a number
    s = str(raw).strip()
    # 天地图 "gb" is "156" (China's ISO number) + 6 digits; no real 9-digit township code starts
    # with 156 (province 15 has no prefecture 6x), so stripping it is unambiguous
    if len(s) == 9 and s.startswith("156"):
        s = s[3:]
    if not re.fullmatch(r"[0-9]+", s):
        return None
    return {6: s + "000000", 9: s + "000", 12: s}.get(len(s))


def code_from_name(name: str) -> str | None:
    """430204.geojson, 石峰区_430204000000.json → the 12-digit code in the file name."""
    found = re.findall(r"(?<![0-9])([0-9]{12}|[0-9]{9}|[0-9]{6})(?![0-9])", Path(name).stem)
    return normalise_code(found[0]) if len(found) == 1 else None


def _feature_code(props: dict) -> tuple[str | None, object, str | None]:
    """(normalised code, raw value, property name) from the first code-like property present."""
    lower = {str(k).lower(): k for k in props}
    for key in CODE_KEYS:
        k = lower.get(key.lower())
        if k is not None and props[k] not in (None, ""):
            return normalise_code(props[k]), props[k], k
    return None, None, None


def _declared_crs(data: dict) -> tuple[str | None, str | None]:
    """(wgs84 | gcj02 | other | None, the text that said so) from what the file itself says."""
    member = data.get("crs")
    if member:
        text = json.dumps(member, ensure_ascii=False)
        if _GCJ_TEXT.search(text):
            return "gcj02", text
        if _WGS_TEXT.search(text):
            return "wgs84", text
        return "other", text
    # no crs member: a GCJ-02 mention anywhere in the metadata or properties is a strong hint
    meta = {k: v for k, v in data.items() if k not in ("features", "geometry", "coordinates")}
    texts = [json.dumps(meta, ensure_ascii=False)]
    for f in data.get("features") or []:
        if isinstance(f, dict) and isinstance(f.get("properties"), dict):
            texts.append(json.dumps(f["properties"], ensure_ascii=False))
    for t in texts:
        m = _GCJ_TEXT.search(t)
        if m:
            return "gcj02", m.group(0)
    return None, None


def _looks_datav(data: dict) -> bool:
    for f in (data.get("features") or [])[:5]:
        props = (f.get("properties") or {}) if isinstance(f, dict) else {}
        if "adcode" in props and ("childrenNum" in props or "acroutes" in props):
            return True
    return False


# ---- reading ------------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_COORDINATE = re.compile(rb"\[\s*[-+0-9.]")


def _structure_problem(text: str) -> str | None:
    """Nesting depth and vertex count, measured on the text before the JSON parser builds anything
    (Python's parser recurses per level: 200,000 nested brackets raise RecursionError)."""
    skeleton = _JSON_STRING.sub('""', text).encode()    # strings hold no structure
    brackets = np.frombuffer(skeleton.translate(None, _NOT_BRACKETS), np.uint8)
    if brackets.size:
        steps = ((brackets == ord("[")) | (brackets == ord("{"))).astype(np.int8) * 2 - 1   # +1 opens, -1 closes
        depth = int(np.cumsum(steps, dtype=np.int32).max())
        if depth > limits.MAX_JSON_DEPTH:
            return f"JSON 嵌套过深（{depth:,} 层，上限 {limits.MAX_JSON_DEPTH} 层）：这不是正常的边界文件，已拒绝"
    vertices = len(_COORDINATE.findall(skeleton))
    if vertices > limits.MAX_COORDINATES:
        return (f"坐标点过多（约 {vertices:,} 个，上限 {limits.MAX_COORDINATES:,} 个）。"
                "请先简化边界（如用 mapshaper）后再导入")
    return None


def _load(raw: bytes, name: str, problems: list[Problem]) -> dict | None:
    if not raw.strip():
        problems.append(error(name, "文件为空"))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030", errors="replace")
        problems.append(warning(name, "文件不是 UTF-8 编码，已按 GBK 读取；请核对名称是否乱码"))
    why = _structure_problem(text)
    if why:
        problems.append(error(name, why))
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        problems.append(error(name, f"不是有效的 JSON：第 {e.lineno} 行第 {e.colno} 列（第 {e.pos + 1} 个字符）"
                                    f"附近出错（{e.msg}）。文件可能不完整或被截断", row=e.lineno))
        return None
    if not isinstance(data, dict) or "type" not in data:
        problems.append(error(name, "不是 GeoJSON：应为 FeatureCollection、Feature 或 Polygon/MultiPolygon 几何对象"))
        return None
    if data["type"] == "Topology":
        problems.append(error(name, "这是 TopoJSON，不是 GeoJSON；请先转换为 GeoJSON（如用 mapshaper）"))
        return None
    return data


def _features(data: dict, name: str, problems: list[Problem]) -> list[tuple[int, dict, dict]] | None:
    """(1-based position, properties, geometry) for each feature, whatever the wrapping."""
    kind = data["type"]
    if kind == "FeatureCollection":
        feats = data.get("features")
        if not isinstance(feats, list):
            problems.append(error(name, "FeatureCollection 缺少 features 数组"))
            return None
        out = []
        for i, f in enumerate(feats, 1):
            if isinstance(f, dict) and f.get("type") == "Feature":
                out.append((i, f.get("properties") or {}, f.get("geometry")))
            else:
                problems.append(error(name, f"第 {i} 个要素不是 GeoJSON Feature"))
        return out
    if kind == "Feature":
        return [(1, data.get("properties") or {}, data.get("geometry"))]
    if kind in ("Polygon", "MultiPolygon", "GeometryCollection", "Point", "MultiPoint", "LineString",
                "MultiLineString"):
        return [(1, {}, data)]
    problems.append(error(name, f"不是 GeoJSON：未知的 type “{kind}”"))
    return None


def _polygonal(geom):
    """Only the polygon parts (make_valid may leave stray lines or points behind)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _range_problem(bounds) -> str | None:
    x0, y0, x1, y1 = bounds
    if LON_RANGE[0] <= x0 and x1 <= LON_RANGE[1] and LAT_RANGE[0] <= y0 and y1 <= LAT_RANGE[1]:
        return None
    if LAT_RANGE[0] <= x0 and x1 <= LAT_RANGE[1] and LON_RANGE[0] <= y0 and y1 <= LON_RANGE[1]:
        return "看起来经纬度顺序颠倒了（GeoJSON 要求先经度、后纬度）"
    if max(abs(x0), abs(x1)) > 180 or max(abs(y0), abs(y1)) > 90:
        return "看起来是投影坐标（单位为米，如 EPSG:3857 或 CGCS2000 高斯-克吕格投影），请先转换为经纬度"
    return "不在中国范围内"


def _thin(geom, max_vertices: int):
    """The least simplification that brings geom under max_vertices (bisection on a log scale)."""
    if shapely.get_num_coordinates(geom) <= max_vertices:
        return geom
    x0, y0, x1, y1 = geom.bounds
    lo, hi = 1e-8, max(x1 - x0, y1 - y0, 1e-6)
    best = geom.simplify(hi, preserve_topology=True)  # a floor: each ring keeps at least 4 points
    while hi / lo > 1.05:
        mid = math.sqrt(lo * hi)
        s = geom.simplify(mid, preserve_topology=True)
        if shapely.get_num_coordinates(s) <= max_vertices:
            hi, best = mid, s
        else:
            lo = mid
    return best


def _feature(geom, code: str, name: str, level: str) -> dict:
    geom = shapely.orient_polygons(geom)  # RFC 7946: exterior rings counter-clockwise
    # set_precision snaps to the grid; rounding then only drops float noise (113.26303000000001)
    geom = shapely.transform(geom, lambda xy: np.round(xy, 5))
    rp = geom.representative_point()
    return {"type": "Feature",
            "properties": {"code": code, "name": name, "level": level, "synthetic": False,
                           "lon": round(rp.x, 5), "lat": round(rp.y, 5)},
            "geometry": json.loads(json.dumps(mapping(geom)))}


def _listing(items: list[str], limit: int = 10) -> str:
    return "、".join(items[:limit]) + (f" 等 {len(items)} 个" if len(items) > limit else "")


def read_boundaries(source: Path | bytes, regions: pd.DataFrame, *, crs: str | None = None, code: str | None = None,
                    display_name: str | None = None, max_vertices: int = 2000) -> tuple[dict[str, dict], list[Problem]]:
    """{level: FeatureCollection} for the polygons in a GeoJSON file (a path, or an upload's bytes
    with its `display_name`) whose codes are in `regions`, converted to WGS-84, validated,
    simplified to at most max_vertices each; and every problem found.
    `code` (or a code in the file name) names the region of a bare geometry or a code-less feature.
    The name is only ever a label: an upload's name never becomes a path.
    Parsing and geometry run in a child process with a memory and time limit (sandbox.py)."""
    payload = source if isinstance(source, bytes) else Path(source).read_bytes()
    name = display_name or Path(source).name
    if len(payload) > limits.MAX_BYTES:
        return {}, [error(name, f"文件过大（{len(payload) / 1024 / 1024:.1f} MB，上限 "
                                f"{limits.MAX_BYTES // 1024 // 1024} MB）。请先简化边界后再导入")]
    try:
        return sandbox.run(_read_boundaries, payload, name, regions, crs=crs, code=code, max_vertices=max_vertices)
    except sandbox.Refused as e:
        return {}, [error(name, str(e))]


def _read_boundaries(payload: bytes, name: str, regions: pd.DataFrame, *, crs: str | None, code: str | None,
                     max_vertices: int) -> tuple[dict[str, dict], list[Problem]]:
    problems: list[Problem] = []
    data = _load(payload, name, problems)
    items = _features(data, name, problems) if data is not None else None
    if items is None:
        return {}, problems

    # which CRS: the user's word first, then the file's, else WGS-84 with a warning
    declared, said = _declared_crs(data)
    if crs is not None:
        chosen = _CRS_ALIASES.get(re.sub(r"[\s_:-]", "", crs.lower()))
        if chosen is None:
            problems.append(error(name, f"不支持的坐标系“{crs}”：请指定 wgs84（含 CGCS2000）或 gcj02"))
            return {}, problems
        if declared and declared != chosen:
            problems.append(warning(name, f"文件声明的坐标系为 {said}，按指定的 {_CRS_ZH[chosen]} 处理"))
    elif declared == "other":
        problems.append(error(name, f"文件声明的坐标系 {said} 不受支持：请先转换为 WGS84 经纬度，"
                                    "或确认无误后选择坐标系（命令行 --crs wgs84 / gcj02）"))
        return {}, problems
    elif declared:
        chosen = declared
    else:
        chosen = "wgs84"
        hint = "该文件像是阿里云 DataV.GeoAtlas 导出的，这类数据通常是 GCJ-02。" if _looks_datav(data) else ""
        problems.append(warning(name, "文件未说明坐标系，按 WGS84（CGCS2000）处理。" + hint +
                                "高德、DataV 等来源的 GCJ-02 数据这样导入会偏移几百米；"
                                "如属此类，请选择 GCJ-02 坐标系（命令行 --crs gcj02）重新导入"))

    fallback = None
    if code is not None:
        fallback = normalise_code(code)
        if fallback is None:
            problems.append(error(name, f"指定的区划代码“{code}”不是 6、9 或 12 位数字"))
            return {}, problems
    elif len(items) == 1:
        fallback = code_from_name(name)  # only a file holding one region can be named after it

    known = {str(c): (n, lv) for c, n, lv in zip(regions["code"], regions["name"], regions["level"])}
    geoms: dict[str, list] = {}
    unknown: list[str] = []
    skipped = 0
    out_of_range: dict[str, list[str]] = {}
    for i, props, gj in items:
        c, raw, key = _feature_code(props)
        label = f"第 {i} 个要素" + (f"（{raw}）" if raw is not None else "")
        if key is not None and c is None:
            problems.append(error(name, f"{label}：区划代码“{raw}”不是 6、9 或 12 位数字", column=str(key)))
            continue
        if c is None:
            c = fallback
        if c is None:
            problems.append(error(name, f"{label}没有区划代码：要素属性中找不到 {'、'.join(CODE_KEYS)}；"
                                        "单个区划的文件可在文件名中写代码（如 石峰区_430204.geojson），或指定区划代码（命令行 --code）"))
            continue
        if not isinstance(gj, dict) or "type" not in gj:
            skipped += 1
            continue
        try:
            g = shape(gj)
        except Exception as e:  # shapely/GEOS reject malformed coordinates with assorted errors
            problems.append(error(name, f"{label}的几何坐标格式不正确：{e}"))
            continue
        g = _polygonal(g) if g.geom_type not in ("Polygon", "MultiPolygon") else g
        if g.is_empty:
            skipped += 1
            continue
        why = _range_problem(g.bounds)
        if why:
            out_of_range.setdefault(why, []).append(c)
            continue
        if chosen == "gcj02":
            g = _gcj_geometry(g)
        if not g.is_valid:
            reason = shapely.is_valid_reason(g)
            g = _polygonal(shapely.make_valid(g))
            if g.is_empty or not g.is_valid:
                problems.append(error(name, f"{label}的多边形无效且无法修复（{reason}）"))
                continue
            problems.append(warning(name, f"{label}的多边形无效（{reason}），已自动修复；请在地图上核对"))
        geoms.setdefault(c, []).append(g)

    for why, codes in out_of_range.items():
        problems.append(error(name, f"{len(codes)} 个要素的坐标超出中国范围（经度 73–136、纬度 3–54）："
                                    f"{why}。涉及代码：{_listing(codes)}"))
    if skipped:
        problems.append(warning(name, f"{skipped} 个要素不是多边形（点、线或空几何），已忽略"))
    if not geoms and not out_of_range and not any(p.level == ERROR for p in problems):
        problems.append(error(name, "文件中没有多边形（Polygon/MultiPolygon）"))
        return {}, problems

    collections: dict[str, list] = {}
    for c in sorted(geoms):
        if c not in known:
            unknown.append(c)
            continue
        region_name, level = known[c]
        if level not in LEVELS:
            problems.append(warning(name, f"{region_name}（{c}）的级别为 {level}，地图不显示该级别，已忽略"))
            continue
        parts = geoms[c]
        if len(parts) > 1:
            problems.append(warning(name, f"{region_name}（{c}）有 {len(parts)} 个要素，已合并为一个"))
        g = _polygonal(shapely.union_all(parts)) if len(parts) > 1 else parts[0]
        g = shapely.set_precision(_thin(g, max_vertices), GRID)
        if g.is_empty:
            problems.append(error(name, f"{region_name}（{c}）的多边形太小（不足 1 米），无法保存"))
            continue
        collections.setdefault(level, []).append(_feature(g, c, region_name, level))

    matched = sum(len(v) for v in collections.values())
    if unknown:
        msg = (f"{len(unknown)} 个要素的代码不在区划表中，已忽略：{_listing(unknown)}；"
               f"匹配上的要素 {matched} 个")
        if matched:
            problems.append(warning(name, msg))
        else:
            problems.append(error(name, msg + "。请核对代码是否为统计用区划代码，或先导入区划表"))
    return {lv: {"type": "FeatureCollection", "features": fs} for lv, fs in collections.items()}, problems
