"""The shapes official division lists (统计用区划代码) come in, and the changes they make to regions held.

A list of one city starts at the city: its digits name a province the deployment may not hold. Some
town lists write each code over two columns (430202 | 001000); read as one, every town would land on
its county and rename it. A list that renames a region, or moves it to another level or parent, does
what a new list of that year should, or what a mistyped code would: the clerk confirms each one.
A name that says its level (…街道, …村) on a code of another level is a truncated or split code.
"""

from __future__ import annotations

import dataclasses
import re

import pandas as pd

from minsheng import vocab
from minsheng.ingest import cells, contract
from minsheng.ingest.problems import Problem, error, warning
from minsheng.ingest.readers import Sheet

CODE_COLUMN = {"regions": "code", "observations": "region_code", "targets": "region_code"}
CODE_WORDS = ("代码", "编码", "code")
NOT_A_CODE = ("分类", "类别", "类型", "序号", "编号")  # 城乡分类代码 111 and a row's 编号 are no part of a code
SEGMENTS = {2: (4, 6, 9, 12), 4: (6, 9, 12), 6: (9, 12), 9: (12,)}  # a first part's length → the lengths it joins up to
# Name endings that say the level outright. 区, 市 and 管理区 do not (县级市, 开发区, 屈原管理区 are of several levels),
# nor do 管理处, 农场 or 林场 (township-level units of development zones and state farms).
NAMED = (("township", ("街道", "街道办事处", "镇", "乡")),
         ("village", ("村", "社区", "居委会", "村委会", "居民委员会", "村民委员会")))


def grade(level: str) -> str:
    return vocab.LEVELS[level].grade if level in vocab.LEVELS else level


def level_by_name(name: str | None) -> str | None:
    """The level a region's name says it has (月塘街道 a township, 龙泉村 a village); None when it does not say."""
    name = (name or "").strip()
    return next((level for level, endings in NAMED if name.endswith(endings)), None)


def inferred_parent(code: str, known) -> str | None:
    """The parent a code names in its digits, except a city's province that is not a region (held or in the
    file, `known`): an official list of one city starts at the city, which is then the top."""
    up = cells.parent_of_code(code)
    return None if cells.level_of_code(code) == "city" and up not in known else up


def level_conflict(code: str, name: str | None, held) -> str | None:
    """Why a row without a 级别 cell cannot be the region its code names: its name says another level.
    `held`: the region already at that code (None for a new one)."""
    said, structure = level_by_name(name), cells.level_of_code(code)
    if said is None or said == structure:
        return None
    if held is not None and held.name != name:
        return (f"区划代码 {code} 是已有的{grade(held.level)}区划“{held.name}”，而“{name}”是{grade(said)}的名称："
                "代码是否被截断，或分在了两列？请核对区划代码")
    return (f"“{name}”是{grade(said)}的名称，而区划代码 {code} 按结构是{grade(structure)}：代码是否被截断，"
            f"或分在了两列？如级别确为{grade(structure)}，请在“级别”列写明")


# --- a code written over two columns -----------------------------------------------------------------

def _digits(text: str | None) -> str | None:
    t = re.sub(r"\s", "", (text or "").translate(cells.FULL_WIDTH))
    return t if re.fullmatch(r"\d+", t, re.ASCII) else None


def _code_like(header: str) -> bool:
    h = cells.norm_header(header)
    return any(w in h for w in CODE_WORDS) and not any(w in h for w in NOT_A_CODE)


@dataclasses.dataclass
class _Split:
    """How one column after the code column reads as the code's second part, row by row."""
    at: int
    joined: dict[int, str] = dataclasses.field(default_factory=dict)   # row index → the whole code
    misfit: tuple[int, str, str] | None = None                          # (row no, first part, second part)


def _split(sheet: Sheet, first: int, second: int) -> _Split:
    out = _Split(second)
    for k, r in enumerate(sheet.rows):
        a, b = (r[i] if i < len(r) else None for i in (first, second))
        if b is None:
            continue  # a row without a second part (the county itself in a town list) keeps its code
        da, db = _digits(a), _digits(b)
        if da and db and len(da) + len(db) in SEGMENTS.get(len(da), ()):
            out.joined[k] = da + db
        elif out.misfit is None:
            out.misfit = (sheet.first_row + k, a or "", b)
    return out


def split_codes(sheet: Sheet, kind: str) -> tuple[Sheet, list[Problem]]:
    """The sheet with a code written over two columns (430202 | 001000) read as one (430202001000).

    They are joined only when every row with a second part joins into a code of an official length: a
    warning says so, with an example, and the import waits for the clerk to confirm it. A column that
    joins on some rows but not on others is refused, naming both columns, rather than guessed at."""
    cols = contract.map_headers(sheet.header, kind)
    first = cols.get(CODE_COLUMN.get(kind, ""))
    if first is None:
        return sheet, []
    mapped = set(cols.values())
    splits = [s for j, h in enumerate(sheet.header) if j > first and j not in mapped and h and _code_like(h)
              for s in [_split(sheet, first, j)] if s.joined]
    if not splits:
        return sheet, []
    head = [cells.shown(h or "") for h in sheet.header]  # headers are the file's text: quoted, nothing hidden
    at = dict(sheet=sheet.name, row=sheet.first_row - 1, column=sheet.header[first])
    if len(splits) > 1:
        names = "、".join(f"“{head[s.at]}”" for s in splits)
        return sheet, [error(sheet.file, f"“{head[first]}”之后的{names}都能与它拼成区划代码，无法判断是哪一列："
                             "请把区划代码合并为一列后重新导入", **at)]
    s = splits[0]
    e = min(s.joined)
    example = f"第 {sheet.first_row + e} 行：{cells.shown(sheet.rows[e][first])} + {cells.shown(sheet.rows[e][s.at])}"
    if s.misfit:
        no, a, b = s.misfit
        return sheet, [error(sheet.file, f"“{head[first]}”和“{head[s.at]}”两列像是把区划代码分成了两段（{example}），"
                             f"但第 {no} 行的“{cells.shown(a)}”和“{cells.shown(b)}”拼不成 {cells.CODE_SPELLED}代码："
                             "请把区划代码合并为一列完整的代码（按文本填写）后重新导入", **at)]
    rows = [r[:first] + [s.joined[k]] + r[first + 1:] if k in s.joined else r for k, r in enumerate(sheet.rows)]
    said = warning(sheet.file, f"区划代码分写在“{head[first]}”和“{head[s.at]}”两列（{example}），已拼接为一个代码"
                   f"（{s.joined[e]}），共 {len(s.joined)} 行：请核实后确认导入", **at)
    return dataclasses.replace(sheet, rows=rows), [said]


# --- what an import changes in the regions held ---------------------------------------------------------

def region_changes(file: str, df: pd.DataFrame, held: pd.DataFrame, header: dict[str, str]) -> list[Problem]:
    """A warning for each region held that the file renames, moves to another level or parent: old → new,
    at the file's row. `header`: the file's header for each column it has (contract names)."""
    known = set(held["code"]) | set(df["code"])
    was_named = dict(zip(held["code"], held["name"]))
    named = {**was_named, **dict(zip(df["code"], df["name"]))}  # a parent renamed in the same file: its new name

    def up(code) -> str | None:
        return code if isinstance(code, str) and code in known else None  # a parent held nowhere: the top

    def who(code, names: dict) -> str:
        return f"{code} {names.get(code) or named[code]}" if code else "（无，为最高级）"

    out = []
    both = df.merge(held[["code", "name", "level", "parent_code"]], on="code", suffixes=("", "_was"))
    for r in both.to_dict("records"):  # (one merge: a province's list holds 31,000 regions)
        absent = set(str(r.get("_absent") or "").split())
        said = []
        if r["name"] != r["name_was"]:
            said.append(("name", f"名称“{r['name_was']}”→“{r['name']}”"))
        if "level" not in absent and r["level"] != r["level_was"]:
            said.append(("level", f"级别 {vocab.LEVELS.label(r['level_was'])} → {vocab.LEVELS.label(r['level'])}"))
        if "parent_code" not in absent and up(r["parent_code"]) != up(r["parent_code_was"]):
            said.append(("parent_code", f"上级 {who(up(r['parent_code_was']), was_named)} → "
                                        f"{who(up(r['parent_code']), named)}"))
        if said:
            out.append(warning(file, f"将修改已有区划 {r['code']}：{'；'.join(s for _, s in said)}。"
                               "请核实代码无误后确认导入", sheet=r.get("_sheet"), row=r.get("_row"),
                               column=header.get(said[0][0], header.get("code"))))
    return out
