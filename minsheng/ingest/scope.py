"""Whose import it is: the importer's area, which rows of a file it may change, and the part of the
region tree a version changed (its `scope`, recorded in the version's history record).

An admin of a county imports only for that county; the server's operator (`python -m minsheng
import` without --area) and an admin of the whole tree import for all of it. Per kind of file:

  observations, targets  the row's region is the area or below it
  regions                the row's code and its (new) parent are inside the area, and the row is not
                         the area's own: the area's name, level, parent and place belong to the level
                         above it (the city's tree, shown to every county), so only a city-wide admin
                         changes them; a county admin adds and renames townships and villages under it
  indicators             the catalogue is shared by every area: city-wide admins only
  boundaries             every feature's region is inside the area

A version's scope is the path (top first) of the smallest region whose subtree holds every change:
[] for a change to the whole tree (the catalogue, a root region), absent in versions written before
scopes were recorded — both city-wide. A user sees a version, and may undo it, when their area is
on its scope's path; rolling back to a version undoes every version after it, so each of those must be.
"""

from __future__ import annotations

import pandas as pd

from minsheng.ingest import contract
from minsheng.ingest.problems import ERROR, Problem, error
from minsheng.regions import Tree


class Area:
    """The importer's area in the region tree; `code` None: the whole tree (the server's operator)."""

    def __init__(self, tree: Tree, code: str | None):
        self.tree, self.code = tree, code

    @property
    def city_wide(self) -> bool:
        # the one root of the tree; a broken tree with several roots makes no area city-wide
        return self.code is None or self.tree.roots == [self.code]

    @property
    def refusal(self) -> str | None:
        """Why nothing may be imported in this area (an empty or unknown code: fail closed), or None."""
        if self.code is None or self.code in self.tree:
            return None
        return f"您的账号没有有效的管辖范围（区划代码“{self.code}”不在区划表中），不能导入或回退；请联系管理员"

    @property
    def name(self) -> str:
        return "全部区划" if self.code is None else self.tree.names.get(self.code, self.code)

    def holds(self, code) -> bool:
        """Whether an existing region is the area or below it."""
        return self.city_wide or (code in self.tree and self.code in self.tree.path(code))

    def sees(self, scope: list[str] | None) -> bool:
        """Whether every change of a version with this scope lies inside the area."""
        return self.city_wide or (self.refusal is None and isinstance(scope, list) and self.code in scope)

    def outside(self, code) -> str:
        name = self.tree.names.get(code)
        return f"{code}（{name}）" if name else str(code)


# --- the rows a file may hold -------------------------------------------------------------------

def _headers(sheets, kind: str) -> dict[str, dict[str, str]]:
    """{sheet: {column: the header the clerk wrote}}, to name the column of a problem."""
    return {s.name: {c: s.header[i] for c, i in contract.map_headers(s.header, kind).items()}
            for s in sheets if s.header}


# shared by the whole deployment, no region of their own: (what it is, what its file is called)
CATALOGUES = {"indicators": ("指标目录", "指标"), "forms": ("报表目录", "报表")}


def confine(kind: str, rows: pd.DataFrame, problems: list[Problem], area: Area, file: str, sheets
            ) -> tuple[pd.DataFrame, list[Problem]]:
    """The rows inside the area, and the problems with an error for each row outside it. Warnings
    on a row outside (a year-on-year warning quotes the stored value) are dropped with the row, so
    nothing of another area reaches the preview."""
    if area.city_wide:
        return rows, problems
    if kind in CATALOGUES:
        what, short = CATALOGUES[kind]
        return rows.iloc[0:0], [p for p in problems if p.level == ERROR] + [error(
            file, f"{what}由全市共用，只有全市管理员可以导入；您的管辖范围是{area.name}，不能导入{short}文件")]
    if rows.empty:
        return rows, problems
    headers = _headers(sheets, kind)
    found = _regions(rows, area) if kind == "regions" else _regional(rows, area)
    out = {(sheet, row) for sheet, row, _, _ in found}
    kept = [p for p in problems if p.level == ERROR or (p.sheet, p.row) not in out]
    added = [error(file, message, sheet=sheet, row=row,
                   column=next((headers.get(sheet, {}).get(c) for c in columns if headers.get(sheet, {}).get(c)), None))
             for sheet, row, columns, message in found]
    inside = [(s, r) not in out for s, r in zip(rows["_sheet"], rows["_row"])]
    return rows[inside].reset_index(drop=True), kept + added


def _regional(rows: pd.DataFrame, area: Area) -> list[tuple]:
    """Observations and targets: (sheet, row, columns, message) for each row whose region is outside."""
    found, seen = [], set()
    for sheet, row, code in zip(rows["_sheet"], rows["_row"], rows["region_code"]):
        if not area.holds(code) and (sheet, row) not in seen:  # a wide table's row: one error, not one per period
            seen.add((sheet, row))
            found.append((sheet, row, ("region_code", "region_name"),
                          f"第 {row} 行 region_code {area.outside(code)} 不在您的管辖范围（{area.name}）内"))
    return found


def _parents(rows: pd.DataFrame, tree: Tree) -> dict:
    """The tree's parent links with the file's applied: where each region would sit after the import."""
    return {**tree.parent, **dict(zip(rows["code"], rows["parent_code"]))}


def _path(code, parents: dict) -> list[str]:
    """The code and its ancestors under `parents`, top first (stops at a cycle)."""
    out = []
    while isinstance(code, str) and code and code not in out:
        out.append(code)
        code = parents.get(code)
    return out[::-1]


def _regions(rows: pd.DataFrame, area: Area) -> list[tuple]:
    """Regions: (sheet, row, columns, message) for the area's own row, a region outside the area, or
    a parent outside it (a re-parenting out of the area, or into it from another)."""
    parents, found = _parents(rows, area.tree), []
    for sheet, row, code, parent in zip(rows["_sheet"], rows["_row"], rows["code"], rows["parent_code"]):
        if code == area.code:
            message = (f"第 {row} 行是您的管辖范围（{area.name}）本身：它的名称、级别、上级和坐标属于上级区划，"
                       "只能由全市管理员修改；请从文件中删去这一行")
            found.append((sheet, row, ("code",), message))
        elif code in area.tree and not area.holds(code):
            message = f"第 {row} 行区划 {area.outside(code)} 不在您的管辖范围（{area.name}）内"
            found.append((sheet, row, ("code",), message))
        elif area.code not in _path(parent, parents):
            message = (f"第 {row} 行的上级代码 {area.outside(parent)} 不在您的管辖范围（{area.name}）内："
                       "只能在本辖区内新增或调整区划")
            found.append((sheet, row, ("parent_code", "code"), message))
    return found


def boundaries(levels: dict[str, dict], area: Area, file: str) -> list[Problem]:
    """An error for each boundary feature whose region is outside the area."""
    if area.refusal:
        return [error(file, area.refusal)]
    codes = [f["properties"].get("code") for fc in levels.values() for f in fc["features"]]
    own = [] if area.city_wide or area.code not in codes else [
        error(file, f"边界 {area.name} 是您的管辖范围本身：它的轮廓属于上级区划图，只有全市管理员可以修改")]
    return own + [error(file, f"边界 {area.outside(c)} 不在您的管辖范围（{area.name}）内")
                  for c in codes if not area.holds(c)]


# --- what a version changed -----------------------------------------------------------------------

def common(paths) -> list[str]:
    """The longest path all `paths` start with: the smallest region holding them all ([] for none in common)."""
    paths = list(paths)
    if not paths or any(p is None for p in paths):
        return []
    out = []
    for step in zip(*paths):
        if any(s != step[0] for s in step):
            break
        out.append(step[0])
    return out


def touched(kind: str, rows: pd.DataFrame, tree: Tree) -> list[str]:
    """The scope of an import of `rows`: the path of the smallest region holding every change. A
    region row changes its parent's subtree — the old parent's and the new one's."""
    if kind in CATALOGUES or rows.empty:
        return []
    if kind == "regions":
        parents = _parents(rows, tree)
        paths = [_path(p, parents) for p in rows["parent_code"]]
        paths += [tree.path(tree.parent[c]) if tree.parent.get(c) else [] for c in rows["code"] if c in tree]
    else:
        paths = [tree.path(c) for c in set(rows["region_code"])]
    return common(paths)


def of_codes(codes, tree: Tree) -> list[str]:
    """The scope of a change to these regions (boundary features)."""
    return common(tree.path(c) if c in tree else [] for c in set(codes))
