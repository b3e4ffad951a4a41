"""What is wrong with an import file, said in Chinese and pinned to file, sheet, row and column."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

ERROR, WARNING = "错误", "警告"


@dataclass(frozen=True)
class Problem:
    level: str            # ERROR blocks the commit; WARNING needs an explicit confirmation
    file: str
    message: str
    sheet: str | None = None
    row: int | None = None       # as the clerk sees it in Excel: the header is row 1
    column: str | None = None    # the header text of the column, as written in the file

    def where(self) -> str:
        bits = [self.file]
        if self.sheet:
            bits.append(f"工作表“{self.sheet}”")
        if self.row is not None:
            bits.append(f"第 {self.row} 行")
        if self.column:
            bits.append(f"“{self.column}”列")
        return "，".join(bits)

    def __str__(self) -> str:
        return f"[{self.level}] {self.where()}：{self.message}"


def error(file: str, message: str, **where) -> Problem:
    return Problem(ERROR, file, message, **where)


def warning(file: str, message: str, **where) -> Problem:
    return Problem(WARNING, file, message, **where)


def as_frame(problems: list[Problem]) -> pd.DataFrame:
    """The table the 导入 page shows and offers for download."""
    cols = {"level": "级别", "file": "文件", "sheet": "工作表", "row": "行", "column": "列", "message": "问题"}
    df = pd.DataFrame([asdict(p) for p in problems], columns=list(cols))
    text = ["file", "sheet", "column", "message"]
    df[text] = df[text].astype(object).where(df[text].notna(), "")  # a CSV has no sheet: blank, not "None"
    return df.rename(columns=cols)


class ImportRejected(Exception):
    """Raised when a file cannot be imported; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
