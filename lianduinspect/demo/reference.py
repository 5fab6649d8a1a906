"""Static reference data for the Liandu demo: departments, areas, squads, scene checklists, name parts.

Plain Python literals, no I/O. The areas, departments and enforcement modes follow the bureau's
2022 report (seed/000_*.txt); the scene checklists follow the 综合查一次 scenes Zhejiang districts
publish. A legal basis names an article only where the article's wording was checked against the
current text (大气污染防治法 2018, 食品安全法 2021, 消防法 2021, 固体废物污染环境防治法 2020, 噪声污染
防治法 2021, 计量法 2018, 城市市容和环境卫生管理条例 2017, 公共场所卫生管理条例 2019, 娱乐场所管理
条例 2020, 互联网上网服务营业场所管理条例 2022, 农药管理条例 2022, 城乡规划法 2019 第四十条, 广告法
2021 第九条、第四十二条); otherwise it names the law alone, rather than guess a number.
"""
from __future__ import annotations

# Liandu district's box; every demo coordinate lies inside it.
LIANDU_BOUNDS = {"lat_min": 28.2, "lat_max": 28.7, "lon_min": 119.6, "lon_max": 120.1}
DIVISION = "331102"  # 丽水市莲都区
ADDRESS_PREFIX = "丽水市莲都区"

# The "1+7": comprehensive enforcement plus seven professional departments.
DEPARTMENTS = [
    {"code": "zhzf", "name": "综合行政执法", "short": "综合执法"},
    {"code": "scjg", "name": "市场监督管理", "short": "市场监管"},
    {"code": "sthj", "name": "生态环境", "short": "生态环境"},
    {"code": "jtys", "name": "交通运输", "short": "交通运输"},
    {"code": "whsc", "name": "文化市场", "short": "文化市场"},
    {"code": "nync", "name": "农业农村", "short": "农业农村"},
    {"code": "yjgl", "name": "应急管理", "short": "应急管理"},
    {"code": "wsjk", "name": "卫生健康", "short": "卫生健康"},
]

# Fifteen areas. mode: 赋权 (the five streets, 南明山, 碧湖, 大港头), 派驻 (雅溪, 老竹, 太平, 黄村),
# 辐射 (仙渡, 丽新, 峰源). `roads` mixes streets and villages (names ending in 村); `radius_km`
# is how far demo targets scatter around the centre.
AREAS = [
    {"code": "zijin", "name": "紫金街道", "kind": "街道", "mode": "赋权", "lat": 28.4520, "lon": 119.9180,
     "roads": ["中山街", "大众街", "解放街", "丽阳街", "人民街", "丽青路", "继光街", "应星街"],
     "radius_km": 1.2},
    {"code": "yanquan", "name": "岩泉街道", "kind": "街道", "mode": "赋权", "lat": 28.4680, "lon": 119.9040,
     "roads": ["岩泉街", "丽青路", "大洋路", "北苑路", "寿尔福路", "花园路", "城北街"],
     "radius_km": 1.2},
    {"code": "wanxiang", "name": "万象街道", "kind": "街道", "mode": "赋权", "lat": 28.4470, "lon": 119.9020,
     "roads": ["括苍路", "灯塔街", "三岩寺路", "城西路", "宛山路", "万象路", "丽阳街"],
     "radius_km": 1.2},
    {"code": "baiyun", "name": "白云街道", "kind": "街道", "mode": "赋权", "lat": 28.4780, "lon": 119.9250,
     "roads": ["白云路", "城北路", "北环路", "东升路", "白云山路", "江滨路", "中东路"],
     "radius_km": 1.2},
    {"code": "liancheng", "name": "联城街道", "kind": "街道", "mode": "赋权", "lat": 28.4280, "lon": 119.8820,
     "roads": ["联城大道", "城南路", "江南路", "五一路", "港口村", "下河村", "上河村", "三峰村", "赵村"],
     "radius_km": 2.0},
    {"code": "nanmingshan", "name": "南明山街道", "kind": "街道", "mode": "赋权", "lat": 28.4210, "lon": 119.9170,
     "roads": ["南明路", "绿谷大道", "石牛路", "云景路", "南明山路", "周巷村", "高畈村", "水阁村"],
     "radius_km": 2.0},
    {"code": "bihu", "name": "碧湖镇", "kind": "镇", "mode": "赋权", "lat": 28.3400, "lon": 119.8000,
     "roads": ["碧湖大街", "新合路", "碧湖新城路", "平原村", "郎奇村", "白桥村", "缸窑村", "南山村", "堰头村",
               "上赵村"],
     "radius_km": 3.5},
    {"code": "dagangtou", "name": "大港头镇", "kind": "镇", "mode": "赋权", "lat": 28.3000, "lon": 119.7000,
     "roads": ["古堰画乡大道", "大港头村", "利山村", "河边村", "雅里村", "蛤湖村", "玉溪村"],
     "radius_km": 3.5},
    {"code": "yaxi", "name": "雅溪镇", "kind": "镇", "mode": "派驻", "lat": 28.5500, "lon": 119.8300,
     "roads": ["雅溪大街", "雅溪口村", "里东村", "高溪村", "吴岙村", "石笕村", "岩下村"],
     "radius_km": 3.5},
    {"code": "laozhu", "name": "老竹畲族镇", "kind": "镇", "mode": "派驻", "lat": 28.5600, "lon": 120.0300,
     "roads": ["老竹大街", "沙溪村", "老竹村", "曳岭村", "上坪村", "新陶村", "大岭根村"],
     "radius_km": 3.0},
    {"code": "taiping", "name": "太平乡", "kind": "乡", "mode": "派驻", "lat": 28.3900, "lon": 119.9800,
     "roads": ["太平村", "下岙村", "岩门村", "南坪村", "沙坑村", "上岙村"],
     "radius_km": 3.0},
    {"code": "huangcun", "name": "黄村乡", "kind": "乡", "mode": "派驻", "lat": 28.6200, "lon": 119.9300,
     "roads": ["黄村村", "夏弄村", "水竹村", "石牛坑村", "大坑村", "坦头村"],
     "radius_km": 3.0},
    {"code": "xiandu", "name": "仙渡乡", "kind": "乡", "mode": "辐射", "lat": 28.4900, "lon": 119.7900,
     "roads": ["仙渡村", "新合村", "港口源村", "瓯南村", "下徐村", "梅溪村"],
     "radius_km": 3.0},
    {"code": "lixin", "name": "丽新畲族乡", "kind": "乡", "mode": "辐射", "lat": 28.5400, "lon": 119.9900,
     "roads": ["丽新村", "黄泥墩村", "塘里村", "沈村", "畲坑村", "石门村"],
     "radius_km": 3.0},
    {"code": "fengyuan", "name": "峰源乡", "kind": "乡", "mode": "辐射", "lat": 28.6600, "lon": 119.8600,
     "roads": ["峰源村", "四都村", "西坑村", "双溪村", "大坪村", "高岭村"],
     "radius_km": 3.0},
]

# Ten squads; every area belongs to exactly one.
SQUADS = [
    {"code": "chengdong", "name": "城东中队", "area_codes": ["zijin", "baiyun"]},
    {"code": "chengxi", "name": "城西中队", "area_codes": ["wanxiang", "yanquan"]},
    {"code": "liancheng", "name": "联城中队", "area_codes": ["liancheng"]},
    {"code": "nanmingshan", "name": "南明山中队", "area_codes": ["nanmingshan"]},
    {"code": "bihu", "name": "碧湖中队", "area_codes": ["bihu"]},
    {"code": "dagangtou", "name": "大港头中队", "area_codes": ["dagangtou"]},
    {"code": "yaxi", "name": "雅溪派驻中队", "area_codes": ["yaxi"]},
    {"code": "laozhu", "name": "老竹派驻中队", "area_codes": ["laozhu"]},
    {"code": "taihuang", "name": "太平黄村派驻中队", "area_codes": ["taiping", "huangcun"]},
    {"code": "xianlifeng", "name": "仙渡丽新峰源中队", "area_codes": ["xiandu", "lixin", "fengyuan"]},
]

# Departments (besides 综合行政执法, which every squad has) seconded to each squad's inspectors.
SQUAD_DEPARTMENTS = {
    "chengdong": ["scjg", "yjgl", "whsc"],
    "chengxi": ["scjg", "sthj", "wsjk"],
    "liancheng": ["sthj", "yjgl", "jtys"],
    "nanmingshan": ["jtys", "sthj", "scjg"],
    "bihu": ["nync", "sthj", "yjgl"],
    "dagangtou": ["scjg", "wsjk", "nync"],
    "yaxi": ["nync", "scjg", "sthj"],
    "laozhu": ["nync", "yjgl", "wsjk"],
    "taihuang": ["sthj", "nync", "scjg"],
    "xianlifeng": ["nync", "whsc", "yjgl"],
}

CATEGORIES = {
    "restaurant": "餐饮服务单位",
    "construction_site": "建筑工地",
    "sand_gravel": "砂石加工点",
    "homestay": "民宿农家乐",
    "auto_repair": "机动车维修",
    "entertainment": "歌舞娱乐场所",
    "gas_station": "加油站",
    "farm_input": "农资经营店",
    "livestock": "畜禽养殖场",
    "school_shop": "校园周边经营户",
    "field_plot": "农田地块",
    "shop": "沿街商铺",
}

# Law names used below, written once so every citation spells them the same way.
_DAQI = "《中华人民共和国大气污染防治法》"
_SHIPIN = "《中华人民共和国食品安全法》"
_XIAOFANG = "《中华人民共和国消防法》"
_GUFEI = "《中华人民共和国固体废物污染环境防治法》"
_ZAOSHENG = "《中华人民共和国噪声污染防治法》"
_SHIRONG = "《城市市容和环境卫生管理条例》"
_GONGGONG = "《公共场所卫生管理条例》"
_YULE = "《娱乐场所管理条例》"
_SHANGWANG = "《互联网上网服务营业场所管理条例》"
_NONGYAO = "《农药管理条例》"
_GUANGGAO = "《中华人民共和国广告法》"


def _item(code, department, text, legal_basis, severity, photo=True):
    """Return one checklist item as a plain dict."""
    return {"code": code, "department": department, "text": text, "legal_basis": legal_basis,
            "severity": severity, "photo_required_on_fail": photo}


SCENES = [
    {
        "code": "canyin", "name": "餐饮服务场所", "category": "restaurant",
        "cadence": "quarterly", "sample": {"kind": "percent", "value": 20},
        "departments": ["scjg", "zhzf", "yjgl", "wsjk"],
        "items": [
            _item("CY-01", "scjg", "持有有效的食品经营许可证，经营项目与许可范围一致",
                  f"{_SHIPIN}第三十五条", "high"),
            _item("CY-02", "scjg", "从事接触直接入口食品工作的从业人员持有有效健康证明",
                  f"{_SHIPIN}第四十五条", "medium"),
            _item("CY-03", "scjg", "餐具、饮具按要求清洗消毒，保洁柜正常使用，冷藏冷冻设施定期清洗",
                  f"{_SHIPIN}第五十六条", "medium"),
            _item("CY-04", "zhzf", "油烟净化设施已安装并正常使用，油烟达标排放，未对周边居民造成污染",
                  f"{_DAQI}第八十一条", "medium"),
            _item("CY-05", "zhzf", "无跨门经营、占道经营，门前无乱堆乱放",
                  f"{_SHIRONG}第十四条", "low"),
            _item("CY-06", "yjgl", "瓶装液化气钢瓶存放规范，连接软管无老化破损，燃气泄漏报警装置有效",
                  "《城镇燃气管理条例》", "high"),
            _item("CY-07", "yjgl", "灭火器按标准配置且在有效期内，疏散通道、安全出口畅通",
                  f"{_XIAOFANG}第十六条、第二十八条", "high"),
            _item("CY-08", "wsjk", "室内就餐区域张贴禁止吸烟标识，现场无吸烟行为",
                  "《公共场所卫生管理条例实施细则》", "low", photo=False),
        ],
    },
    {
        "code": "gongdi", "name": "建筑工地", "category": "construction_site",
        "cadence": "monthly", "sample": {"kind": "all", "value": 0},
        "departments": ["zhzf", "sthj", "yjgl"],
        "items": [
            _item("JZ-01", "zhzf", "施工工地设置硬质围挡，裸露土方和物料覆盖，出入口冲洗车辆",
                  f"{_DAQI}第六十九条", "medium"),
            _item("JZ-02", "zhzf", "渣土、建筑垃圾及时清运，运输车辆密闭，沿途无遗撒",
                  f"{_DAQI}第七十条；{_SHIRONG}第十五条", "medium"),
            _item("JZ-03", "zhzf", "临街工地设置护栏或围布遮挡，停工场地及时整理并覆盖",
                  f"{_SHIRONG}第十六条", "low"),
            _item("JZ-04", "sthj", "噪声敏感建筑物集中区域无夜间施工；确需连续施工的持有证明并公告",
                  f"{_ZAOSHENG}第四十三条", "medium"),
            _item("JZ-05", "sthj", "在工地公示扬尘污染防治措施、负责人及监督管理部门",
                  f"{_DAQI}第六十九条", "low", photo=False),
            _item("JZ-06", "yjgl", "脚手架搭设规范并经验收，安全网、防护栏杆完好",
                  "《建设工程安全生产管理条例》", "high"),
            _item("JZ-07", "yjgl", "起重机械、提升设施经验收合格，特种作业人员持证上岗",
                  "《建设工程安全生产管理条例》", "high"),
            _item("JZ-08", "yjgl", "动火作业事先审批，电焊、气焊作业人员持证上岗",
                  f"{_XIAOFANG}第二十一条", "medium"),
        ],
    },
    {
        "code": "shashi", "name": "砂石加工点", "category": "sand_gravel",
        "cadence": "monthly", "sample": {"kind": "all", "value": 0},
        "departments": ["zhzf", "sthj", "yjgl"],
        "items": [
            _item("SS-01", "zhzf", "砂石来源合法，能提供采矿许可或砂石来源证明及购销台账",
                  "《中华人民共和国矿产资源法》", "high"),
            _item("SS-02", "zhzf", "场区内无未经规划许可擅自搭建的建（构）筑物",
                  "《中华人民共和国城乡规划法》第四十条", "medium"),
            _item("SS-03", "zhzf", "运输车辆密闭，出场不带泥上路，沿途无遗撒",
                  f"{_DAQI}第七十条", "medium"),
            _item("SS-04", "sthj", "砂石料堆密闭，或设置不低于堆放物高度的严密围挡并有效覆盖",
                  f"{_DAQI}第七十二条", "medium"),
            _item("SS-05", "sthj", "破碎、筛分、装卸环节采取密闭、喷淋等抑尘措施",
                  f"{_DAQI}第四十八条", "medium"),
            _item("SS-06", "sthj", "洗砂废水经沉淀循环利用，无直排河道",
                  "《中华人民共和国水污染防治法》", "high"),
            _item("SS-07", "yjgl", "破碎机、皮带输送机等转动部位防护罩齐全，设备定期维护保养",
                  "《中华人民共和国安全生产法》", "high"),
        ],
    },
    {
        "code": "minsu", "name": "民宿农家乐", "category": "homestay",
        "cadence": "quarterly", "sample": {"kind": "percent", "value": 30},
        "departments": ["scjg", "wsjk", "yjgl", "zhzf"],
        "items": [
            _item("MS-01", "scjg", "提供餐饮服务的持有有效的食品经营许可证",
                  f"{_SHIPIN}第三十五条", "high"),
            _item("MS-02", "scjg", "厨房从业人员持有有效健康证明",
                  f"{_SHIPIN}第四十五条", "medium"),
            _item("MS-03", "wsjk", "住宿经营取得公共场所卫生许可证并在有效期内",
                  f"{_GONGGONG}第八条", "medium"),
            _item("MS-04", "wsjk", "床上用品、毛巾、杯具等顾客用品一客一换并清洗消毒",
                  f"{_GONGGONG}第三条", "low"),
            _item("MS-05", "yjgl", "每层配置灭火器，客房安装独立式感烟火灾探测报警器，疏散通道畅通",
                  f"{_XIAOFANG}第十六条", "high"),
            _item("MS-06", "yjgl", "电动自行车未在楼梯间、疏散通道、客房内停放或充电",
                  f"{_XIAOFANG}第二十八条", "medium"),
            _item("MS-07", "zhzf", "生活垃圾分类投放，无随意倾倒、焚烧",
                  f"{_GUFEI}第四十九条", "low"),
            _item("MS-08", "zhzf", "无未经批准的新建、扩建、搭建",
                  "《中华人民共和国城乡规划法》", "medium"),
        ],
    },
    {
        "code": "qixiu", "name": "汽车维修", "category": "auto_repair",
        "cadence": "quarterly", "sample": {"kind": "fixed", "value": 5},
        "departments": ["jtys", "sthj", "zhzf", "yjgl"],
        "items": [
            _item("QX-01", "jtys", "已办理机动车维修经营备案，备案事项与实际经营一致",
                  "《机动车维修管理规定》", "medium"),
            _item("QX-02", "jtys", "维修档案、竣工出厂合格证管理规范",
                  "《机动车维修管理规定》", "low", photo=False),
            _item("QX-03", "sthj", "喷漆作业在密闭喷漆房内进行，废气处理设施正常运行",
                  f"{_DAQI}第四十五条、第八十四条", "high"),
            _item("QX-04", "sthj", "废机油、废蓄电池等危险废物分类贮存、设置识别标志并建立管理台账",
                  f"{_GUFEI}第七十七条、第七十八条", "high"),
            _item("QX-05", "sthj", "危险废物交有资质单位处置并填写、运行转移联单",
                  f"{_GUFEI}第八十二条", "medium"),
            _item("QX-06", "zhzf", "无占用人行道、公共场地从事车辆维修、洗车作业",
                  f"{_SHIRONG}第十四条", "medium"),
            _item("QX-07", "yjgl", "配置灭火器，油漆稀料等易燃物品专区存放，无违规动火",
                  f"{_XIAOFANG}第二十一条", "high"),
        ],
    },
    {
        "code": "gewu", "name": "歌舞娱乐场所", "category": "entertainment",
        "cadence": "quarterly", "sample": {"kind": "all", "value": 0},
        "departments": ["whsc", "yjgl", "wsjk"],
        "items": [
            _item("GW-01", "whsc", "持有有效的娱乐经营许可证，容纳消费者不超过核定人数",
                  f"{_YULE}第九条", "high"),
            _item("GW-02", "whsc", "播放曲目及屏幕画面不含禁止内容，点歌系统未与境外曲库联接",
                  f"{_YULE}第十八条", "medium"),
            _item("GW-03", "whsc", "未接纳未成年人，显著位置悬挂未成年人禁入标志",
                  f"{_YULE}第二十三条、第三十条", "high"),
            _item("GW-04", "whsc", "凌晨2时至上午8时不营业，服务项目和商品明码标价",
                  f"{_YULE}第二十八条、第二十九条", "low", photo=False),
            _item("GW-05", "yjgl", "营业期间疏散通道和安全出口畅通，疏散指示标志未被遮挡",
                  f"{_YULE}第二十一条；{_XIAOFANG}第二十八条", "high"),
            _item("GW-06", "yjgl", "定期检查消防设施并及时维护，制定应急疏散预案",
                  f"{_YULE}第二十条", "medium"),
            _item("GW-07", "wsjk", "杯具、话筒等顾客用具清洗消毒，空气质量符合卫生要求",
                  f"{_GONGGONG}第三条", "medium"),
            _item("GW-08", "wsjk", "直接为顾客服务的从业人员持有有效健康合格证明",
                  f"{_GONGGONG}第七条", "low", photo=False),
        ],
    },
    {
        "code": "jiayouzhan", "name": "加油站", "category": "gas_station",
        "cadence": "half_yearly", "sample": {"kind": "all", "value": 0},
        "departments": ["yjgl", "scjg", "sthj"],
        "items": [
            _item("JY-01", "yjgl", "持有有效的危险化学品经营许可证",
                  "《危险化学品安全管理条例》", "high"),
            _item("JY-02", "yjgl", "卸油作业规范，防静电接地完好，消防器材配置齐全有效",
                  "《危险化学品安全管理条例》", "high"),
            _item("JY-03", "yjgl", "站区内严禁烟火，无吸烟、使用明火行为",
                  f"{_XIAOFANG}第二十一条", "medium"),
            _item("JY-04", "scjg", "加油机经强制检定合格并在有效期内，铅封完好",
                  "《中华人民共和国计量法》第九条", "high"),
            _item("JY-05", "scjg", "油品质量符合国家标准，油品标识清晰",
                  "《中华人民共和国产品质量法》", "medium"),
            _item("JY-06", "sthj", "油气回收装置已安装并正常使用",
                  f"{_DAQI}第四十七条", "medium"),
            _item("JY-07", "sthj", "油泥、废吸油棉等含油废物按危险废物贮存和处置",
                  f"{_GUFEI}第七十九条", "medium"),
        ],
    },
    {
        "code": "nongzi", "name": "农资经营店", "category": "farm_input",
        "cadence": "quarterly", "sample": {"kind": "fixed", "value": 4},
        "departments": ["nync", "scjg"],
        "items": [
            _item("NZ-01", "nync", "持有有效的农药经营许可证，许可证在经营场所公示",
                  _NONGYAO, "high"),
            _item("NZ-02", "nync", "建立农药采购台账和销售台账，限制使用农药实行实名购买",
                  _NONGYAO, "medium", photo=False),
            _item("NZ-03", "nync", "无禁用农药、假农药、劣质农药，农药标签规范",
                  f"{_NONGYAO}第四十四条、第四十五条", "high"),
            _item("NZ-04", "nync", "回收农药包装废弃物",
                  f"{_NONGYAO}第三十七条", "low"),
            _item("NZ-05", "nync", "销售的种子包装、标签符合规定，种子经营备案齐全",
                  "《中华人民共和国种子法》", "medium"),
            _item("NZ-06", "scjg", "化肥产品质量合格、标识规范，无假冒伪劣肥料",
                  "《中华人民共和国产品质量法》", "medium"),
            _item("NZ-07", "scjg", "营业执照置于经营场所醒目位置",
                  "《中华人民共和国市场主体登记管理条例》", "low", photo=False),
        ],
    },
    {
        "code": "yangzhi", "name": "小型养殖场", "category": "livestock",
        "cadence": "half_yearly", "sample": {"kind": "all", "value": 0},
        "departments": ["nync", "sthj"],
        "items": [
            _item("YZ-01", "nync", "落实强制免疫，规模养殖场持有动物防疫条件合格证",
                  "《中华人民共和国动物防疫法》", "high"),
            _item("YZ-02", "nync", "建立养殖档案，如实记录免疫、用药、出栏等信息",
                  "《中华人民共和国畜牧法》", "medium", photo=False),
            _item("YZ-03", "nync", "病死畜禽按规定无害化处理，无随意丢弃",
                  "《中华人民共和国动物防疫法》", "high"),
            _item("YZ-04", "sthj", "畜禽粪污贮存设施和雨污分流设施完好并正常运行",
                  "《畜禽规模养殖污染防治条例》", "high"),
            _item("YZ-05", "sthj", "及时收集、清运粪污和尸体，无明显恶臭扰民",
                  f"{_DAQI}第七十五条", "medium"),
            _item("YZ-06", "sthj", "养殖场不在禁养区内，养殖污水未直排河道沟渠",
                  "《畜禽规模养殖污染防治条例》；《中华人民共和国水污染防治法》", "high"),
        ],
    },
    {
        "code": "xiaoyuan", "name": "校园周边", "category": "school_shop",
        "cadence": "quarterly", "sample": {"kind": "fixed", "value": 5},
        "departments": ["zhzf", "scjg", "whsc"],
        "items": [
            _item("XY-01", "zhzf", "校门口周边无流动摊贩、占道经营",
                  f"{_SHIRONG}第十四条", "medium"),
            _item("XY-02", "zhzf", "周边建筑物、设施上无乱涂写、乱张贴",
                  f"{_SHIRONG}第十七条", "low"),
            _item("XY-03", "scjg", "预包装食品标签完整，无“三无”食品",
                  f"{_SHIPIN}第三十四条、第六十七条", "high"),
            _item("XY-04", "scjg", "无超过保质期或腐败变质食品，食品按要求贮存",
                  f"{_SHIPIN}第三十四条、第五十四条", "high"),
            _item("XY-05", "whsc", "互联网上网服务营业场所未接纳未成年人，入口悬挂未成年人禁入标志",
                  f"{_SHANGWANG}第二十一条", "high"),
            _item("XY-06", "whsc", "网吧核对、登记上网消费者有效身份证件，营业时间符合规定",
                  f"{_SHANGWANG}第二十二条、第二十三条", "medium", photo=False),
            _item("XY-07", "whsc", "无销售含有违禁内容的出版物、卡片和玩具",
                  "《出版管理条例》", "medium"),
        ],
    },
    {
        "code": "jiegan", "name": "秸秆禁烧", "category": "field_plot",
        "cadence": "monthly", "sample": {"kind": "percent", "value": 50},
        "departments": ["zhzf", "sthj", "nync"],
        "items": [
            _item("JG-01", "zhzf", "田块及周边无露天焚烧秸秆、落叶痕迹",
                  f"{_DAQI}第七十七条", "high"),
            _item("JG-02", "zhzf", "田间地头无焚烧垃圾、农膜、塑料等物质",
                  f"{_DAQI}第八十二条", "medium"),
            _item("JG-03", "zhzf", "网格员禁烧巡查记录完整，禁烧告知到户",
                  "《浙江省大气污染防治条例》", "low", photo=False),
            _item("JG-04", "sthj", "“蓝天卫士”监控点位周边无火点、烟点",
                  f"{_DAQI}第七十七条", "medium"),
            _item("JG-05", "nync", "秸秆已还田或离田收储，综合利用措施落实",
                  f"{_DAQI}第七十六条", "low"),
        ],
    },
    {
        "code": "dianzhao", "name": "户外广告与店招", "category": "shop",
        "cadence": "quarterly", "sample": {"kind": "percent", "value": 15},
        "departments": ["zhzf", "scjg"],
        "items": [
            _item("GG-01", "zhzf", "大型户外广告经同意并办理审批手续，设置位置与审批一致",
                  f"{_SHIRONG}第十一条", "medium"),
            _item("GG-02", "zhzf", "店招店牌牢固安全，无破损、松动、脱落隐患",
                  f"{_SHIRONG}第十一条", "high"),
            _item("GG-03", "zhzf", "户外广告不影响交通安全设施、消防设施使用，不损害市容市貌",
                  f"{_GUANGGAO}第四十二条", "medium"),
            _item("GG-04", "zhzf", "无跨门经营，门前无乱堆乱放",
                  f"{_SHIRONG}第十四条", "low"),
            _item("GG-05", "scjg", "广告内容真实合法，无“国家级”“最高级”“最佳”等禁用用语",
                  f"{_GUANGGAO}第九条", "medium"),
            _item("GG-06", "scjg", "营业执照置于经营场所醒目位置，店招名称与登记名称相符",
                  "《中华人民共和国市场主体登记管理条例》", "low", photo=False),
        ],
    },
]

# --- name parts ---------------------------------------------------------------------------------

# Surnames with their pinyin (for usernames); 叶 吴 陈 周 潘 朱 are common in Lishui, 蓝 雷 钟 are
# the usual She (畲族) surnames of 老竹 and 丽新.
SURNAMES = {
    "叶": "ye", "吴": "wu", "陈": "chen", "周": "zhou", "潘": "pan", "朱": "zhu", "蓝": "lan",
    "雷": "lei", "钟": "zhong", "王": "wang", "李": "li", "张": "zhang", "刘": "liu", "徐": "xu",
    "金": "jin", "何": "he", "林": "lin", "郑": "zheng", "杨": "yang", "黄": "huang", "赵": "zhao",
    "胡": "hu", "季": "ji", "梅": "mei", "毛": "mao", "应": "ying", "卢": "lu", "汤": "tang",
    "鲍": "bao", "邱": "qiu", "沈": "shen", "项": "xiang", "阙": "que", "蒋": "jiang", "程": "cheng",
}
# Surnames drawn more often (weights for the generator).
COMMON_SURNAMES = ["叶", "吴", "陈", "周", "潘", "朱", "王", "李", "张", "刘", "徐", "金", "何", "林"]

GIVEN_CHARS = {
    "建": "jian", "国": "guo", "伟": "wei", "明": "ming", "华": "hua", "军": "jun", "平": "ping",
    "勇": "yong", "杰": "jie", "斌": "bin", "磊": "lei", "强": "qiang", "晓": "xiao", "丽": "li",
    "敏": "min", "静": "jing", "婷": "ting", "燕": "yan", "芳": "fang", "霞": "xia", "俊": "jun",
    "浩": "hao", "宇": "yu", "鹏": "peng", "超": "chao", "涛": "tao", "海": "hai", "峰": "feng",
    "文": "wen", "志": "zhi", "刚": "gang", "红": "hong", "新": "xin", "立": "li", "春": "chun",
    "永": "yong", "卫": "wei", "东": "dong", "雪": "xue", "琳": "lin", "佳": "jia", "晨": "chen",
    "辉": "hui", "欣": "xin", "倩": "qian", "凯": "kai", "毅": "yi", "振": "zhen", "慧": "hui",
    "玲": "ling", "洁": "jie", "颖": "ying", "青": "qing", "瑞": "rui", "松": "song", "荣": "rong",
    "水": "shui", "土": "tu", "根": "gen", "福": "fu", "德": "de", "良": "liang", "忠": "zhong",
}

# Mobile prefixes (China Mobile, Unicom, Telecom).
PHONE_PREFIXES = [
    "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "187", "188",
    "130", "131", "132", "155", "156", "185", "186", "133", "153", "180", "189", "177", "199",
]

# Trade names (字号) reused across categories.
TRADE_NAMES = [
    "老城", "瓯江", "好味道", "丽水人家", "处州", "绿谷", "万象", "白云", "南明", "括苍", "应星",
    "小水门", "大洋", "紫金", "好运来", "鑫源", "恒丰", "兴旺", "顺发", "永盛", "聚福", "金穗",
    "德兴", "福满楼", "惠民", "佳乐", "嘉禾", "一品", "同心", "阿忠", "阿芬", "老叶", "小陈",
    "阿土", "春风", "新世纪", "好客", "乐家", "旺角", "四季", "和顺", "诚信", "广源", "宏达",
]

RESTAURANT_CUISINES = ["", "", "丽水", "缙云", "庆元", "松阳", "青田", "温州", "川味", "湘味", "农家", "畲乡"]
RESTAURANT_KINDS = ["面馆", "小吃店", "饭店", "餐馆", "土菜馆", "快餐店", "火锅店", "烧烤店", "馄饨店",
                    "粉干店", "烧饼店", "酒家"]
RESTAURANT_COMPANY_SUFFIX = "餐饮管理有限公司"

SHOP_KINDS = ["服装店", "眼镜店", "手机店", "超市", "鞋店", "母婴用品店", "茶叶店", "烟酒商行", "五金店",
              "水果店", "理发店", "布艺店", "家电商行", "电动车行", "花店", "副食品店"]
SCHOOL_SHOP_KINDS = ["文具店", "便利店", "小卖部", "奶茶店", "书店", "玩具店", "文体用品店"]
NET_CAFE_KINDS = ["网吧", "网络会所"]

CONSTRUCTION_FIRMS = [
    "城建", "华宇", "恒达", "瓯江", "绿谷", "处州", "万地", "丽景", "新联", "鼎盛", "宏基", "金鹰",
    "中兴", "远大", "盛华", "天元", "永安", "建兴", "恒信", "华厦", "东方", "正宇", "顺通", "联诚",
    "博达", "江南", "凯旋", "立新", "嘉业", "大成", "宏图", "恒通",
]
CONSTRUCTION_FIRM_KINDS = ["建设有限公司", "建筑工程有限公司", "市政工程有限公司"]
# Projects of the kind found in the city streets, and in the towns and townships.
CONSTRUCTION_PROJECTS_URBAN = [
    "安置房", "商住楼", "道路改造", "雨污管网改造", "小学扩建", "文体中心", "邻里中心", "停车场",
    "标准厂房", "老旧小区改造", "人才公寓", "污水处理站",
]
CONSTRUCTION_PROJECTS_RURAL = [
    "安置房", "农房改造", "美丽乡村提升", "村道硬化", "文化礼堂", "农村饮用水提升", "防洪堤加固",
    "卫生院迁建", "中心小学扩建", "污水处理终端",
]
# Projects named in the bureau's 2022 report, by area.
SEED_PROJECTS = {
    "bihu": ["碧湖新城安置房", "碧湖白桥白口双创园", "碧湖古井新村"],
    "liancheng": ["联城邻里中心"],
    "yaxi": ["高溪工业园区标准厂房"],
}

SAND_KINDS = ["砂石加工厂", "砂石加工场", "建材经营部"]
SAND_COMPANY_KINDS = ["砂石有限公司", "建材有限公司"]

HOMESTAY_NAMES = [
    "溪山居", "云栖", "画乡小院", "瓯江人家", "竹里馆", "山舍", "枫林晚", "听溪", "半山", "归园", "青瓦",
    "稻香", "望山楼", "古樟", "隐庐", "桃源", "雅舍", "松风", "栖云", "水岸", "拾光", "南山居",
    "畲家", "老屋", "花间", "清风", "田园", "石径",
]
HOMESTAY_KINDS = ["民宿", "民宿", "农家乐"]

AUTO_REPAIR_KINDS = ["汽车维修服务部", "汽车修理厂", "汽车维修中心", "汽车快修店"]
AUTO_REPAIR_COMPANY_KINDS = ["汽车服务有限公司", "汽车维修有限公司"]

ENTERTAINMENT_NAMES = ["星光", "金曲", "欢唱", "好声音", "麦霸", "欢乐颂", "魅力", "红人", "乐迪", "金嗓子",
                       "音乐盒", "K歌坊", "星空", "纯唱", "时代"]
ENTERTAINMENT_KINDS = ["KTV", "量贩式歌舞厅", "音乐会所"]

GAS_STATION_OWNERS = [
    "中国石化销售股份有限公司浙江丽水石油分公司",
    "中国石油天然气股份有限公司浙江丽水销售分公司",
]

FARM_INPUT_KINDS = ["农资店", "农资经营部", "种子农药店", "农资服务部"]
LIVESTOCK_KINDS = ["生猪养殖场", "养猪场", "养鸡场", "蛋鸡养殖场", "湖羊养殖场", "肉牛养殖场", "鸭场"]
FIELD_PLOT_KINDS = ["粮食专业合作社", "水稻专业合作社"]
FIELD_NAMES = ["上畈", "下畈", "大畈", "后垟", "前垟", "田心", "塘下", "溪边", "岗头", "洋田"]
