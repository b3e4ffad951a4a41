"""Keep the registries honest: every query is used, every page is navigable, every indicator has a unit."""

import ast
import re

from conftest import ROOT
from minsheng import repo


def test_every_query_file_is_used():
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "minsheng").rglob("*.py"))
    for sql in (ROOT / "queries").glob("*.sql"):
        assert re.search(rf'["\']{sql.stem}["\']', code), f"queries/{sql.name} is never run"


def test_every_page_is_in_the_router():
    router = (ROOT / "dashboard.py").read_text(encoding="utf-8")
    for page in (ROOT / "views").glob("*.py"):
        assert f'"views/{page.name}"' in router, f"{page.name} is not navigable"


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
