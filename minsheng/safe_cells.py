"""Text that a spreadsheet would run as a formula, made inert in every file the product writes.

A name that begins with `=`, `+`, `-` or `@` (or a tab, CR or LF) is a formula to Excel, WPS and
LibreOffice when it sits in a CSV cell, and openpyxl stores any string that begins with `=` as a
formula: `=HYPERLINK("http://…","x")` as a region name became a live link in every export.

The policy (README, "导出文件与公式"): such text is ACCEPTED on import and stored as written — the
store keeps what the department sent — and NEUTRALISED ON OUTPUT, the way OWASP's CSV-injection
guidance says: the cell gets a leading apostrophe (`'=1+1`), which every spreadsheet shows as text
and which reads the same otherwise. Only text is touched: a number (-3.5 in 数值) stays a number,
and so does a number written as text ("-3.5", "+4.0%"), which every spreadsheet reads as that
number, never as a formula. CSV files also quote every text field, so a separator inside a name
cannot start a new cell; XLSX cells holding text are always typed as strings.

Text made only of digits (a 12-digit region code) is text too, but Excel and WPS read such a CSV
field as a number and show 4.30205E+11 (and save it back that way). CSV files write it behind a
leading tab (`csv_frame`), which all three spreadsheets keep as text with every digit; the tab is
blank space, so the importer (which trims every cell) reads the code back unchanged. README,
"导出文件与公式", says why a tab and not `="…"`, an apostrophe or an invisible character.

Everything that writes CSV, XLSX, PPTX tables or a download's file name calls this module.
"""

from __future__ import annotations

import re  # and no pandas: minsheng.auth reads names with the importer's rules and stays without it

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
PREFIX = "'"
TEXT_MARK = "\t"  # before a CSV field of digits only: a spreadsheet keeps it as text
_RISKY_START = re.compile("[" + re.escape("".join(TRIGGERS)) + r"]|\s+[=+\-@]")
_NUMBER = re.compile(r"[+-]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?")
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what openpyxl refuses to write
FILE_NAME_LIMIT = 80  # characters of a download's name without suffix (80 CJK = 240 bytes, under 255)
_UNSAFE_IN_NAMES = re.compile(r"[\\/:*?\"<>|\s\x00-\x1f]+")


def risky(value: str) -> bool:
    """Whether a spreadsheet could read this text as a formula: it begins with a trigger, or with
    blanks and then one (some spreadsheets skip leading blanks), and it is not a plain number."""
    return bool(_RISKY_START.match(value)) and not _NUMBER.fullmatch(value.strip())


def text(value):
    """One cell's value as it may be written: risky text with a leading apostrophe, anything else
    (numbers, dates, None, safe text) unchanged."""
    return PREFIX + value if isinstance(value, str) and risky(value) else value


def restore(value: str) -> str:
    """Text as it was before `text` neutralised it: an export of ours, edited and imported again,
    must not turn the name `=1+1` into `'=1+1`. Only the apostrophe `text` adds comes off."""
    return value[1:] if value.startswith(PREFIX) and risky(value[1:]) else value


def frame(df):
    """A copy of the DataFrame `df` whose text cells are neutralised as `text` would; numeric columns are not looked
    at. An export runs this on every batch of 100,000 rows, so each column gets a vectorised look at
    first characters and only the few cells that might be risky are checked one by one."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype.kind not in ("O", "S", "U"):  # object and pandas' str dtypes hold text
            continue  # a numeric or date column
        try:
            strings = s.str
        except AttributeError:  # no text in it (dates as objects, all empty)
            continue
        first = strings[:1]  # a cheap look at every cell; the full rule only where it might apply
        maybe = (first.isin(TRIGGERS) | first.str.isspace()).fillna(False).to_numpy(dtype=bool).nonzero()[0]
        if not len(maybe):
            continue
        values = s.to_numpy(dtype=object, copy=True)
        hits = [i for i in maybe if risky(values[i])]
        if hits:
            values[hits] = [PREFIX + v for v in values[hits]]
            out[col] = type(s)(values, index=s.index, dtype=s.dtype, name=col)
    return out


def csv_frame(df):
    """`frame(df)` for a CSV file: also every text cell made only of ASCII digits behind `TEXT_MARK`,
    so that a spreadsheet keeps a code as the text it is. A tab followed by digits is no formula
    (`risky` is false for it), and numbers (a count, a value) are not text, so they stay numbers."""
    out = frame(df)
    for col in out.columns:
        s = out[col]
        if s.dtype.kind not in ("O", "S", "U"):
            continue
        try:
            digits = s.str.fullmatch("[0-9]+")
        except AttributeError:  # no text in it
            continue
        hits = digits.fillna(False).to_numpy(dtype=bool)
        if hits.any():
            out[col] = s.where(~hits, TEXT_MARK + s.where(hits, ""))
    return out


def set_cell(cell, value):
    """Give an openpyxl cell `value`: text neutralised and typed as a string, so that no text cell is
    ever a formula (openpyxl makes a formula of any str that begins with "="). Returns the cell."""
    value = text(value)
    if isinstance(value, str):  # a character XML cannot hold (data from before the import's text rule)
        value = _NOT_IN_XML.sub("\ufffd", value)  # shows as �, instead of stopping the whole export
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def file_name(stem: str, fallback: str = "导出") -> str:
    """A download's file name (without suffix) from names in the data: no path separators, quotes or
    blanks, and no leading trigger or dot (a file called "=…" or "-…" invites the same trouble as
    a cell, and on a command line reads as an option)."""
    name = _UNSAFE_IN_NAMES.sub("_", stem).lstrip("".join(TRIGGERS) + "._")
    return name.rstrip("._")[:FILE_NAME_LIMIT] or fallback
