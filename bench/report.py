"""The benchmark's report as plain text: the query table, memory, page runs and sessions."""

from __future__ import annotations

import math

from minsheng import fmt


def _num(x, digits: int = 0) -> str:
    """A number with thousands separators, or — when there is none (None, NaN)."""
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def render(report: dict) -> str:
    """The report as a plain-text table."""
    if "queries" not in report:  # --only-sessions
        return "\n".join([*(render_sessions(report["sessions"]) if report.get("sessions") else []),
                          *render_replicas(report.get("replicas", [])), *render_imports(report.get("imports"))])
    head = ("查询", "输出行", "本实现冷", "p50", "p95", "pandas冷", "p50", "p95", "倍数", "一致")
    times = ("rows_out", "cold_ms", "p50_ms", "p95_ms", "baseline_cold_ms", "baseline_p50_ms", "baseline_p95_ms")
    rows = [head] + [(r["name"], *(_num(r[k]) for k in times), _num(r["ratio"], 1),
                      {True: "是", False: "否", None: "—"}[r["agree"]]) for r in report["queries"]]
    lines = [f"观测 {report['rows']:,} 行 · {report['data']} · 重复 {report['repeat']} 次 · 时间单位 ms（倍数 = pandas p50 / 本实现 p50）"]
    lines += fmt.text_table(rows, right=tuple(range(1, len(head)))).splitlines()
    lines.append(f"峰值内存：本实现 {_num(report['peak_rss_mb'])} MB；pandas {_num(report['baseline_peak_rss_mb'])} MB"
                 f"（估计 {_num(report['baseline_estimate_mb'])} MB，载入 {_num(report['baseline_load_ms'])} ms）"
                 + (f"；页面进程 {_num(report['pages_peak_rss_mb'])} MB" if report.get("pages_peak_rss_mb") else ""))
    if report["baseline_note"]:
        lines.append(f"pandas 基线{report['baseline_note']}")
    if any("ch_p50_ms" in r for r in report["queries"]):
        lines += render_engines(report["queries"])
    for r in report["queries"]:
        if r["agree"] is False:
            lines.append(f"不一致 {r['name']}：{r['difference']}")
    if report["page_run_ms"]:
        runs = report["page_run_ms"]
        lines.append("页面运行（AppTest）：" + "，".join(f"{k} {v:,.0f} ms" for k, v in runs.items()))
        if runs.get("map_rerun") and runs.get("overview_rerun"):
            lines.append(f"地图重算 / 总览重算：{runs['map_rerun'] / runs['overview_rerun']:.2f} 倍"
                         + (f"；地图 deck JSON {report['map_deck_kb']:,.1f} KB" if report.get("map_deck_kb") else ""))
    lines += [f"页面错误：{e}" for e in report["page_errors"]]
    if report.get("sessions"):
        lines += render_sessions(report["sessions"])
    return "\n".join(lines + render_replicas(report.get("replicas", [])) + render_imports(report.get("imports")))


def render_imports(r: dict | None) -> list[str]:
    """--imports: each month's returns through the importer (read and check, commit), then the compaction."""
    if not r:
        return []
    lines = [f"导入一个月的报表（{r['base_rows']:,} 行的观测表，硬链接副本，子进程）："]
    for i, m in enumerate(r["months"], 1):
        lines.append(f"  第 {i} 个月 {m['rows']:,} 行（新增 {m['added']:,}，修改 {m['changed']:,}）：读取与检查 "
                     f"{m['prepare_s']:.1f} s，提交（含汇总）{m['commit_s']:.1f} s，共 {m['total_s']:.1f} s"
                     f"（进程 {m['wall_s']:.1f} s），峰值内存 {_num(m['peak_mb'])} MB")
    c = r["compact"]
    lines.append(f"  合并增量（compact）：{c['compact_s']:.1f} s，峰值内存 {_num(c['peak_mb'])} MB；"
                 f"合并后观测 {r['rows_after']:,} 行")
    return lines


def render_engines(queries: list[dict]) -> list[str]:
    """--engine both: each query's times on DuckDB and ClickHouse side by side, and their ratio."""
    first = queries[0]
    head = ("查询", "DuckDB冷", "p50", "p95", "ClickHouse冷", "p50", "p95", "CH/DuckDB", "一致")
    rows = [head] + [(r["name"], *(_num(r[k]) for k in ("cold_ms", "p50_ms", "p95_ms", "ch_cold_ms", "ch_p50_ms",
                                                       "ch_p95_ms")),
                      _num(r["ch_ratio"], 1), {True: "是", False: "否"}[r["ch_agree"]]) for r in queries]
    lines = [f"两个引擎（ClickHouse：{first['ch_where']}，发布用时 {_num(first['ch_publish_ms'])} ms；"
             "CH/DuckDB = ClickHouse p50 / DuckDB p50）"]
    lines += fmt.text_table(rows, right=tuple(range(1, len(head)))).splitlines()
    return lines + [f"两个引擎不一致 {r['name']}：{r['ch_difference']}" for r in queries if r["ch_agree"] is False]


def render_sessions(s: dict) -> list[str]:
    """The `sessions` part of the report, a line for the whole and one per page, then the errors."""
    lines = [f"并发会话（真实服务，{s['driver']}）：{s['n']} 个会话 × {s['duration_s']:,.0f} s，"
             f"页面运行 {s['runs']:,} 次，错误 {s['errors']}，p50 {_num(s['p50_ms'])} ms，p95 {_num(s['p95_ms'])} ms，"
             f"服务峰值内存 {_num(s['peak_rss_mb'])} MB；驱动端 CPU {s['client_cpu_s']:.1f} s / {s['wall_s']:.0f} s",
             f"  服务端：每秒完成 {s['runs_per_s']:.2f} 次页面运行（{s['cores']} 核），负载下每次运行 CPU {_num(s['cpu_ms_per_run'])} ms；"
             f"单个用户独占时每次运行 CPU（{s['alone_rounds']} 轮，均值 / p50）：" + "，".join(
                 f"{k} {_num(v['cpu_ms_mean'])} / {_num(v['cpu_ms_p50'])} ms" for k, v in s["pages"].items()),
             "  按页面（运行次数，其中画出数据的次数）：" + "，".join(
                 f"{k} {v['runs']}（{v['drawn']}）次 p50 {_num(v['p50_ms'])} / p95 {_num(v['p95_ms'])} ms"
                 for k, v in s["pages"].items())]
    return lines + [f"  会话错误：{e}" for e in s["error_samples"]]


def render_replicas(rows: list[dict]) -> list[str]:
    """--replicas: a line per number of replicas behind nginx (same sessions, same run), then their errors."""
    if not rows:
        return []
    lines = [f"经 nginx 的副本（{rows[0]['n']} 个会话 × {rows[0]['duration_s']:,.0f} s，同一次运行先后测量）：",
             "| 副本 | 页面运行 | 每秒 | 每核每秒 | p50 ms | p95 ms | 错误 | 副本内存合计 MB |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['replicas']} | {r['runs']:,} | {r['runs_per_s']:.2f} | {r['runs_per_s_per_core']:.2f} | "
              f"{_num(r['p50_ms'])} | {_num(r['p95_ms'])} | {r['errors']} | {_num(r['peak_rss_mb'])} |" for r in rows]
    return lines + [f"  {r['replicas']} 个副本的会话错误：{e}" for r in rows for e in r["error_samples"]]
