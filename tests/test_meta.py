"""Keep the registries honest: every query is used, every page is navigable, every indicator has a unit."""

import ast
import re

from conftest import ROOT
from minsheng import repo
from minsheng.ui import pages


def test_every_query_file_is_used():
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "minsheng").rglob("*.py"))
    for sql in (ROOT / "queries").glob("*.sql"):
        assert re.search(rf'["\']{sql.stem}["\']', code), f"queries/{sql.name} is never run"


def test_every_page_script_is_registered_and_every_entry_exists():
    registered = {p.script for p in pages.ALL}
    scripts = {f"views/{p.name}" for p in (ROOT / "views").glob("*.py")}
    assert scripts == registered, f"not registered: {scripts - registered}; missing: {registered - scripts}"
    assert len({p.key for p in pages.PAGES}) == len({p.url for p in pages.PAGES}) == len(pages.PAGES)
    assert [p.url for p in pages.PAGES].count("") == 1 and pages.DEFAULT.url == ""


def test_no_pages_folder_beside_the_router():
    # A folder named pages/ beside dashboard.py puts Streamlit 1.67 in its v1 multipage mode: a deep
    # link then runs the page script without the router (no sign-in gate, no shared filters).
    assert not (ROOT / "pages").exists(), "page scripts belong in views/, not pages/"
    assert '"pages"' not in (ROOT / "dashboard.py").read_text(encoding="utf-8")


def test_the_router_reads_the_registry():
    router = (ROOT / "dashboard.py").read_text(encoding="utf-8")
    assert "pages.PAGES" in router and not re.search(r'st\.Page\(\s*["\']', router), "page list written by hand"


def _first_calls(tree: ast.Module) -> dict[str, int]:
    """The line of the first call to each plain function name in a page's top-level script."""
    first: dict[str, int] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
            continue
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                first.setdefault(node.func.id, node.lineno)
    return first


def test_every_page_reads_inputs_then_data_then_renders():
    for page in pages.PAGES:
        path = ROOT / page.script
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{page.script} has no docstring"
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert {"inputs", "load", "render"} <= defined, f"{page.script} lacks inputs()/load()/render()"
        first = _first_calls(tree)
        assert first.get("inputs", 0) < first.get("load", 0) < first.get("render", 0), \
            f"{page.script}: the script must call inputs(), then load(), then render() ({first})"


def test_pages_stay_small_and_above_the_cache_edge():
    # A page reads inputs, asks ui/data (the cache edge) and draws; storage and SQL live below.
    below = re.compile(r"^\s*(from minsheng import .*\b(repo|db|store|rollup|observations|files)\b|"
                       r"from minsheng\.(repo|db|store|rollup)|import (duckdb|pyarrow))", re.M)
    for page in pages.ALL:
        text = (ROOT / page.script).read_text(encoding="utf-8")
        assert not below.search(text), f"{page.script} reaches below the cache edge: {below.search(text)[0]}"
        assert len(text.splitlines()) <= 170, f"{page.script} has {len(text.splitlines())} lines (about 150 at most)"


# Functions allowed to run SQL text that is not a literal, and why each is safe.
COMPOSED_SQL = {
    ("db.py", "_ddl"): "DDL on a version's schema (checked name) over its own file paths, quoted by layers.quoted",
    ("observations.py", "connect"): "the layered view of layers.relation_sql: quoted paths, checked column names",
    ("observations.py", "write_delta"): "layers.merged_delta_sql: quoted paths, checked column and table names",
    ("rollup.py", "_run"): "templates filled only with pieces checked against rollup's allow-lists",
    ("rollup.py", "check"): "the invariant queries of rollup.CHECKS, module constants made of literals",
    ("clickhouse.py", "_ddl"): "DDL on a published version's database (checked name), tables from TABLES, "
                               "columns from DuckDB's Parquet schema, values quoted by _literal",
    ("clickhouse.py", "arrow"): "chDB's or a server's runner: given load_sql's transpiled queries/ files and "
                                "the module's constants (its callers are checked here too)",
    ("clickhouse.py", "command"): "chDB's or a server's runner: given _ddl's statements and module constants",
}
RUNS_SQL = {"execute", "executemany", "sql", "query", "arrow", "command", "query_arrow"}  # DuckDB, chDB, ClickHouse


def _sql_calls():
    for folder in ("minsheng", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
                for node in ast.walk(fn):
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                            and node.func.attr in RUNS_SQL and node.args:
                        yield path, fn.name, node.args[0]


def _static(node) -> bool:
    """SQL text fixed when the code is written: literals, queries/ files, module constants
    (UPPER_CASE, e.g. a sort order), and `+` or `a if c else b` of those."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Name):
        return node.id.isupper()
    if isinstance(node, ast.IfExp):
        return _static(node.body) and _static(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _static(node.left) and _static(node.right)
    if isinstance(node, ast.Call):
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        return name == "load_sql" or (name == "join" and _static(node.func.value) and all(map(_static, node.args)))
    return False


def test_sql_text_is_a_literal_a_query_file_or_an_allow_listed_builder():
    seen = set()
    for path, fn, arg in _sql_calls():
        assert not any(isinstance(n, ast.JoinedStr) for n in ast.walk(arg)), f"{path.name}:{arg.lineno} f-string SQL"
        if _static(arg):
            continue
        assert (path.name, fn) in COMPOSED_SQL, f"{path.relative_to(ROOT)}:{arg.lineno} in {fn}() runs composed SQL"
        seen.add((path.name, fn))
    assert seen == set(COMPOSED_SQL), f"allow-list entries no longer needed: {set(COMPOSED_SQL) - seen}"


def test_every_indicator_has_unit_kind_and_frequency():
    ind = repo.indicators()
    assert ind["unit"].str.len().min() > 0
    assert set(ind["kind"]) <= {"count", "amount", "rate", "standard"}
    assert set(ind["frequency"]) <= {"year", "quarter", "month"}
    assert set(ind["report_level"]) <= {"city", "county", "township", "village"}


def test_no_phone_home_in_config():
    cfg = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert "gatherUsageStats = false" in cfg


def _imports(path) -> tuple[set[str], list[int]]:
    """The minsheng modules a file imports at its top level, and the lines of imports inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top, nested = set(), []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [f"{node.module}.{a.name}" for a in node.names] + [node.module or ""]
        mods = {n for n in names if n.startswith("minsheng")}
        if node in tree.body:
            top |= mods
        elif mods:
            nested.append(node.lineno)
    return top, nested


def test_no_import_circle_in_the_ui_layer():
    ui = {p.stem: p for p in (ROOT / "minsheng" / "ui").glob("*.py") if p.stem != "__init__"}
    graph = {}
    for name, path in ui.items():
        top, nested = _imports(path)
        assert not nested, f"minsheng/ui/{name}.py imports inside functions (lines {nested})"
        graph[name] = {m.split(".")[2] for m in top if m.startswith("minsheng.ui.") and m.split(".")[2] in ui}

    def visit(node, trail):
        assert node not in trail, "import circle: " + " → ".join([*trail, node])
        for nxt in graph[node]:
            visit(nxt, [*trail, node])

    for name in graph:
        visit(name, [])


def test_no_magic_draws_a_value_on_a_page():
    """A line that is only an expression is drawn by Streamlit's "magic" (once the whole Selection of
    a run, with its area and data version, showed above every page): magic is off, and no page draws
    a docstring-and-attributes panel."""
    cfg = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert "magicEnabled = false" in cfg
    from streamlit.testing.v1 import AppTest

    from minsheng.ui import pages

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    for page in pages.PAGES:
        at.switch_page(page.script).run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.get("help"), page.key


def test_no_full_collection_after_each_run_and_the_imports_frozen():
    """Streamlit's post-run gc.collect(2) walked every long-lived object after each page run, half a warm
    server's CPU (README "Performance"): it is off, and the server freezes what its imports made."""
    import gc
    import subprocess
    import sys

    cfg = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert "postScriptGC = false" in cfg and 'fileWatcherType = "none"' in cfg
    code = ("import gc, sys; from minsheng import web; n = web.freeze_imports(); "
            "print(n, gc.get_freeze_count(), int('minsheng.ui.frame' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    n, count, pages_imported = map(int, out.stdout.split()[-3:])
    assert n > 50_000 and count >= n - 10 and pages_imported, out.stderr[-500:]
    assert gc.isenabled()
