"""The region tree in Python: parents, children, paths and the picker's neighbourhood of a region.

Built from a regions table (code, name, level, parent_code) — the user's visible subtree on the
pages, the whole table in the importer. Which regions lie under a region at a level, within a
user's area, is a query (`queries/regions_below.sql`, over the `ancestors` closure), not a walk here.
"""

from __future__ import annotations

import pandas as pd

from minsheng import lineage
from minsheng.ingest.cells import twelve_digits

PICKER_LIMIT = 2_000  # above this many regions the picker lists the current path and its children


class Tree:
    """Regions as a tree: parent and children links, depth-first order (a province has 31,000
    regions, so pages build this once per data version and area)."""

    def __init__(self, regions: pd.DataFrame):
        codes = set(regions["code"])
        self.names: dict[str, str] = dict(zip(regions["code"].tolist(), regions["name"].tolist()))
        self.levels: dict[str, str] = dict(zip(regions["code"].tolist(), regions["level"].tolist()))
        # a parent outside the table (the province above a city, or above a user's area) is no parent here
        self.parent: dict[str, str | None] = {c: (p if isinstance(p, str) and p in codes else None)
                                              for c, p in zip(regions["code"], regions["parent_code"])}
        self.children: dict[str | None, list[str]] = {}
        for c in sorted(codes):
            self.children.setdefault(self.parent[c], []).append(c)
        self.roots = self.children.get(None, [])
        self.heirs = lineage.heirs(regions)  # successor → the region it took over from (code changes)
        ends = regions["valid_to"] if "valid_to" in regions else pd.Series(None, index=regions.index)
        self.retired: dict[str, int] = {c: pd.Timestamp(t).year for c, t in zip(regions["code"], ends) if pd.notna(t)}
        self.order: list[str] = []
        todo = list(reversed(self.roots))
        while todo:  # depth-first without recursion (villages are five levels down)
            c = todo.pop()
            self.order.append(c)
            todo.extend(reversed(self.children.get(c, [])))
        self.labels = self._labels()

    def __contains__(self, code) -> bool:
        return code in self.names

    def path(self, code: str) -> list[str]:
        """The code and its ancestors in the tree, top first (a cycle in bad data stops the walk)."""
        out = []
        while code is not None and code not in out:
            out.append(code)
            code = self.parent.get(code)
        return out[::-1]

    def ancestors(self, code: str) -> list[str]:
        """The ancestors of `code`, nearest first (not the code itself)."""
        return self.path(code)[-2::-1]

    def kids(self, code: str) -> list[str]:
        return self.children.get(code, [])

    def around(self, code: str) -> list[str]:
        """The path from the top to `code` with the children of every region on it, depth-first:
        each step of a drill-down, and what can be picked next, in a list of tens, not thousands."""
        keep = set(self.roots)
        for c in self.path(code):
            keep.add(c)
            keep.update(self.children.get(c, []))
        return [c for c in self.order if c in keep]

    def picker(self, current: str | None) -> list[str]:
        """The region picker's options: every region depth-first, or — for a province's tens of
        thousands — the neighbourhood of the current region (`around`)."""
        if len(self.order) <= PICKER_LIMIT:
            return self.order
        return self.around(current if current in self.names else self.order[0])

    def _labels(self) -> dict[str, str]:
        """A label per region that no other region of the tree shares: the name where it is unique,
        else the name with as many ancestors' names as tell it apart (红旗村（甲一镇）, 新华村（新华街道·甲县）),
        else — the whole path repeats — with its code. Streamlit keys a widget's value by its label, so
        two villages drawn alike would swap on the next rerun; the labels do not depend on which
        regions a picker happens to list, so a region keeps its label on every page."""
        # a retired code says so (株洲县（2018年停用）): beside its successor of the same name it is told apart
        labels = {c: (f"{n}（{self.retired[c]}年停用）" if c in self.retired else n) for c, n in self.names.items()}
        groups: dict[str, list[str]] = {}
        for code, name in labels.items():
            groups.setdefault(name, []).append(code)
        for name, codes in groups.items():
            if len(codes) < 2:
                continue
            up = {c: [self.names[a] for a in self.ancestors(c)] for c in codes}
            tags = {c: "" for c in codes}  # two tops of one name have no ancestors to tell them apart
            for depth in range(1, max(len(u) for u in up.values()) + 1):
                tags = {c: "·".join(u[:depth]) for c, u in up.items()}
                if len(set(tags.values())) == len(tags):
                    break
            for c in codes:
                labels[c] = f"{name}（{tags[c]}）" if tags[c] else name
        seen: dict[str, int] = {}
        for label in labels.values():
            seen[label] = seen.get(label, 0) + 1
        return {c: (f"{label} {c}" if seen[label] > 1 else label) for c, label in labels.items()}

    def find(self, text: str | None) -> str | None:
        """The region a person typed into a link: its code of any official length (430204 →
        430204000000), its label, or a name only one region has; None when none or several match."""
        text = (text or "").strip()
        if text in self.names:
            return text
        code = twelve_digits(text) if text else None
        if code in self.names:
            return code
        by_label = [c for c, label in self.labels.items() if label == text]
        by_name = [c for c, name in self.names.items() if name == text]
        match = by_label or by_name
        return match[0] if len(match) == 1 else None

    def label(self, code: str) -> str:
        """The region's name, told apart from any other region of the same name (see `_labels`)."""
        return self.labels.get(code, code)

    def indented(self, code: str) -> str:
        """The label indented by the region's depth, for the picker."""
        return "　" * (len(self.path(code)) - 1) + self.label(code)
