"""Synthetic province-scale data in the data contract, streamed to Parquet (`python -m minsheng synth`)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minsheng import files, observations, store, vocab

PROVINCE = "430000000000"
FIRST_YEAR, LAST_YEAR = 2016, 2025
ROW_GROUP = 1_000_000  # ~1M rows a row group: min/max statistics fine enough to skip most of the file
CHUNK = 2_000_000  # rows generated at once; with one row group buffered this bounds memory
# cities, counties, townships, villages, indicators: "province" is Hunan-sized, "small" is for tests
SCALES = {"province": (14, 120, 1900, 29000, 300), "small": (2, 4, 12, 48, 25)}
LEVELS = ("province", "city", "county", "township", "village")
# Every kind at every report level and frequency; indicator i takes combination i mod 25.
COMBOS = ([(k, lv, f, cum) for k in ("count", "amount") for lv in ("county", "township", "village")
           for f, cum in (("month", True), ("month", False), ("year", False))]
          + [("rate", lv, f, False) for lv in ("county", "township", "village") for f in ("month", "year")]
          + [("standard", "county", "year", False)])
DOMAINS = {"民政": "民政局", "医保": "医保局", "卫健": "卫健委", "人社": "人社局", "残联": "残联",
           "住建": "住建局", "教育": "教育局", "农业农村": "农业农村局"}
UNITS = {"count": "人", "amount": "万元", "rate": "%", "standard": "元/月"}
BASE = {"county": 20000.0, "township": 1500.0, "village": 100.0}  # a typical unit's size at each level

S = pa.large_string()  # what pandas 3 writes for str columns, so the files match data/*.parquet
OBS_SCHEMA = pa.schema([("indicator_id", S), ("region_code", S), ("period", pa.date32()), ("value", pa.float64()),
                        ("numerator", pa.float64()), ("denominator", pa.float64()), ("status", S),
                        ("source", S), ("batch_id", S)])
MONTHS = np.array([f"{y}-{m:02d}-01" for y in range(FIRST_YEAR, LAST_YEAR + 1) for m in range(1, 13)],
                  dtype="datetime64[D]")
YEARS = np.array([f"{y}-01-01" for y in range(FIRST_YEAR, LAST_YEAR + 1)], dtype="datetime64[D]")


@dataclass
class Level:
    codes: list[str]
    parent: np.ndarray  # index into the level above
    weight: np.ndarray  # relative size of each unit, mean ≈ 1


def _split(rng, total: int, parts: int, spread: float = 0.45) -> np.ndarray:
    """`total` children over `parts` parents, each at least one, sizes varying by ±spread."""
    w = rng.uniform(1 - spread, 1 + spread, parts)
    raw = (total - parts) * w / w.sum()
    n = np.floor(raw).astype(int)
    n[np.argsort(n - raw, kind="stable")[: total - parts - n.sum()]] += 1  # largest remainders
    return n + 1


def hierarchy(scale: str, rng) -> tuple[dict[str, Level], pd.DataFrame]:
    """Regions by level (codes sorted) and the regions table, codes in the 统计用区划代码 structure."""
    n_city, n_county, n_town, n_village, _ = SCALES[scale]
    levels = {"province": Level([PROVINCE], np.array([-1]), np.ones(1)),
              "city": Level([f"43{c:02d}00000000" for c in range(1, n_city + 1)], np.zeros(n_city, int),
                            rng.lognormal(0, 0.3, n_city))}
    # 2 digits for counties, 3 for townships and villages (villages 2xx, like 村委会)
    for name, parent, total, width, first, tail in (("county", "city", n_county, 2, 1, "000000"),
                                                     ("township", "county", n_town, 3, 1, "000"),
                                                     ("village", "township", n_village, 3, 201, "")):
        up = levels[parent]
        sizes = _split(rng, total, len(up.codes))
        if sizes.max() + first > 10 ** width:
            raise ValueError(f"too many {name}s under one {parent}")
        stem = {"county": 4, "township": 6, "village": 9}[name]
        codes = [up.codes[i][:stem] + f"{first + k:0{width}d}" + tail for i, n in enumerate(sizes) for k in range(n)]
        levels[name] = Level(codes, np.repeat(np.arange(len(up.codes)), sizes), rng.lognormal(0, 0.5, total))
    rows, pos = [], {PROVINCE: (111.7, 27.6)}
    spread = {"city": 2.0, "county": 0.45, "township": 0.12, "village": 0.03}
    prefix = {"province": "示例省", "city": "市", "county": "县", "township": "镇", "village": "村"}
    digits = {"city": 2, "county": 3, "township": 4, "village": 5}
    for name in LEVELS:
        lv = levels[name]
        ups = levels[LEVELS[LEVELS.index(name) - 1]].codes if name != "province" else [None]
        d = spread.get(name, 0) * rng.uniform(-1, 1, (len(lv.codes), 2))
        for i, code in enumerate(lv.codes):
            p = ups[lv.parent[i]] if name != "province" else None
            lon, lat = pos[p] if p else pos[PROVINCE]
            pos[code] = (round(lon + d[i, 0], 5), round(lat + d[i, 1], 5)) if p else (lon, lat)
            label = prefix[name] + (f"{i + 1:0{digits[name]}d}" if name != "province" else "")
            rows.append(dict(code=code, name=label, level=name, parent_code=p, lon=pos[code][0], lat=pos[code][1]))
    df = pd.DataFrame(rows)
    df["valid_from"] = pd.NaT  # the same columns and dtypes as the demo's regions table
    df["valid_to"] = pd.NaT
    return levels, df


def catalogue(n: int, rng) -> tuple[pd.DataFrame, list[dict]]:
    """The indicators table and each indicator's generation parameters (base size, growth, rate level)."""
    rows, params = [], []
    domains = list(DOMAINS)
    for i in range(n):
        kind, level, freq, cum = COMBOS[i % len(COMBOS)]
        domain = domains[(i // len(COMBOS) + i) % len(domains)]
        iid = f"syn{i + 1:04d}"
        name = f"合成指标{i + 1:03d}（{vocab.KINDS[kind].form}）"
        rows.append(dict(id=iid, name_zh=name, name_en=f"Synthetic indicator {i + 1:03d} ({kind})",
                         unit=UNITS[kind], domain=domain, kind=kind, frequency=freq, cumulative=cum,
                         report_level=level, higher_is_better=None if i % 11 == 10 else bool(i % 7), description="合成数据，用于规模测试",
                         source=f"合成数据·{domain}", seq=i + 1))
        params.append(dict(id=iid, kind=kind, level=level, freq=freq, cum=cum, name=name, domain=domain,
                           base=BASE[level] * rng.uniform(0.3, 3.0) * (0.5 if kind == "amount" else 1),
                           growth=rng.uniform(-0.02, 0.08), rate=rng.uniform(0.6, 0.95),
                           std=rng.uniform(500, 900), source=f"合成数据·{domain}"))
    return pd.DataFrame(rows), params  # higher_is_better None (neither, like caseloads): object, as in the demo


def quotas(capacity: np.ndarray, n: int) -> np.ndarray:
    """Rows per indicator summing to exactly `n`: small indicators complete, the large ones share the rest."""
    if n > capacity.sum():
        raise ValueError(f"最多可生成 {int(capacity.sum()):,} 行（--rows {n:,} 过大）")
    lo, hi = 0, int(capacity.max())
    while lo < hi:  # the largest cap λ with Σ min(capacity, λ) ≤ n
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if np.minimum(capacity, mid).sum() <= n else (lo, mid - 1)
    q = np.minimum(capacity, lo)
    q[np.flatnonzero(q < capacity)[: n - int(q.sum())]] += 1  # fewer than the open indicators, by λ's choice
    return q


def pick(n_regions: int, n_periods: int, rows: int, salt: int) -> tuple[np.ndarray, int]:
    """Region indices (sorted, spread over the province) with full histories, and how many of the
    latest periods the last of them gets, for exactly `rows` unique (region, period) cells."""
    k, r = divmod(rows, n_periods)
    kk = k + (r > 0)
    if kk == 0:
        return np.zeros(0, int), 0
    offset = salt % max(1, n_regions // kk)  # different indicators cover different units
    return offset + (np.arange(kk) * n_regions) // kk, r or n_periods


def _chunk(p: dict, idx: np.ndarray, last: int, w: np.ndarray, codes: pa.Array, rng) -> pa.RecordBatch:
    """Rows for regions `idx` of one indicator, in (region, period) order."""
    monthly = p["freq"] == "month"
    n_per = len(MONTHS) if monthly else len(YEARS)
    reg = np.repeat(np.arange(len(idx)), n_per)
    per = np.tile(np.arange(n_per), len(idx))
    if last < n_per:  # the partially covered region keeps only its latest periods
        keep = np.ones(len(reg), bool)
        keep[len(reg) - n_per: len(reg) - last] = False
        reg, per = reg[keep], per[keep]
    n = len(reg)
    year = per // 12 if monthly else per
    month = per % 12 + 1 if monthly else 12
    size = p["base"] * w[idx][reg] * (1 + p["growth"]) ** year
    unit_year = rng.uniform(0.9, 1.1, (len(idx), len(YEARS)))[reg, year]  # a unit's good or bad year
    num = den = pa.nulls(n, pa.float64())
    if p["kind"] == "rate":
        d = np.maximum(1, np.round(size * 5 * unit_year))
        r = np.clip(p["rate"] + 0.004 * year + rng.normal(0, 0.02, n), 0.2, 1.0)
        nm = np.floor(d * r)  # floor keeps numerator ≤ denominator
        value, num, den = np.round(100 * nm / d, 4), pa.array(nm), pa.array(d)
    elif p["kind"] == "standard":
        value = np.round(p["std"] * 1.04 ** year * rng.uniform(0.95, 1.05, len(idx))[reg])  # a county's own level
    else:
        digits = 2 if p["kind"] == "amount" else 0
        if p["cum"]:  # year-to-date: a fixed share of the year's total each month, so it never falls
            value = np.round(size * unit_year * month / 12, digits)
        else:
            value = np.round(size * unit_year * rng.uniform(0.97, 1.03, n), digits)
    status = pa.array(["final", "provisional"], S).take(pa.array((per == n_per - 1).astype(np.int8)))
    return pa.RecordBatch.from_arrays([
        pa.repeat(pa.scalar(p["id"], S), n), codes.take(pa.array(idx[reg])),
        pa.array((MONTHS if monthly else YEARS)[per]), pa.array(value.astype("float64")), num, den,
        status, pa.repeat(pa.scalar(p["source"], S), n), pa.repeat(pa.scalar("synth", S), n)], schema=OBS_SCHEMA)


class _Sink:
    """Buffers batches and writes row groups of exactly ROW_GROUP rows (the last may be smaller)."""

    def __init__(self, path: Path, total: int):
        self.writer = pq.ParquetWriter(path, OBS_SCHEMA, compression="zstd")
        self.buf: list[pa.RecordBatch] = []
        self.held = self.written = 0
        self.total, self.t0, self.shown = total, time.perf_counter(), 0.0

    def add(self, batch: pa.RecordBatch) -> None:
        self.buf.append(batch)
        self.held += batch.num_rows
        while self.held >= ROW_GROUP:
            self._flush(ROW_GROUP)

    def _flush(self, n: int) -> None:
        table = pa.Table.from_batches(self.buf, OBS_SCHEMA)
        self.writer.write_table(table.slice(0, n), row_group_size=n)
        rest = table.slice(n)
        self.buf, self.held, self.written = rest.to_batches(), rest.num_rows, self.written + n
        now = time.perf_counter() - self.t0
        if now - self.shown >= 2 or self.written == self.total:
            self.shown = now
            print(f"  观测 {self.written:,} / {self.total:,} 行（{100 * self.written / self.total:.0f}%），"
                  f"{now:.1f} 秒", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.held:
            self._flush(self.held)
        self.writer.close()


def targets_frame(levels: dict[str, Level], params: list[dict], picks: dict[str, np.ndarray], rng) -> pd.DataFrame:
    """Yearly targets for the province, every city and every county on every third task-like indicator:
    what its covered units should add up to, give or take."""
    def up(level: str, to: str) -> np.ndarray:  # each unit's ancestor index at level `to`
        idx = np.arange(len(levels[level].codes))
        for lv in reversed(LEVELS[LEVELS.index(to) + 1: LEVELS.index(level) + 1]):
            idx = levels[lv].parent[idx]
        return idx

    tasks = [p for p in params if p["kind"] in ("count", "amount") and (p["cum"] or p["freq"] == "year")][::3]
    rows = []
    for p in tasks:
        idx = picks[p["id"]]
        for year in (LAST_YEAR - 1, LAST_YEAR):
            expect = p["base"] * levels[p["level"]].weight[idx] * (1 + p["growth"]) ** (year - FIRST_YEAR)
            for to in ("province", "city", "county"):
                sums = np.bincount(up(p["level"], to)[idx], weights=expect, minlength=len(levels[to].codes))
                for j in np.flatnonzero(sums > 0):
                    rows.append(dict(indicator_id=p["id"], region_code=levels[to].codes[j], year=year,
                                     target=float(round(sums[j] * rng.uniform(0.95, 1.25), 2 if p["kind"] == "amount" else 0)),
                                     department=DOMAINS[p["domain"]], task=f"{p['name']}任务",
                                     deadline=dt.date(year, 12, 31)))
    return pd.DataFrame(rows, columns=["indicator_id", "region_code", "year", "target", "department", "task", "deadline"])


def build(out: Path, rows: int, seed: int = 42, scale: str = "province") -> dict[str, int]:
    """Write the four tables and meta.json into `out` as a base version; returns row counts."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    levels, regions = hierarchy(scale, rng)
    indicators, params = catalogue(SCALES[scale][4], rng)
    n_per = {"month": len(MONTHS), "year": len(YEARS)}
    capacity = np.array([len(levels[p["level"]].codes) * n_per[p["freq"]] for p in params])
    quota = quotas(capacity, rows)
    picks = {}

    def write(tmp: Path) -> None:
        sink = _Sink(tmp, rows)
        for i, (p, q) in enumerate(zip(params, quota)):  # ids ascend, so rows come out in key order
            lv = levels[p["level"]]
            idx, last = pick(len(lv.codes), n_per[p["freq"]], int(q), salt=7919 * (i + 1))
            picks[p["id"]] = idx
            codes = pa.array(lv.codes, S)
            step = max(1, CHUNK // n_per[p["freq"]])
            for a in range(0, len(idx), step):
                part = idx[a:a + step]
                sink.add(_chunk(p, part, last if a + step >= len(idx) else n_per[p["freq"]], lv.weight, codes,
                                np.random.default_rng([seed, i, a])))
        sink.close()

    files.atomic_write(store.table_path(out, "observations"), write)
    print("  按区划排序观测表（便于按区划跳读）…", file=sys.stderr, flush=True)
    observations.sort(out, memory_limit="4GB")
    targets = targets_frame(levels, params, picks, np.random.default_rng([seed, 10**6]))
    meta = {"title": f"示例省合成数据（{rows:,} 行观测）", "demo": True, "data_date": f"{LAST_YEAR}-12-31",
            "source_note": "合成数据：用于规模与性能测试，非官方统计",
            "generated_by": f"python -m minsheng synth --rows {rows} --seed {seed} --scale {scale}"}
    print("  计算汇总表…", file=sys.stderr, flush=True)
    store.write_tables(out, {"regions": regions, "indicators": indicators, "targets": targets}, meta)  # + roll-ups
    return {"regions": len(regions), "indicators": len(indicators), "observations": rows, "targets": len(targets)}


def _count(text: str) -> int:
    """'20000', '1_000_000', '10M' or '500k' → an int."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    mult = {"k": 10**3, "m": 10**6, "g": 10**9}.get(t[-1:], 1)
    return int(float(t[:-1] if mult > 1 else t) * mult)


def _synth(args) -> int:
    t0 = time.perf_counter()
    out = Path(args.out)
    if (out / store.VERSIONS).exists() and store.current(out) != store.BASE:
        print(f"注意：{out} 已有导入版本，合成数据只重写基础版本", file=sys.stderr)
    try:
        counts = build(out, args.rows, args.seed, args.scale)
    except ValueError as e:
        print(f"生成失败：{e}", file=sys.stderr)
        return 2
    print("合成数据已生成：" + "，".join(f"{k} {v:,} 行" for k, v in counts.items())
          + f"；用时 {time.perf_counter() - t0:.1f} 秒 → {out}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("synth", help="生成省级规模的合成数据（用于性能测试）")
    p.add_argument("--rows", type=_count, required=True, help="观测行数，如 1000000、10M")
    p.add_argument("--out", required=True, help="输出目录")
    p.add_argument("--seed", type=int, default=42, help="随机种子（默认 42）")
    p.add_argument("--scale", choices=sorted(SCALES), default="province",
                   help="区划与指标规模：province（湖南规模，默认）或 small（测试用）")
    p.set_defaults(func=_synth)
