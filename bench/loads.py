"""Page loads in headless Chromium against a blank Streamlit page, optionally against a second checkout in
the same run: `python -m bench.loads [--rounds 5] [--against DIR] [--json OUT]`.

Each round loads, for every checkout in turn (the order alternates between rounds, so a machine that gets
busier part-way hurts both alike): the blank one-line app, each browsing page cold (a fresh browser context:
empty cache) and warm (the same page again in that context), and the switch from 总览 to 地图 in the sidebar
after 总览 has settled. A load ends when the script run is over and the page's chart, map or table is drawn
(tests/test_browser.py's definitions). Medians, and ratios to the blank page's median of the same kind.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import BLANK_APP, CHROMIUM_ARGS, StreamlitServer, find_chromium, new_page, wait_idle  # noqa: E402

PAGES = ("overview", "trend", "map", "goals", "explore")


def _drawn():
    from test_browser import DRAWN_JS, PAGES as PATHS

    return DRAWN_JS, PATHS


def _load(browser, url: str, drawn: str, warm: bool) -> float:
    ctx, page, _ = new_page(browser)
    try:
        if warm:
            page.goto(url)
            wait_idle(page, settle_ms=0)
            page.wait_for_function(drawn, timeout=60_000, polling=50)
        t0 = time.monotonic()
        page.goto(url)
        wait_idle(page, settle_ms=0)
        page.wait_for_function(drawn, timeout=60_000, polling=50)
        return time.monotonic() - t0
    finally:
        ctx.close()


def _switch(browser, base: str, drawn_js: dict) -> float:
    ctx, page, _ = new_page(browser)
    try:
        page.goto(base + "/")
        wait_idle(page)
        page.wait_for_function(drawn_js["overview"], timeout=60_000)
        page.wait_for_timeout(1500)  # a user reads the page first; low-priority prefetches finish meanwhile
        t0 = time.monotonic()
        page.locator('[data-testid="stSidebarNavLink"]', has_text="地图").click()
        page.wait_for_url(lambda u: "/map" in u)
        wait_idle(page, settle_ms=0)
        page.wait_for_function(drawn_js["map"], timeout=60_000, polling=50)
        return time.monotonic() - t0
    finally:
        ctx.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.loads", description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--against", type=Path, help="another checkout of the app (e.g. a worktree of main)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    chromium = find_chromium()
    if not chromium:
        print("找不到 Chromium（/usr/bin/chromium）", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    drawn_js, paths = _drawn()
    tmp = Path(tempfile.mkdtemp())
    env = {"MINSHENG_USERS": str(tmp / "users.json"), "MINSHENG_AUDIT": str(tmp / "audit.log")}
    (tmp / "blank.py").write_text(BLANK_APP, encoding="utf-8")
    roots = {"this": ROOT, **({"against": args.against.resolve()} if args.against else {})}
    servers = {"blank": StreamlitServer(tmp / "blank.py", ROOT, "loads-blank", env)}
    servers.update({k: StreamlitServer(r / "app.py", r, f"loads-{k}", env) for k, r in roots.items()})
    samples: dict[str, list[float]] = {}
    try:
        for s in servers.values():
            s.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            for k in roots:  # warm the servers' caches; not counted
                _load(browser, servers[k].url + paths["map"], drawn_js["map"], False)
            _load(browser, servers["blank"].url, drawn_js["blank"], False)
            for i in range(args.rounds):
                for warm in (False, True):
                    samples.setdefault(f"blank {'warm' if warm else 'cold'}", []).append(
                        _load(browser, servers["blank"].url, drawn_js["blank"], warm))
                for k in (list(roots) if i % 2 == 0 else list(reversed(roots))):
                    for name in PAGES:
                        for warm in (False, True):
                            samples.setdefault(f"{k} {name} {'warm' if warm else 'cold'}", []).append(
                                _load(browser, servers[k].url + paths[name], drawn_js[name], warm))
                    samples.setdefault(f"{k} switch→map", []).append(_switch(browser, servers[k].url, drawn_js))
            browser.close()
    finally:
        for s in servers.values():
            s.stop()
    blank = {kind: statistics.median(samples[f"blank {kind}"]) for kind in ("cold", "warm")}
    report = {}
    for key, v in samples.items():
        m = statistics.median(v)
        kind = "warm" if key.endswith("warm") else "cold"
        report[key] = {"median_ms": round(1000 * m), "x_blank": round(m / blank[kind], 2),
                       "ms": [round(1000 * x) for x in v]}
        print(f"{key:26s} {1000 * m:6.0f} ms  {m / blank[kind]:4.2f}× blank  {report[key]['ms']}")
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
