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
    registered = {p.script for p in pages.PAGES}
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


def test_every_page_reads_inputs_then_data_then_renders():
    for page in (ROOT / "views").glob("*.py"):
        tree = ast.parse(page.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{page.name} has no docstring"
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert "inputs" in names, f"{page.name} has no inputs() function"


def test_no_sql_is_built_from_strings_in_python():
    for p in (ROOT / "minsheng").rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        assert not re.search(r"\b(execute|sql)\(\s*f[\"']", text), p


def test_every_indicator_has_unit_kind_and_frequency():
    ind = repo.indicators()
    assert ind["unit"].str.len().min() > 0
    assert set(ind["kind"]) <= {"count", "amount", "rate", "standard"}
    assert set(ind["frequency"]) <= {"year", "quarter", "month"}
    assert set(ind["report_level"]) <= {"city", "county", "township", "village"}


def test_no_phone_home_in_config():
    cfg = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert "gatherUsageStats = false" in cfg
