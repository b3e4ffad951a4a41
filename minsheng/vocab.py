"""The closed vocabularies of the data contract, each term once: what is stored, what the UI shows,
what the import template offers and the other words clerks write for it.

Levels, indicator kinds, frequencies, statuses and yes/no are read by the importer (`parse`), written
by the template (`offered`), and shown by the pages and the exports (`label`). The kinds of file an
import takes (`FILES`) are a vocabulary of their own: an indicator's kind (`KINDS`, how it adds up)
and a file's kind (what table it fills) are different things and never share a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator


@dataclass(frozen=True)
class Term:
    code: Any                       # as stored in the tables
    label: str                      # as the UI and the exports show it
    written: str = ""               # as the import template offers it (the label if empty)
    note: str = ""                  # what it means, beside it in the template's 代码表
    aliases: tuple[str, ...] = ()   # other words clerks write (the code, label and written form count too)
    offered: bool = True            # listed in the template's drop-down
    grade: str = ""                 # levels only: the rank as a sentence says it (县级, 乡镇级)
    plural: str = ""                # levels only: the word for several of them (区县), if not the label

    @property
    def form(self) -> str:
        return self.written or self.label

    @property
    def group(self) -> str:
        """What a map or a list of them is called: 按区县, 各乡镇（街道）."""
        return self.plural or self.label


class Vocabulary:
    """An ordered set of terms, looked up by code or parsed from what a clerk wrote."""

    def __init__(self, name: str, terms: tuple[Term, ...]):
        self.name = name
        self.terms = terms
        self._by_code = {t.code: t for t in terms}
        self._words: dict[str, Any] = {}
        for t in terms:
            for word in (str(t.code), t.label, t.form, *t.aliases):
                self._words.setdefault(word.strip().lower(), t.code)

    @property
    def codes(self) -> tuple:
        return tuple(self._by_code)

    @property
    def labels(self) -> dict:
        """code → label, for mapping a whole column at once."""
        return {t.code: t.label for t in self.terms}

    def __contains__(self, code) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Term]:
        return iter(self.terms)

    def __getitem__(self, code) -> Term:
        return self._by_code[code]

    def label(self, code) -> str:
        """The UI's word for `code`; the code itself when it is not a term (shown, never hidden)."""
        t = self._by_code.get(code)
        return t.label if t else str(code)

    def parse(self, text: str | None):
        """The code a clerk meant, from any of the term's words (case and spaces ignored); None if none."""
        if text is None:
            return None
        return self._words.get(str(text).strip().lower())

    def offered(self) -> list[tuple[str, str]]:
        """(written form, note) of every term the template lists."""
        return [(t.form, t.note) for t in self.terms if t.offered]

    def spelled(self) -> str:
        """The written forms the template offers, for a message: 市/县/乡镇/村."""
        return "/".join(t.form for t in self.terms if t.offered)


LEVELS = Vocabulary("级别", (
    Term("province", "省", grade="省级", offered=False),
    Term("city", "市", note="地级市", aliases=("地级", "地市"), grade="市级"),
    Term("county", "县（市、区）", "县", "县、县级市、区", aliases=("区县", "县级"), grade="县级", plural="区县"),
    Term("township", "乡镇（街道）", "乡镇", "乡、镇、街道", aliases=("街道", "乡级"), grade="乡镇级"),
    Term("village", "村（社区）", "村", "村、社区", aliases=("社区", "村级"), grade="村级"),
))
# the levels an export lists regions at (a province is only ever the top: of synthetic data, or of
# an official list imported with its province row)
LOCAL_LEVELS = tuple(c for c in LEVELS.codes if c != "province")

KINDS = Vocabulary("指标类型", (
    Term("count", "计数", note="人数、户数、个数等，上级为下级之和"),
    Term("amount", "金额/数量", "金额", "资金、数量等，上级为下级之和", aliases=("数量",)),
    Term("rate", "比率", note="百分数，上级为 Σ分子 ÷ Σ分母", aliases=("率",)),
    Term("standard", "标准", note="低保标准等，不加总"),
))

FREQUENCIES = Vocabulary("频度", (
    Term("year", "年度", note="每年报一次", aliases=("年",)),
    Term("quarter", "季度", note="每季度报一次", aliases=("季",)),
    Term("month", "月度", note="每月报一次", aliases=("月",)),
))

STATUSES = Vocabulary("数据状态", (
    Term("final", "正式", note="正式数据（留空即为正式）", aliases=("终审",)),
    Term("provisional", "初步", note="快报、初步数据，之后会更正", aliases=("快报", "初报")),
))

YES_NO = Vocabulary("是否", (
    Term(True, "是", aliases=("true", "1", "yes", "y", "t")),
    Term(False, "否", aliases=("false", "0", "no", "n", "f")),
))

# What a file to import holds: the table it fills.
FILES = Vocabulary("导入类型", (
    Term("observations", "指标数据"),
    Term("targets", "目标任务"),
    Term("regions", "区划"),
    Term("indicators", "指标目录"),
    Term("forms", "报表"),
))
