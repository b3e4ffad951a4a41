"""Starting from nothing: what a new store holds, the order a bureau loads its files in, and what each needs first.

A bureau starts with the official 统计用区划代码 list and its own returns. The regions come first (every
other file names them by code), then the indicator catalogue (every value and task names an indicator),
then the values, the tasks and the boundaries. The first-run page, the import and the command line
all read the order and the messages from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


from minsheng import store, vocab
from minsheng.ingest import contract

BOUNDARIES = "boundaries"
ORDER = ("regions", "indicators", "observations", "targets", "forms", BOUNDARIES)
NEEDS = {"observations": ("regions", "indicators"), "targets": ("regions", "indicators"),
         "forms": ("regions", "indicators"), BOUNDARIES: ("regions",)}
SHOWN = ("regions", "indicators", "observations")  # until each has rows, the pages show the first-run page
META = {"demo": False, "data_date": None, "title": "民生指标"}

TITLES = {"regions": "区划代码表", "indicators": "指标目录", "observations": "指标数据", "targets": "目标任务",
          "forms": "报表", BOUNDARIES: "边界（GeoJSON）"}
UNITS = {"regions": "个区划", "indicators": "个指标", "observations": "行", "targets": "项任务", "forms": "行（报表 × 指标）",
         BOUNDARIES: "个级别"}
OPTIONAL = ("targets", "forms", BOUNDARIES)
# A signed-in admin imports inside an area, and a new store has no area yet (scope.Area fails closed):
# the first region list is loaded where no area applies.
FIRST_REGIONS_BY_AREA = ("尚未导入区划：账号按管辖范围导入，而新数据目录中还没有任何区划。首次的区划代码表请在服务器上用命令行导入"
                         "（python -m minsheng import 区划代码表.xlsx），或在未启用登录的本机单用户模式下经“导入”页导入")
WHAT = {
    "regions": "统计用区划代码表：区划代码、名称，可含级别、上级代码、驻地经纬度（国家统计局公布的代码表可直接整理后导入）",
    "indicators": "指标目录：每个指标的编码、名称、单位、类型（计数、金额、比率、标准）和报送频度",
    "observations": "各地报送的指标数据：指标编码、区划代码、时期、数值（比率另填分子、分母）",
    "targets": "年度目标任务：指标、区划、年度、目标值、责任部门（可选，用于“目标”页）",
    "forms": "报表：由哪一级、多久报送哪些指标、截止时间（可选，用于“数据填报”“数据审核”“报送进度”页）",
    BOUNDARIES: "行政区划边界（可选，用于“地图”页）：每级一个 GeoJSON 文件，要素的 properties.code 为区划代码",
}


def label(kind: str) -> str:
    return "边界" if kind == BOUNDARIES else vocab.FILES.label(kind)


def template_hint(kind: str) -> str:
    """Where a clerk gets the file's template: the command line and the 导入 page say the same."""
    if kind == BOUNDARIES:
        return "GeoJSON，按级别各一个文件，properties.code 为 12 位区划代码"
    return f"模板：python -m minsheng template {kind}，或“导入”页“下载填报模板”中的“{label(kind)}模板”"


def missing_message(kind: str) -> str:
    """What to load first, when `kind` (a prerequisite) has no rows yet."""
    what = {"regions": "请先导入区划代码表", "indicators": "请先导入指标目录"}[kind]
    return f"尚未导入{label(kind)}：{what}（{template_hint(kind)}）"


def empty_tables() -> dict:
    """A new store's tables, with no rows, in the schema the import contract gives (contract.table_columns)."""
    return {name: contract.empty_table(name) for name in store.TABLES}


def refusal(directory: Path) -> str | None:
    """Why files cannot be loaded into `directory` at all: it is neither a store nor blank (no server path)."""
    if store.exists(directory) or store.blank(directory):
        return None
    return ("数据目录中已有其他文件，但不是看板的数据目录（没有区划表 regions.parquet，也没有版本记录）。"
            "请将 MINSHENG_DATA 指向一个空目录或新目录（导入时自动创建），或先运行 python -m minsheng init <目录>")


def loaded(directory: Path) -> dict[str, int]:
    """Rows in each table readers see (boundaries: polygon files), from the files' footers; zeros before a store."""
    if not store.exists(directory):
        return dict.fromkeys(ORDER, 0)
    folder = store.resolve(directory)
    out = dict.fromkeys(store.TABLES, 0) | store.row_counts(folder)
    b = store.boundaries_dir(directory)
    out[BOUNDARIES] = len(list(b.glob("*.geojson"))) if b.is_dir() else 0
    return out


def first_run(counts: dict[str, int]) -> bool:
    """Whether the pages have nothing to show yet: regions, indicators or values are missing."""
    return any(not counts.get(k) for k in SHOWN)


def missing(kind: str, counts: dict[str, int]) -> str | None:
    """The message for the first prerequisite of `kind` with no rows, else None."""
    for need in NEEDS.get(kind, ()):
        if not counts.get(need):
            return missing_message(need)
    return None


@dataclass(frozen=True)
class Step:
    kind: str
    title: str
    what: str
    status: str
    done: bool
    optional: bool


def steps(counts: dict[str, int]) -> list[Step]:
    """Each step of loading a new store, in order, and where it stands (what the first-run page lists)."""
    out = []
    for kind in ORDER:
        n, need = counts.get(kind, 0), [k for k in NEEDS.get(kind, ()) if not counts.get(k)]
        status = (f"已导入 {n:,} {UNITS[kind]}" if n else
                  f"需先导入{'、'.join(TITLES[k] for k in need)}" if need else "可以导入")
        out.append(Step(kind, TITLES[kind], WHAT[kind], status, bool(n), kind in OPTIONAL))
    return out


def order_note(first_run: bool = True) -> str:
    """The order of loading in one line, for the 导入 page of a new store ("" once there is data)."""
    return "新数据目录，请按顺序导入：" + " → ".join(
        f"{i}. {TITLES[k]}" + ("（可选）" if k in OPTIONAL else "") for i, k in enumerate(ORDER, 1)) if first_run else ""


def boundary_note(level: str) -> str:
    """The 地图 page's note when the regions of `level` have neither polygons nor coordinates."""
    lv = vocab.LEVELS[level].grade
    return (f"{lv}区划没有边界，也没有驻地经纬度，地图无法绘制，下面按数值排序列出。"
            f"可在“导入”页导入{lv}边界：一个 GeoJSON 文件（如 {level}.geojson），每个要素的 properties.code 为 "
            f"12 位区划代码（天地图、官方数据为 WGS84；高德、DataV 为 GCJ-02，导入时选择，自动转换）；"
            f"或在区划表中补充“经度”“纬度”两列，地图在驻地画点。")
