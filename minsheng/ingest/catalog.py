"""The catalogue an import file is checked against: the regions (by code, by name, as a tree), the
indicators, and where the observations are for the checks that compare with them."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from minsheng.ingest import cells
from minsheng.regions import Tree


@dataclass
class Catalog:
    regions: pd.DataFrame
    indicators: pd.DataFrame
    observations: pd.DataFrame | None = None
    observations_file: Path | None = None  # read only for the rows a check needs (large tables)
    by_code: dict = field(init=False)
    by_name: dict = field(init=False)
    ind: dict = field(init=False)

    def __post_init__(self):
        self.by_code = {r.code: r for r in self.regions.itertuples()}
        self.by_name = {}
        for r in self.regions.itertuples():
            self.by_name.setdefault(r.name, []).append(r.code)
        self.ind = {r.id: r for r in self.indicators.itertuples()}
        self.tree = Tree(self.regions)

    def describe(self, code: str) -> str:
        parent = self.tree.parent.get(code)
        return f"{code} {self.by_code[parent].name if parent else ''}{self.by_code[code].name}"

    def resolve_region(self, code_text: str | None, name_text: str | None, within: str | None) -> tuple[str | None, str | None]:
        """A region from its code, or from its name when that is unambiguous under `within`."""
        if code_text:
            code, msg = cells.normalise_code(code_text)
            if msg:
                return None, msg
            if code not in self.by_code:
                return None, f"区划代码“{code_text}”不在区划表中"
            if name_text and name_text.strip() != self.by_code[code].name:
                return None, (f"区划代码 {code_text} 是“{self.by_code[code].name}”，与区划名称“{name_text.strip()}”不符；"
                              "请核对是哪一个")
            return code, None
        if not name_text:
            return None, "缺少区划代码或区划名称"
        name = name_text.strip()
        cands = self.by_name.get(name, [])
        if within:
            cands = [c for c in cands if within in self.tree.path(c)]
        if len(cands) == 1:
            return cands[0], None
        if len(cands) > 1:
            return None, f"区划名称“{name}”不唯一，请改填区划代码。候选：" + "；".join(self.describe(c) for c in cands[:8])
        # suggestions from inside the range only: names elsewhere are not the importer's to see
        names = [n for n, codes in self.by_name.items() if not within or any(within in self.tree.path(c) for c in codes)]
        close = [c for c in difflib.get_close_matches(name, names, n=3, cutoff=0.5) if c != name]
        hint = f"。是否为：{'、'.join(close)}？" if close else ""
        scope = f"（在 {self.by_code[within].name} 范围内）" if within in self.by_code else ""
        return None, f"找不到名为“{name}”的区划{scope}{hint}"
