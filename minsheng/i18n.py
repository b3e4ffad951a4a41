"""Every UI string in one catalogue: Chinese (the default and the key) and English for visiting delegations.

A string is looked up by its Chinese text, so the code reads as the Chinese UI does and a missing
translation falls back to Chinese rather than to a key nobody can read. `{name}` placeholders are
filled after translation.
"""

from __future__ import annotations

LANGS = {"zh": "中文", "en": "English"}

EN = {
    # navigation and frame
    "总览": "Overview", "趋势": "Trends", "地图": "Map", "目标": "Targets", "数据": "Data", "导入": "Import",
    "含未审核数据": "incl. unreviewed returns", "　含未审核数据": "  Incl. unreviewed returns",
    "把已上报、尚未审核通过的 {n} 份报表数据计入各页数字；页面、图片、汇报材料和导出文件都会标注“含未审核数据”，其来源标注“（未审核）”":
        "Counts the {n} returns sent and not yet approved in every figure; pages, images, decks and files then say "
        "“incl. unreviewed returns”, and their source ends in “（未审核）”",
    "未能加入未审核数据：{error}": "Unreviewed returns could not be included: {error}",
    "本页含未审核数据：已上报、尚未经上级审核通过的报表数据已计入各项数字，来源标注“（未审核）”。关闭侧栏“含未审核数据”即只看审核通过的数据。":
        "This page includes unreviewed returns: figures sent and not yet approved by the level above are counted, "
        "their source marked “（未审核）”. Turn off “incl. unreviewed returns” in the sidebar to see approved data only.",
    "报送进度": "Reporting progress", "查看报送进度": "See reporting progress", "数据填报": "Report figures", "数据审核": "Review returns",
    "民生指标看板": "Livelihood Indicators", "区域": "Region", "年度": "Year", "语言": "Language",
    "演示数据": "Demo data", "围绕公开报道数字生成，非官方统计": "generated around published figures; not official statistics",
    "可输入名称搜索；选择后各页面同步": "Type to search; applies to every page",
    "数据截至 {date}": "Data as of {date}", "演示模式": "Presentation mode",
    "隐藏侧栏和工具栏，16:9 版式、大字号，截图即可作为汇报幻灯片（网址加 ?present=1 亦可）":
        "Hides the sidebar and toolbar; 16:9 layout with large type, so a screenshot is a slide (or add ?present=1 to the URL)",
    "区域：{region}（{code}）　来源：{sources}　数据日期：{date}": "Region: {region} ({code})   Source: {sources}   Data date: {date}",
    "　演示数据，非官方统计": "   Demo data, not official statistics",
    "退出演示模式": "Leave presentation mode", "{year}年": "{year}",
    "{y0}—{y1}年": "{y0}–{y1}", "数据日期 {date}": "data date {date}",
    # 导出汇报材料 (minsheng/selection.py, minsheng/slides.py, the views' deck_parts)
    "{region}民生指标概览（{period}）": "{region}: livelihood indicators at a glance ({period})",
    "{region}民生指标趋势（{period}）": "{region}: livelihood indicator trends ({period})",
    "{region}{what}分布（{period}）": "{region}: {what} by region ({period})",
    "{region}民生指标数据摘要（{period}）": "{region}: livelihood indicator data summary ({period})",
    "{region}{page}（{period}）": "{region}: {page} ({period})",
    "{region}{year}年重点民生实事推进情况（截至{month}月）": "{region}: progress of the {year} livelihood tasks (to {mon})",
    "区域：{region}（{code}） · 时期：{period} · 来源：{source} · 数据日期：{date}":
        "Region: {region} ({code}) · Period: {period} · Source: {source} · Data date: {date}",
    " · 演示数据，非官方统计": " · Demo data, not official statistics",
    "{section}主要指标（{period}）": "{section}: key indicators ({period})",
    "总体进度（{period}）": "Overall progress ({period})", "完成率与序时进度（{period}）": "Completion against time elapsed ({period})",
    "任务推进明细（{period}）": "Tasks in detail ({period})", "{name}（{period}）": "{name} ({period})",
    "{name}分布（{period}）": "{name} by region ({period})", "{name}排名（{period}）": "{name}: ranking ({period})",
    "指标摘要（{period}）": "Indicator summary ({period})", "单位": "Unit",
    "时期范围": "Periods", "最新时期": "Latest period", "区划数": "Regions", "最新值": "Latest value",
    "最低": "Lowest", "最高": "Highest", "数据来源与数据日期": "Sources and data dates", "数据来源": "Source",
    "数据日期": "Data date", "生成日期：{date}": "Made on {date}", "演示数据：非官方统计，仅供演示": "Demo data: not official statistics",
    "演示数据：围绕公开报道数字生成，非官方统计。": "Demo data: generated around published figures; not official statistics.",
    "（续）": " (continued)",
    # presentation slides and the phone (minsheng/ui/paging.py, views/overview.py)
    "上一张": "Previous", "下一张": "Next", "{i} / {n}": "{i} / {n}",
    "没有第 {asked} 张幻灯片（共 {n} 张），已显示第 1 张。": "There is no slide {asked} ({n} in all); showing slide 1.",
    "{name}（续）": "{name} (continued)", "滞后任务": "Lagging tasks",
    "完成率 {done}，序时进度 {pace}": "completion {done}, time elapsed {pace}",
    "{task}（{department}）": "{task} ({department})",
    "另有 {n} 项滞后任务，见“目标”页。": "{n} more lagging tasks on the Targets page.",
    # overview
    "领域": "Domain", "目标任务 · {status}": "Tasks · {status}", "{n} 项": "{n}", "同比": "YoY",
    "{region} 在 {year} 年所选领域暂无数据。请换一个区域、年度或领域。":
        "No data for {region} in {year} in the chosen domains. Try another region, year or domain.",
    "其他部门": "Other departments", "暂无数据": "No data", "（本年尚未发布）": " (this year not yet published)",
    "来源：{source}": "Source: {source}", "由 {n}/{m} 个下级单位汇总": "summed from {n}/{m} subdivisions",
    "完成率": "Completion", "执行{name}标准": "{name}'s standard applies",
    # 同比 across unequal coverage (minsheng/comparable.py)
    "同比按同口径": "YoY like for like",
    "只比较两期都报送的下级单位；关闭则比较两期已报单位的合计":
        "Compare only the subdivisions that reported in both periods; off: the totals of whoever reported",
    "（同口径 {both} 个，已报 {n}/{m}，上年 {n0}/{m0}）": " (like for like: {both}; reported {n}/{m}, a year before {n0}/{m0})",
    "（已报 {n}/{m}，上年 {n0}/{m0}）": " (reported {n}/{m}, a year before {n0}/{m0})",
    "同比按同口径（只比两期都报送的单位）": "YoY like for like (only units reporting in both periods)",
    "同比按两期已报单位合计": "YoY of the totals of whoever reported", "等 {n} 处": " and {n} in all",
    "{basis}。已报单位数与上年不同：": "{basis}. Fewer or more units reported than a year before: ",
    # trend
    "指标（可多选）": "Indicators (several allowed)", "年份范围": "Years", "时间粒度": "Granularity",
    "粒度|年度": "Yearly", "粒度|月度": "Monthly", "显示": "Show", "同时显示下级区划": "Include subdivisions",
    "数值": "Value", "环比": "MoM", "请至少选择一个指标。": "Choose at least one indicator.",
    "{region} 在所选年份暂无这些指标的数据。": "No data for {region} in the chosen years.",
    "{name}：{region} 在 {y0}–{y1} 年暂无数据。": "{name}: no data for {region} in {y0}–{y1}.",
    "及下级区划": " and subdivisions", "累计值": "year-to-date ", "年末/最新值": "year-end or latest value",
    "月度值": "monthly values", "季度值": "quarterly values", "年度值": "yearly values", "{y}年截至{m}月": "{y} to month {m}", "（{note}）": " ({note})", "来源：": "Source: ",
    "标准类指标不加总：上级区划显示其本级标准。": "Standards are never summed: a region shows its own standard.",
    "{name} · 数据表": "{name} · table", "时期": "Period",
    "同比（个百分点）": "YoY (pp)", "同比（%）": "YoY (%)", "环比（个百分点）": "MoM (pp)", "环比（%）": "MoM (%)",
    "单位：{unit}": "Unit: {unit}", "个百分点": "pp",
    # map
    "指标": "Indicator", "月份": "Month", "显示层级": "Level", "区县": "Counties", "乡镇（街道）": "Townships",
    "{year}年（年度数据）": "{year} (annual data)", "{year}年年度数据尚未发布": "{year} annual data not yet published",
    "显示最近一年（{year}年）。": "Showing the latest year ({year}).", "按{level}": "by {level}",
    "无底图，离线绘制": "No base map, drawn offline", "乡镇边界为示意边界，非实际行政界线":
        "township outlines are schematic, not legal boundaries",
    "点击地图上的区域或排名中的一行可打开该区域。": "Click a region on the map or a row of the ranking to open it.",
    "所属县区": "County",
    "图例（{unit}）：": "Legend ({unit}): ", "无数据": "no data", "排名": "Rank", "下钻到": "Drill down to",
    "返回上级": "Up one level", "{region} 没有下级区划可显示。": "{region} has no subdivisions to show.",
    "没有这些区划的边界或坐标，无法绘制地图；右侧排名仍可查看。":
        "No boundaries or coordinates for these regions; the ranking is still shown.",
    "{name}：{region} 各{level}在 {period} 暂无数据（该指标报送到{report}）。":
        "{name}: no data for the {level} of {region} in {period} (reported at {report} level).",
    # goals
    "截至月份": "As of month", "部门": "Department", "全部部门": "All departments",
    "严重滞后阈值（个百分点）": "Far-behind threshold (pp)", "完成率落后序时进度超过该值即为严重滞后":
        "A task this many points behind the time elapsed is far behind",
    "序时进度": "Time elapsed", "已完成": "Completed", "超序时": "Ahead", "滞后": "Behind", "严重滞后": "Far behind",
    "截至{year}年{month}月底，全年已过 {month}/12": "At the end of month {month} of {year}, {month}/12 of the year has passed",
    "状态": "Status", "任务": "Task", "目标值": "Target", "完成": "Actual", "差距（个百分点）": "Gap (pp)", "每月还需": "Needed per month",
    "重点民生实事完成率与序时进度": "Livelihood tasks: completion against time elapsed",
    "截至{year}年{month}月": "to {mon} {year}", "请选择指标": "Choose indicators",
    "{region} 在 {year} 年没有设定目标任务。": "{region} has no targets for {year}. ",
    "演示数据中，株洲市及其各区县设有本年度的任务，岳阳市屈原管理区设有 2023 年的任务（与种子报告一致）。":
        "In the demo data, 株洲市 and each of its counties have targets for the current year, and 岳阳市屈原管理区 "
        "for 2023 (as in the seed report).",
    "完成率 = 完成 ÷ 目标；序时进度 = 截至所选月份已过时间占任务期限的比例。状态：已完成（≥100%）、超序时（≥序时进度）、滞后、严重滞后（落后序时进度超过阈值）。比率类任务以达到目标值为完成，不计序时进度。按滞后程度排序，最需要关注的在前。":
        "Completion = actual ÷ target; time elapsed = share of the task period passed by the chosen month. "
        "Status: completed (≥ 100%), ahead (≥ time elapsed), behind, far behind (more than the threshold behind). "
        "Rate tasks are complete when the target level is reached. The most lagging tasks come first.",
    "每月还需|已完成": "done",
    # data
    "级别": "Level", "本级": "Region itself", "限定区划（不选即全部）": "Limit to regions (none = all)", "全部": "All",
    "起始年": "From", "结束年": "To", "所选条件下没有数据。可以放宽时期、改选级别或指标。":
        "No data for this selection. Widen the period or change the level or indicator.",
    "共 {n} 行": "{n} rows", "下载 CSV": "Download CSV", "下载 XLSX": "Download XLSX",
    "CSV 默认为带 BOM 的 UTF-8，Excel/WPS 直接打开不乱码；旧系统要求时可选 GBK。区划代码在表格软件中保持为文本。"
    "XLSX 另含“说明”工作表（筛选条件、单位、来源、数据日期）。":
        "CSV is UTF-8 with BOM by default (opens in Excel/WPS without garbled Chinese); choose GBK where an older "
        "system needs it. Region codes stay text in a spreadsheet. XLSX adds a sheet with the filter, units, "
        "sources and data date.",
    "CSV 编码": "CSV encoding", "UTF-8（带 BOM）": "UTF-8 with BOM", "UTF-8（无 BOM）": "UTF-8 without BOM",
    # exports
    "下载 PNG": "PNG", "下载 SVG": "SVG", "导出汇报材料": "Export slides (PPTX)",
    "生成 PPTX…": "Building PPTX…",
}

# indicator domains, statuses, units and levels shown as data
EN.update({
    "民政": "Civil affairs", "医保": "Medical insurance", "卫健": "Health", "人社": "Human resources & social security",
    "残联": "Disabled persons", "农业农村": "Agriculture", "工信": "Industry & IT", "政务服务": "Government services",
    "人": "persons", "户": "households", "张": "beds", "个": "", "次": "times", "人次": "person-times", "亩": "mu",
    "座": "stations", "元": "yuan", "小时": "hours", "万人": "10k persons", "万元": "10k yuan", "万小时": "10k hours", "元/月": "yuan/mo",
    "元/年": "yuan/yr", "元/人·年": "yuan/person·yr", "%": "%",
    "市": "City", "县（市、区）": "Counties", "村（社区）": "Villages",
    "县级": "county", "乡镇级": "township", "市级": "city", "村级": "village",
})

# the 数据 grid's headers and words (minsheng/ui/grids.py) and Streamlit's own chrome (minsheng/ui/chrome.py)
EN.update({
    "指标名称": "Indicator", "区划名称": "Region", "区划代码": "Region code", "承继后区划代码": "Code now in use",
    "单位": "Unit", "分子": "Numerator", "分母": "Denominator", "下级最小值": "Lowest below", "下级最大值": "Highest below",
    "口径": "Basis", "数据状态": "Status", "来源": "Source", "下级汇总": "sum of subdivisions", "本级报送": "reported",
    "正式": "final", "初步": "provisional", "级别|省": "Province", "级别|市": "City", "级别|县（市、区）": "County",
    "级别|乡镇（街道）": "Township", "级别|村（社区）": "Village", "限定区划": "Regions", "{a} 至 {b}": "{a} to {b}",
    "上传": "Upload", "单个文件不超过 {mb} MB · {types}": "Up to {mb} MB per file · {types}",
    "将文件拖到这里": "Drop the file here", "跳到正文": "Skip to main content", "运行中…": "Running…", "停止": "Stop",
    "显示/隐藏列": "Show/hide columns", "搜索": "Search", "全屏": "Fullscreen", "退出全屏": "Close fullscreen",
    "框选放大": "Zoom", "平移": "Pan", "放大": "Zoom in", "缩小": "Zoom out",
    "自动缩放": "Autoscale", "还原坐标轴": "Reset axes", "框选": "Box Select", "套索选择": "Lasso Select",
    "没有匹配的选项": "No results", "没有匹配的选项，或已选满 {n} 项": "No results, or {n} already chosen",
})

# sign-in and roles (minsheng/ui/session.py, minsheng/ui/exports.py); auth's own messages stay Chinese
EN.update({
    "登录": "Sign in", "用户名": "User name", "密码": "Password", "请输入用户名和密码": "Enter user name and password",
    "退出登录": "Sign out", "使用统一身份认证登录": "Sign in with single sign-on",
    "你的账号（{who}）未获授权使用本看板，请联系管理员开通。":
        "Your account ({who}) is not authorised for this dashboard; ask an administrator.",
    "账户已停用，请联系管理员。": "This account has been disabled; ask an administrator.",
    "当前用户：**{name}** · {role} · {area}": "Signed in: **{name}** · {role} · {area}",
    "浏览": "viewer", "分析": "analyst", "填报": "reporter", "审核": "reviewer", "管理员": "admin",
    "未启用登录": "Sign-in off", "本机单用户模式，拥有全部权限": "local single-user mode, all rights",
    "未启用登录：本机单用户模式，仅本机可访问，拥有全部权限。添加第一个用户后看板需要登录。":
        "Sign-in is off: local single-user mode, reachable from this machine only, with all rights. "
        "Once a user is added, the dashboard requires sign-in.",
    "警告：未启用登录，且看板对网络开放（{env}=1）。任何人都可查看全部数据、导入和回滚。":
        "Warning: sign-in is off and the dashboard is open to the network ({env}=1). Anyone can see all data, "
        "import and roll back.",
    "未启用登录的看板只能在本机地址（127.0.0.1）上提供服务，当前地址为 {address}。"
    "请添加用户以启用登录（python -m minsheng users add 用户名 --role admin --area 区划代码），"
    "或改回 127.0.0.1；确需无登录对外提供服务时，设置环境变量 {env}=1。":
        "Without sign-in the dashboard serves on 127.0.0.1 only; this server is on {address}. Add a user to turn "
        "sign-in on (python -m minsheng users add NAME --role admin --area CODE), or go back to 127.0.0.1; to serve "
        "without sign-in on purpose, set {env}=1.",
    "所有网络接口": "every network interface",
    "无法读取用户文件，看板已停止：{error}": "Cannot read the users file; the dashboard has stopped: {error}",
    "下载和导出需要“分析”或“管理员”角色。": "Downloads and exports need the analyst or admin role.",
})

# area scope (minsheng/ui/frame.py)
EN.update({
    "你的区域（{area}）不在区划表中，无法显示数据。请联系管理员核对账户的区域设置。":
        "Your area ({area}) is not in the regions table, so there is nothing to show. Ask an administrator to "
        "check your account's area.",
    "数据目录中没有区划数据。可运行 python -m minsheng demo 生成演示数据。":
        "The data directory has no regions. Run python -m minsheng demo to create the demo data.",
    "无法读取数据：{error}": "Cannot read the data: {error}",
    "数据正在维护，页面暂时显示较早的数据版本。": "The data is under maintenance: pages show an earlier version for now.",
    "数据文件无法读取（可能已损坏）。请管理员运行 python -m minsheng check 核查。":
        "A data file cannot be read (it may be damaged). An administrator can run python -m minsheng check.",
    "无权限：区域 {code} 不在你可查看的范围内，已改为显示 {name}。":
        "No permission: region {code} is outside the area you may see; showing {name} instead.",
    "没有区域 {code}，已改为显示 {name}。": "There is no region {code}; showing {name} instead.",
    "没有 {asked} 年的数据，已改为显示 {shown}。": "There is no data for {asked}; showing {shown} instead.",
    "共 {n} 行，页面显示前 {shown} 行；下载文件包含全部行。":
        "{n} rows; the page shows the first {shown}, the downloads hold every row.",
})

# single-user mode's request check and the emptied users file (minsheng/ui/signin.py, session.py)
EN.update({
    "未启用登录的看板只为在本机直接打开它的浏览器提供服务，这个请求不是：{reason}。"
    "请添加用户以启用登录（python -m minsheng users add 用户名 --role admin --area 区划代码）；"
    "确需无登录对外提供服务时，设置环境变量 {env}=1。":
        "Without sign-in the dashboard serves only a browser opened on this machine, and this request is not one: "
        "{reason}. Add a user to turn on sign-in (python -m minsheng users add NAME --role admin --area CODE); to "
        "serve without sign-in anyway, set {env}=1.",
    "请求经过了代理（带有转发请求头 {headers}），来自本机以外":
        "it came through a proxy (forwarding headers {headers}), from outside this machine",
    "请求来自其他计算机": "it comes from another computer",
    "请求的主机名（Host）不是本机地址，可能来自另一个网站（DNS 重绑定）":
        "its host name (Host) is not this machine's, so it may come from another web site (DNS rebinding)",
    "请求的来源网页（Origin）不在本机，可能来自另一个网站（DNS 重绑定）":
        "the page it comes from (Origin) is not on this machine, so it may be another web site (DNS rebinding)",
    "用户文件中没有用户，暂时无人能登录。管理员可添加用户（python -m minsheng users add），"
    "或确认恢复无登录的本机单用户模式（python -m minsheng users reset-single-user）。":
        "The users file has no users, so nobody can sign in. An administrator can add one (python -m minsheng "
        "users add) or confirm going back to local single-user mode (python -m minsheng users reset-single-user).",
})

# gaps, 环比 of year-to-date figures and late reports on 趋势 and 目标
EN.update({
    "未报": "not reported", "等 {n} 个": " and others ({n})", "环比按当月增量": "MoM of monthly increments",
    "环比按当月增量（%）": "MoM of monthly increments (%)", "环比按当月增量（个百分点）": "MoM of monthly increments (pp)",
    "截至{m}月，{missing}月未报": "as of month {m}; month {missing} not reported", "截至{m}月": "as of month {m}", "截至{month}月": "to {mon}",
    "{n} 项任务{month}月未报：按最近报送月份计算完成率、序时进度和每月还需（见“完成”列）。":
        "{n} tasks have no report for month {month}: completion, time elapsed and monthly pace are those of the "
        "latest month reported (see the Actual column).",
})

MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def t(text: str, lang: str = "zh", context: str | None = None, **values) -> str:
    """`text` in `lang`, with `{placeholders}` filled; Chinese when there is no translation.

    `context` tells apart one Chinese word with two translations (pgettext's msgctxt): 年度 is
    "Year" as a filter and "Yearly" as a granularity, looked up as "粒度|年度"."""
    out = text
    if lang == "en":
        out = EN.get(f"{context}|{text}", EN.get(text, text)) if context else EN.get(text, text)
    return out.format(**values) if values else out


def unit(u: str, lang: str = "zh") -> str:
    return EN.get(u, u) if lang == "en" else u

# drilling from a number (issue 13, item 4): a card to its trend, a bar to its task, the county × task matrix
EN.update({
    "看趋势": "Trend", "打开“{name}”的趋势": "Open the trend of “{name}”",
    "返回全部任务": "All tasks", "无任务": "no task", "序时 {p}": "due {p}",
    "各{level}完成情况": "Progress by {level}", "{region} 没有下级区划。": "{region} has no subdivisions.",
    "{region} 的下级区划没有设定这些任务的目标。": "The subdivisions of {region} have no targets for these tasks.",
    "完成率对照序时进度（截至{month}月），与任务表同一算法；颜色为状态。":
        "Completion against time elapsed (to month {month}), computed as in the task table; colours show the status.",
    "格内：完成率，及其领先（+）或落后（-）序时进度的百分点；灰色：无任务（未设目标）或未报（有目标、无数据）":
        "In a cell: completion, and the points it is ahead of (+) or behind (-) time elapsed; grey: no task (no "
        "target set) or not reported (a target, no figure)",
    "下级区划没有设定该任务的目标。": "No subdivision has a target for this task.",
    "链接中的任务不在所选区域与部门的任务中，已显示全部任务。":
        "The task in the link is not among this region's tasks for the departments chosen; showing all tasks.",
})

# sign-in that lasts (issue 14): the sign-in pages of minsheng/web.py, the gate, 用户管理 (views/users.py)
EN.update({
    "请登录后查看": "Sign in to continue", "设置新密码": "Set a new password",
    "{name}：管理员给的是一次性密码，请设置自己的密码后继续。":
        "{name}: the administrator gave you a one-time password. Set your own to continue.",
    "新密码（至少 {n} 个字符）": "New password (at least {n} characters)", "再次输入新密码": "New password again",
    "保存并进入看板": "Save and open the dashboard", "确定要退出登录吗？": "Sign out now?", "返回看板": "Back to the dashboard",
    "两次输入的密码不一致": "The two passwords differ", "新密码不能与一次性密码相同": "The new password must differ from the one-time password",
    "登录表单已失效（可能来自其他网站，或页面打开太久），请重新输入。":
        "This sign-in form is no longer valid (it may come from another site, or was open too long). Please try again.",
    "来自此地址的登录尝试过多，请 {m} 分钟后再试。": "Too many sign-in attempts from this address. Try again in {m} min.",
    "下载链接已失效或无权下载。": "This download link has expired, or you may not download.", "请先登录。": "Please sign in first.",
    "登录已过期，请重新登录。": "Your sign-in has expired. Please sign in again.", "已退出登录。": "You are signed out.",
    "登录已结束（已在其他窗口退出，或账户、权限已变更），请重新登录。":
        "Your sign-in has ended (signed out in another window, or your account or rights changed). Please sign in again.",
    "密码已更新，请用新密码登录。": "Password changed. Sign in with the new one.",
    "看板须通过 app.py 启动（make run，或 python -m streamlit run app.py）：直接运行 dashboard.py "
    "没有登录页面和安全响应头，已停止。":
        "Start the dashboard through app.py (make run, or python -m streamlit run app.py): dashboard.py run directly has "
        "no sign-in pages and no security headers, so it has stopped.",
    "用户名或密码错误": "Wrong user name or password", "账户已停用": "This account is disabled",
})

# 用户管理 (views/users.py)
EN.update({
    "用户管理": "Users", "没有符合条件的记录。": "No entries match.", "用户、登录与审计日志": "Users, sign-ins and the audit log",
    "用户": "User", "管理用户": "Manage a user", "审计日志": "Audit log", "选择用户": "User to manage",
    "无权限：用户管理仅限管理员。": "Not allowed: only administrators manage users.",
    "本机单用户模式没有用户，也无需登录。用命令行添加第一位管理员（python -m minsheng users add 用户名 "
    "--role admin --area 区划代码）后，看板即要求登录，此页可管理其区域内的用户。":
        "Local single-user mode has no users and no sign-in. Add the first administrator on the command line "
        "(python -m minsheng users add NAME --role admin --area CODE); the dashboard then requires sign-in, and this "
        "page manages the users within the administrator's region.",
    "角色": "Role", "邮箱": "Email", "邮箱（可选）": "Email (optional)", "统一身份认证登录时用于匹配本账户":
        "Used to match this account at single sign-on", "1–64 个字母、数字、汉字或 . _ @ -":
        "1–64 letters, digits, Chinese characters or . _ @ -",
    "添加用户": "Add user", "已添加用户 {name}。": "User {name} added.",
    "{name} 的一次性密码如下，只显示这一次：请交给本人，首次登录时须改为自己的密码。":
        "The one-time password of {name}, shown this once: hand it to them in person; they must set their own at "
        "the first sign-in.",
    "无权限：区域 {code} 不在你管理的范围内": "Not allowed: region {code} is outside the region you manage",
    "无法写入用户文件或审计日志：{error}": "Cannot write the users file or the audit log: {error}",
    "这是你自己的账户：不能停用、删除自己，不能降低自己的角色、改动自己的区域或重置自己的密码——"
    "否则你会当场失去管理权限，甚至无人能管理这些用户。如需更改，请另一位管理员操作。":
        "This is your own account: you cannot disable or remove yourself, lower your own role, change your own "
        "region or reset your own password. You would lose the right to manage at once, and perhaps nobody could "
        "manage these users. Ask another administrator.",
    "保存角色": "Save role", "保存区域": "Save region",
    "{name} 的角色已改为{role}，其登录已结束。": "{name} is now {role}; their sign-ins have ended.",
    "{name} 的区域已改为{area}，其登录已结束。": "The region of {name} is now {area}; their sign-ins have ended.",
    "启用": "Enable", "已启用 {name}。": "{name} enabled.", "停用": "Disable",
    "已停用 {name}，其登录已结束。": "{name} disabled; their sign-ins have ended.",
    "重置密码": "Reset password", "生成一次性密码（只显示一次），本人首次登录时须改为自己的密码；其登录全部结束":
        "Makes a one-time password (shown once) that they must replace at the next sign-in; ends their sign-ins",
    "已重置 {name} 的密码，其登录已结束。": "Password of {name} reset; their sign-ins have ended.",
    "确认删除（审计日志中的记录保留）": "Confirm removal (the audit log keeps their lines)", "删除用户": "Remove user",
    "已删除用户 {name}。": "User {name} removed.",
    "进行中的登录": "Signed-in sessions", "没有进行中的登录。": "No one is signed in with this account.",
    "登录编号": "Session", "登录时间": "Signed in", "最近活动": "Last active", "到期": "Ends", "方式": "Method",
    "结束此登录": "End this session", "结束全部登录": "End all sessions", "已结束登录 {short}。": "Session {short} ended.",
    "已结束 {name} 的全部登录。": "Every session of {name} ended.",
    "全部用户": "All users", "全部事件": "All events", "事件": "Event", "做了操作的用户，或被操作的用户":
        "The user who acted, or the user acted on", "“全部事件”不列出已有结果记录的操作意图":
        "“All events” leaves out the intent lines whose outcome is recorded",
    "共 {n} 条记录，按时间倒序显示最新的 {shown} 条。": "{n} lines; the newest {shown} shown, newest first.",
    "用户名": "User name", "需改密码": "Must change password", "登录数": "Sessions", "创建时间": "Created",
    "已停用": "disabled", "已锁定": "locked", "正常": "active", "是": "yes", "否": "no",
    "时间": "Time", "对象": "Subject", "详情": "Details", "结果": "Outcome", "成功": "succeeded", "失败": "failed",
    "见其结果记录": "see its outcome", "未记录结果": "no outcome recorded",
    "登录失败": "sign-in failed", "登录结束": "signed out", "初始化数据目录": "data folder created", "回退": "rollback", "合并增量": "compaction",
    "导出": "export", "用户变更": "users change", "保存草稿": "draft saved", "上报": "submitted", "审核通过": "approved", "退回": "returned", "导入修改已通过的报表（重新审核）": "approved return changed by an import (review reopened)", "操作意图（先于操作记录）": "intent (written before a change)",
    "设置密码": "set password", "恢复单用户模式": "back to single-user mode",
    "本人退出": "signed out", "被管理员结束": "ended by an administrator", "已过期": "expired", "密码错误": "wrong password",
    "用户名不存在": "unknown user name", "账户锁定中": "account locked", "失败过多，账户已锁定": "too many failures, locked",
    "超出逐条记录上限（合计）": "over the per-line cap (a total)", "同一地址尝试过多": "too many tries from one address",
    "统一身份认证": "single sign-on", "操作": "change", "原因": "reason", "结束登录数": "sessions ended",
    "操作者": "by", "页面": "page", "格式": "format", "行数": "rows", "文件": "file", "回退到": "to", "回退前": "from",
    "版本": "version", "次数": "count", "错误": "error", "新增": "new", "修改": "changed", "未变": "unchanged",
})
EN["（只查了审计日志最近的 {k} 条；更早的见 audit.log 文件）"] = " (only the latest {k} lines of the audit log were read; older ones are in audit.log)"

# 专报 and 任务进展 on 目标 (minsheng/ui/briefing.py)
EN.update({
    "工作专报": "brief", "生成专报（Word）": "Brief (Word)", "生成专报（PDF）": "Brief (PDF)",
    "专报按{year}年{month}月的已审核数据和任务进展生成，只含您管辖范围内的区域；句式可在数据目录的 settings/brief.toml 中修改。":
        "The brief is written from the approved data and task notes of {month}/{year}, for the regions of your area only; "
        "its sentences can be changed in settings/brief.toml of the data directory.",
    "本月任务进展（{n} 条）": "Task notes of the month ({n})",
    "{month}月还没有填写任务进展。打开一项任务即可填写。": "No task notes for month {month} yet. Open a task to write one.",
    "任务进展": "Progress note", "{month}月还没有填写进展。": "No note for month {month} yet.",
    "责任人": "Responsible", "{who} 填写于 {at}": "by {who} at {at}", "历次进展（{n} 条）": "All notes ({n})",
    "{month}月进展情况": "Progress in month {month}", "保存进展": "Save note", "已保存{month}月进展。": "Note for month {month} saved.",
    "进展情况": "Progress", "填写人": "Written by", "填写时间": "Written at",
    "填写任务进展": "task note written", "生成专报": "brief made", "预警": "alert", "推送消息": "message sent",
})

# 消息中心 (views/messages.py, minsheng/ui/inbox.py)
EN.update({
    "消息中心": "Messages", "预警级别": "Alert level", "消息": "Messages", "未读": "Unread", "全部": "All",
    "全部级别": "All levels", "严重": "Severe", "关注": "Watch", "当前预警": "Alerts now", "我的消息": "My messages",
    "{region}当前没有预警。": "No alerts in {region} now.",
    "{region}：严重 {a} 条，关注 {b} 条。规则见数据目录的 settings/alert_rules.toml。":
        "{region}: {a} severe, {b} to watch. The rules are in settings/alert_rules.toml of the data directory.",
    "级别": "Level", "预警": "Alert", "说明": "Detail",
    "本机单用户模式没有个人消息；启用登录后，各账号在此收到推送给本人的预警和专报。":
        "Single-user mode has no personal messages; with sign-in, each account receives its alerts and briefs here.",
    "没有消息。": "No messages.", "全部标为已读（{n} 条）": "Mark all read ({n})", "标为已读": "Mark read",
    "推送状态（失败 {n} 条）": "Delivery ({n} failed)",
    "还没有推送记录。定时任务 python -m minsheng schedule run 运行后在此显示。":
        "Nothing delivered yet. Shown here once python -m minsheng schedule run has run.",
    "渠道": "Channel", "条数": "Count",
})
