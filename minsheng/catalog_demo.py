"""The demo indicator catalogue and task lists, taken from the two seed reports.

Each indicator says how its numbers add up (`kind`), how often it is reported (`frequency`),
whether monthly values are year-to-date (`cumulative`) and the lowest level that reports it
(`report_level`); roll-ups above that level are computed, never stored.

`anchors` are the figures a seed report gives, {(year, month or None): value} (for a rate, the
rate in percent); the rows that make up such a figure cite the report in their `source`, every
other row the generator. `waypoints` shape the generated years around them and cite nothing.
`county_anchors` are a seed's figures for one county, {(county code, year): value}.

The seed-000 figures are 株洲市's (its 民政 review of 2022, 石峰区's 医保 report of March 2023).
The seed-001 figures are 屈原管理区's (岳阳市), not 株洲市's: those indicators carry a `quyuan`
block — 屈原管理区's own size, growth and figures — and 株洲市 gets city-sized numbers of its own.
"""

# columns: id, name_zh, name_en, unit, domain, kind, frequency, cumulative, report_level,
#          higher_is_better, base (city-wide value in 2018), growth per year, anchors, source
_SEED_MZ = "2022年株洲市民政工作综述（株洲日报）"
_SEED_YB = "石峰区医保服务报道（株洲日报，2023）"
_SEED_TASKS = "屈原管理区打好重点民生保障仗工作专报第5期（2023-07）"
_GEN = "演示数据生成器"
# the catalogue's note for an indicator both places report: where its figures come from
_TASKS_AND_GEN = "演示数据生成器；屈原管理区2023年数字取自其重点民生保障仗工作专报第5期"
QUYUAN_SOURCE, GENERATED = _SEED_TASKS, _GEN  # what 屈原管理区's seed rows and all other rows cite

INDICATORS = [
    # 民政 — standards are set per county (the city sets its own for the urban districts)
    dict(id="mz_dibao_std_urban", name_zh="城市低保标准", name_en="Urban minimum living standard",
         unit="元/月", domain="民政", kind="standard", frequency="year", cumulative=False,
         report_level="county", base=520, growth=0.04, anchors={(2022, None): 625}, source=_SEED_MZ),
    dict(id="mz_dibao_std_rural", name_zh="农村低保标准", name_en="Rural minimum living standard",
         unit="元/年", domain="民政", kind="standard", frequency="year", cumulative=False,
         report_level="county", base=4300, growth=0.08, anchors={(2022, None): 6208}, source=_SEED_MZ),
    dict(id="mz_disab_living_std", name_zh="困难残疾人生活补贴标准", name_en="Living subsidy for disabled people in hardship",
         unit="元/人·年", domain="民政", kind="standard", frequency="year", cumulative=False,
         report_level="county", base=720, growth=0.03, anchors={(2022, None): 829}, source=_SEED_MZ),
    dict(id="mz_disab_care_std", name_zh="重度残疾人护理补贴标准", name_en="Care subsidy for severely disabled people",
         unit="元/人·年", domain="民政", kind="standard", frequency="year", cumulative=False,
         report_level="county", base=720, growth=0.04, anchors={(2022, None): 838}, source=_SEED_MZ),
    dict(id="mz_orphan_scattered_std", name_zh="散居孤儿基本生活费标准", name_en="Basic allowance, orphans in family care",
         unit="元/人·年", domain="民政", kind="standard", frequency="year", cumulative=False,
         report_level="county", base=9600, growth=0.03, anchors={(2022, None): 10852}, source=_SEED_MZ),
    dict(id="mz_orphan_central_std", name_zh="集中供养孤儿基本生活费标准", name_en="Basic allowance, orphans in institutions",
         unit="元/人·年", domain="民政", kind="standard", frequency="year", cumulative=False,
         report_level="county", base=13400, growth=0.03, anchors={(2022, None): 15064}, source=_SEED_MZ),
    dict(id="mz_worker_wage_std", name_zh="城市社区专职工作者起点工资", name_en="Starting wage of community workers",
         unit="元/月", domain="民政", kind="standard", frequency="year", cumulative=False,
         report_level="county", base=3900, growth=0.05, anchors={(2022, None): 4764}, source=_SEED_MZ),
    dict(id="mz_dibao_urban_persons", name_zh="城市低保对象", name_en="Urban minimum-living recipients",
         unit="人", domain="民政", kind="count", frequency="month", cumulative=False,
         report_level="township", base=21000, growth=-0.04, anchors={}, source=_GEN, higher_is_better=None),
    dict(id="mz_dibao_rural_persons", name_zh="农村低保对象", name_en="Rural minimum-living recipients",
         unit="人", domain="民政", kind="count", frequency="month", cumulative=False,
         report_level="township", base=52000, growth=-0.03, anchors={}, source=_GEN, higher_is_better=None),
    dict(id="mz_tekun_persons", name_zh="特困供养人员", name_en="People in extreme poverty under state support",
         unit="人", domain="民政", kind="count", frequency="month", cumulative=False,
         report_level="township", base=14500, growth=-0.02, anchors={}, source=_GEN, higher_is_better=None),
    dict(id="mz_low_income_monitored", name_zh="低收入人口监测人数", name_en="Low-income people under monitoring",
         unit="人", domain="民政", kind="count", frequency="month", cumulative=False,
         report_level="township", base=3900, growth=0.08, anchors={(2022, 12): 5708}, source=_SEED_MZ,
         higher_is_better=None),
    dict(id="mz_home_aging_mod", name_zh="困难老年人家庭适老化改造", name_en="Age-friendly home adaptations",
         unit="户", domain="民政", kind="count", frequency="month", cumulative=True,
         report_level="township", base=0, growth=0, anchors={(2022, 12): 1030},
         waypoints={(2021, 12): 820, (2023, 12): 1100, (2024, 12): 1180, (2025, 12): 1200},
         source=_SEED_MZ, first_year=2021),
    dict(id="mz_nursing_beds_new", name_zh="新增护理型床位", name_en="New nursing-care beds",
         unit="张", domain="民政", kind="count", frequency="month", cumulative=True,
         report_level="county", base=300, growth=0.15, anchors={(2022, 12): 600}, source=_SEED_MZ),
    dict(id="mz_inst_beds_new", name_zh="新增机构养老床位", name_en="New beds in elderly-care institutions",
         unit="张", domain="民政", kind="count", frequency="year", cumulative=False,
         report_level="county", base=380, growth=0.06, anchors={(2022, None): 512}, source=_SEED_MZ),
    dict(id="mz_daycare_centers", name_zh="社区(村)日间照料中心", name_en="Community day-care centres",
         unit="个", domain="民政", kind="count", frequency="year", cumulative=False,
         report_level="township", base=1050, growth=0.07, anchors={(2022, None): 1382}, source=_SEED_MZ),
    dict(id="mz_elder_service_cov", name_zh="县乡村养老服务覆盖率", name_en="Elderly-care service coverage",
         unit="%", domain="民政", kind="rate", frequency="year", cumulative=False,
         report_level="township", base=78.0, growth=3.0, anchors={(2022, None): 91.0}, source=_SEED_MZ,
         denominator_base=1388),
    dict(id="mz_onetime_subsidy_persons", name_zh="一次性生活补贴发放人数", name_en="Recipients of one-off living subsidy",
         unit="人", domain="民政", kind="count", frequency="year", cumulative=False,
         report_level="county", base=0, growth=0, anchors={(2022, None): 112000}, source=_SEED_MZ,
         first_year=2022, last_year=2022),
    dict(id="mz_onetime_subsidy_amount", name_zh="一次性生活补贴发放金额", name_en="One-off living subsidy paid",
         unit="万元", domain="民政", kind="amount", frequency="year", cumulative=False,
         report_level="county", base=0, growth=0, anchors={(2022, None): 2496.1}, source=_SEED_MZ,
         first_year=2022, last_year=2022, decimals=1),
    dict(id="mz_volunteers", name_zh="注册志愿者", name_en="Registered volunteers",
         unit="人", domain="民政", kind="count", frequency="year", cumulative=False,
         report_level="county", base=150000, growth=0.12, anchors={(2022, None): 260000}, source=_SEED_MZ),
    dict(id="mz_volunteer_hours", name_zh="志愿服务时长", name_en="Volunteer service hours",
         unit="万小时", domain="民政", kind="amount", frequency="year", cumulative=False,
         report_level="county", base=70, growth=0.12, anchors={(2022, None): 120}, source=_SEED_MZ, decimals=1),
    dict(id="mz_lottery_sales", name_zh="福利彩票销售额", name_en="Welfare lottery sales",
         unit="万元", domain="民政", kind="amount", frequency="month", cumulative=True,
         report_level="county", base=21000, growth=0.04, anchors={(2022, 12): 25934}, waypoints={(2021, 12): 24841},  # 2021: 25934 / 1.044 ("同比增幅4.4%")
         source=_SEED_MZ, decimals=1),
    dict(id="mz_lottery_fund", name_zh="福彩公益金筹集", name_en="Welfare lottery public-welfare fund",
         unit="万元", domain="民政", kind="amount", frequency="year", cumulative=False,
         report_level="county", base=6900, growth=0.04, anchors={(2022, None): 8320}, source=_SEED_MZ, decimals=1),
    # 医保 — 石峰区 figures come from the seed; the rest of the city is generated around them
    dict(id="yb_resident_insured", name_zh="城乡居民医保参保人数", name_en="Residents enrolled in basic medical insurance",
         unit="人", domain="医保", kind="count", frequency="year", cumulative=False,
         report_level="township", base=2800000, growth=-0.01, anchors={}, source=_SEED_YB,
         county_anchors={("430204", 2023): 192847}),
    dict(id="yb_resident_insured_rate", name_zh="城乡居民医保参保率", name_en="Resident medical insurance enrolment rate",
         unit="%", domain="医保", kind="rate", frequency="year", cumulative=False,
         report_level="township", base=95.5, growth=0.5, anchors={}, source=_SEED_YB,
         county_anchors={("430204", 2023): 100.0}),
    dict(id="yb_service_points", name_zh="医保经办服务网点", name_en="Medical-insurance service points",
         unit="个", domain="医保", kind="count", frequency="year", cumulative=False,
         report_level="township", base=420, growth=0.08, anchors={}, source=_SEED_YB,
         county_anchors={("430204", 2023): 83}),
    dict(id="yb_grids", name_zh="医保服务网格", name_en="Medical-insurance service grids",
         unit="个", domain="医保", kind="count", frequency="year", cumulative=False,
         report_level="township", base=1500, growth=0.05, anchors={}, source=_SEED_YB,
         county_anchors={("430204", 2023): 273}),
    dict(id="yb_proxy_services", name_zh="医保代办服务次数", name_en="Medical-insurance errands done for residents",
         unit="次", domain="医保", kind="count", frequency="month", cumulative=True,
         report_level="township", base=18000, growth=0.12, anchors={}, source=_SEED_YB,
         county_anchors={("430204", 2022): 4763}),
    # 屈原管理区's July 2023 report (seed 001) and 株洲市's own, city-sized figures
    dict(id="yb_medical_aid", name_zh="医疗救助", name_en="Medical assistance",
         unit="人次", domain="医保", kind="count", frequency="month", cumulative=True,
         report_level="county", base=240000, growth=0.05, anchors={}, source=_TASKS_AND_GEN,
         quyuan=dict(base=3000, growth=0.05, anchors={(2023, 7): 3357}, waypoints={(2023, 12): 3720})),
    dict(id="yb_remote_settle_rate", name_zh="异地就医直接结算率", name_en="Direct settlement rate, care outside home area",
         unit="%", domain="医保", kind="rate", frequency="month", cumulative=True,
         report_level="county", base=72.0, growth=4.0, anchors={}, source=_TASKS_AND_GEN,
         denominator_base=150000,
         quyuan=dict(base=72.0, growth=4.0, anchors={(2023, 6): 93.0}, denominator_base=2400)),  # 截至6月底 93%
    # 卫健
    dict(id="wj_two_cancer_screening", name_zh="两癌筛查", name_en="Cervical and breast cancer screening",
         unit="人", domain="卫健", kind="count", frequency="month", cumulative=True,
         report_level="county", base=60000, growth=0.03, anchors={}, source=_TASKS_AND_GEN,
         quyuan=dict(base=950, growth=0.02, anchors={(2023, 7): 1000}, waypoints={(2023, 12): 1000})),
    dict(id="wj_newborn_screening", name_zh="新生儿出生缺陷筛查", name_en="Newborn birth-defect screening",
         unit="人", domain="卫健", kind="count", frequency="month", cumulative=True,
         report_level="county", base=32000, growth=-0.06, anchors={}, source=_TASKS_AND_GEN,
         quyuan=dict(base=420, growth=-0.06, anchors={(2023, 7): 194}, waypoints={(2023, 12): 298})),
    dict(id="wj_maternal_mgmt_rate", name_zh="孕产妇系统管理率", name_en="Maternal systematic management rate",
         unit="%", domain="卫健", kind="rate", frequency="year", cumulative=False,
         report_level="township", base=90.0, growth=0.8, anchors={}, source=_GEN, denominator_base=26000),
    # 人社
    dict(id="rs_skill_training", name_zh="就业技能培训", name_en="Vocational skills training",
         unit="人", domain="人社", kind="count", frequency="month", cumulative=True,
         report_level="county", base=21000, growth=0.02, anchors={}, source=_TASKS_AND_GEN,
         quyuan=dict(base=820, growth=0.01, anchors={(2023, 7): 453}, waypoints={(2023, 12): 861})),
    dict(id="rs_new_urban_jobs", name_zh="新增城镇就业", name_en="New urban jobs",
         unit="人", domain="人社", kind="count", frequency="month", cumulative=True,
         report_level="county", base=45000, growth=0.01, anchors={}, source=_TASKS_AND_GEN,
         quyuan=dict(base=1450, growth=0.01, anchors={(2023, 7): 1123}, waypoints={(2023, 12): 1620})),
    dict(id="rs_pension_insured", name_zh="基本养老保险参保人数", name_en="Basic pension insurance enrolment",
         unit="人", domain="人社", kind="count", frequency="year", cumulative=False,
         report_level="county", base=2300000, growth=0.01, anchors={}, source=_TASKS_AND_GEN,
         quyuan=dict(base=72000, growth=0.012, anchors={(2023, None): 76500})),
    # 残联
    dict(id="cl_barrier_free_mod", name_zh="困难残疾人家庭无障碍改造", name_en="Barrier-free home adaptations",
         unit="户", domain="残联", kind="count", frequency="month", cumulative=True,
         report_level="county", base=1100, growth=0.0, anchors={}, source=_TASKS_AND_GEN,
         quyuan=dict(base=70, growth=0.0, anchors={(2023, 7): 60}, waypoints={(2023, 12): 72})),
    dict(id="cl_child_rehab", name_zh="残疾儿童康复救助", name_en="Rehabilitation aid for disabled children",
         unit="人", domain="残联", kind="count", frequency="month", cumulative=True,
         report_level="county", base=1400, growth=0.03, anchors={}, source=_TASKS_AND_GEN,
         quyuan=dict(base=34, growth=0.02, anchors={(2023, 7): 18}, waypoints={(2023, 12): 35})),
    # other departments that report on the same 民生实事 list
    dict(id="ny_farmland", name_zh="高标准农田建设", name_en="High-standard farmland built",
         unit="亩", domain="农业农村", kind="count", frequency="month", cumulative=True,
         report_level="county", base=100000, growth=0.02, anchors={}, source=_TASKS_AND_GEN,
         quyuan=dict(base=4300, growth=0.0, anchors={(2023, 7): 4000}, waypoints={(2023, 12): 4520})),
    dict(id="gx_5g_stations", name_zh="新建5G基站", name_en="New 5G base stations",
         unit="座", domain="工信", kind="count", frequency="month", cumulative=True,
         report_level="county", base=800, growth=0.1, anchors={}, source=_TASKS_AND_GEN,
         quyuan=dict(base=24, growth=0.1, anchors={(2023, 7): 29}, waypoints={(2023, 12): 31})),
    dict(id="zw_xiangyiban_users", name_zh="“湘易办”新增注册", name_en="New users of the Xiangyiban app",
         unit="万人", domain="政务服务", kind="amount", frequency="month", cumulative=True,
         report_level="county", base=55.0, growth=0.08, anchors={}, source=_TASKS_AND_GEN, decimals=2,
         quyuan=dict(base=2.6, growth=0.08, anchors={(2023, 7): 2.0}, waypoints={(2023, 12): 3.2})),
]

# 株洲市's 民生实事 tasks for the current year, generated so that some run ahead of 序时进度, some
# behind, two far behind and one is done. (indicator, department, task, target, share of the
# target reached at the data date); each county gets a share of the city's target.
TASKS = [
    ("rs_skill_training", "人社局", "开展就业技能培训", 24000, 0.73),
    ("rs_new_urban_jobs", "人社局", "新增城镇就业", 48000, 0.88),
    ("ny_farmland", "农业农村局", "建设高标准农田", 115000, 0.91),
    ("yb_medical_aid", "医保局", "实施医疗救助", 380000, 0.86),
    ("wj_newborn_screening", "卫健局", "新生儿出生缺陷免费筛查", 18500, 0.52),
    ("wj_two_cancer_screening", "妇联", "农村适龄妇女“两癌”免费筛查", 76000, 1.0),
    ("cl_barrier_free_mod", "残联", "贫困残疾人家庭无障碍改造", 1200, 0.85),
    ("cl_child_rehab", "残联", "残疾儿童康复救助", 1750, 0.78),
    ("gx_5g_stations", "科工局", "新建5G基站", 1700, 0.94),
    ("zw_xiangyiban_users", "行政审批服务局", "“湘易办”新增注册用户", 110.0, 0.80),
    ("mz_home_aging_mod", "民政局", "困难老年人家庭适老化改造", 1200, 0.90),
    ("mz_nursing_beds_new", "民政局", "新增养老机构护理型床位", 1000, 0.61),
    ("yb_proxy_services", "医保局", "医保业务网格员代办服务", 46000, 0.95),
]

# 屈原管理区's 2023 tasks, as its July report gives them. The report prints the count done and the
# 完成率, not the target; the target is the count over the rate. Where no whole number gives the
# printed rate (194 at 64.6 %: 194/300 is 64.7 %), the target keeps the decimal the rate implies.
QUYUAN_TASKS_2023 = [
    # (indicator, department, task, target)                       the report's words
    ("rs_skill_training", "人社局", "开展就业技能培训", 855),             # 完成培训453人,完成率53%
    ("rs_new_urban_jobs", "人社局", "新增城镇就业", 1501),                # 新增城镇就业1123人,完成率为74.8%
    ("ny_farmland", "农业农村局", "建设高标准农田", 4504),               # 已完成4000亩,完成率88.8%
    ("yb_medical_aid", "医保局", "实施医疗救助", 3401),                  # 医疗救助任务3357人次,完成率98.7%
    ("wj_newborn_screening", "卫健局", "新生儿出生缺陷免费筛查", 300.3),  # 完成194人,完成率64.6%
    ("wj_two_cancer_screening", "妇联", "农村适龄妇女“两癌”免费筛查", 1000),  # 已完成1000人,完成率100%
    ("cl_barrier_free_mod", "残联", "贫困残疾人家庭无障碍改造", 70),      # 任务已完成85.7% (60 of 70)
    ("cl_child_rehab", "残联", "残疾儿童康复救助", 34.8),                # 任务18人,已完成51.7%
    ("gx_5g_stations", "科工局", "新建5G基站", 30.2),                    # 新建29座5G基站点,完成96%
    ("zw_xiangyiban_users", "行政审批服务局", "“湘易办”新增注册用户", 3.12),  # 新增注册人数2万人,完成率64.1%
]

# 屈原管理区's progress notes of July 2023: the report's own words on the work behind three of its tasks.
# 责任人 are posts of the bureaus, not people.
QUYUAN_NOTES_2023_07 = [
    # (indicator, 进展情况, 责任人)
    ("yb_medical_aid", "已实现屈原人民医院职工普通门诊异地结算；实现省内参保人员43个门诊慢特病治疗费用在我区定点医疗机构"
     "直接结算；4个乡镇（街道）、32个村（社区）医保经办服务事项直办或帮代办全覆盖", "区医保局待遇保障股负责人"),
    ("wj_two_cancer_screening", "区妇联、区卫健局牵头印发“两癌”免费检查实施方案，提前完成全年目标任务",
     "区妇联权益部负责人"),
    ("zw_xiangyiban_users", "建立“湘易办”政务版管理员联系群，收集完成全区所有单位管理员信息", "区行政审批服务局办公室负责人"),
]
