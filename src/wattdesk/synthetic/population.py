"""The customer population of a synthetic county (pure numpy: no Django, no clock, no I/O).

``draw_population(n=..., rng=..., reference_year=...)`` returns column arrays, one entry per account (one
customer, one account, one service point and one meter per account), sorted by region and reading route
so that routes and transformer areas are contiguous blocks. Every number used here is explained in
docs/synthetic-county.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wattdesk.synthetic import profiles as prof
from wattdesk.synthetic.profiles import ARCHETYPES, COMPONENT_INDEX, COMPONENTS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CLASSES: tuple[str, ...] = ("residential", "commercial", "industrial", "agricultural")
RES, COM, IND, AGR = 0, 1, 2, 3
#: Share of accounts by customer class (用电类别).
CLASS_SHARES = (0.852, 0.100, 0.015, 0.033)

HOURS_PER_MONTH = 8760.0 / 12.0

# A fictional county (清溪县) placed around 30.0 N, 120.5 E (northern Zhejiang plain).
COUNTY_NAME = "清溪县"
#: (code, name, lat, lon, share of accounts)
TOWNSHIPS: tuple[tuple[str, str, float, float, float], ...] = (
    ("QX01", "城关镇", 30.012, 120.508, 0.34),
    ("QX02", "东湖镇", 30.046, 120.612, 0.18),
    ("QX03", "南塘镇", 29.918, 120.531, 0.16),
    ("QX04", "西山乡", 29.987, 120.372, 0.12),
    ("QX05", "北港镇", 30.121, 120.474, 0.13),
    ("QX06", "桃源乡", 29.862, 120.418, 0.07),
)

PUNCTUALITY = ("punctual", "late", "chronic")
CHANNELS = ("mobile", "counter", "bank", "collector")

# Payment channel by age band of the account holder (individuals) and for enterprises.
_AGE_BANDS = (0, 40, 60, 75, 200)
_CHANNEL_BY_AGE = np.array(
    [
        [0.80, 0.05, 0.12, 0.03],  # < 40
        [0.55, 0.15, 0.20, 0.10],  # 40-59
        [0.25, 0.30, 0.20, 0.25],  # 60-74
        [0.08, 0.37, 0.15, 0.40],  # 75+
    ]
)
_CHANNEL_ENTERPRISE = np.array([0.30, 0.10, 0.60, 0.00])
# Punctuality by class (residential, commercial, industrial, agricultural).
_PUNCTUALITY_BY_CLASS = np.array(
    [
        [0.78, 0.18, 0.04],
        [0.70, 0.24, 0.06],
        [0.88, 0.11, 0.01],
        [0.72, 0.22, 0.06],
    ]
)
#: Beta(a, b) of the risk score by punctuality.
_RISK_BETA = ((2.0, 12.0), (4.0, 8.0), (7.0, 4.0))

TRANSFORMER_SIZES_KVA = (315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000)
_TRANSFORMER_WEIGHTS = (14, 14, 12, 14, 10, 10, 7, 6, 4, 3, 3, 2, 1)
CT_RATIOS = (30, 40, 50, 60, 80, 100, 120, 150, 160, 200)
_SMALL_KVA = (4, 6, 8, 10, 16, 20, 30, 50, 80, 100, 160, 200, 250)

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹孟熊秦邱江尹薛"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文红玉兰海林春梅志忠德福荣永祥宝金凤云珍斌浩宇欣怡子涵晨阳"
_SHOP_WORDS = (
    "便利店",
    "超市",
    "饭店",
    "五金店",
    "理发店",
    "药房",
    "服装店",
    "农资店",
    "茶楼",
    "宾馆",
    "汽修厂",
    "快递站",
)
_FIRM_WORDS = ("纺织", "印染", "机械", "五金", "化纤", "塑料", "电子", "食品", "家具", "建材", "轴承", "包装")
_FIRM_SUFFIX = ("有限公司", "股份有限公司", "实业有限公司")
_COOP_WORDS = ("排灌站", "农业合作社", "家庭农场", "水产养殖场", "育秧中心")
_VILLAGES = "东西南北上下前后大小新老"


@dataclass(frozen=True)
class Population:
    """Columns of the drawn population (index = account)."""

    n: int
    customer_class: IntArray  # index into CLASSES
    archetype: list[str]  # key of profiles.ARCHETYPES
    shares: FloatArray  # (n, len(COMPONENTS)) component shares, rows sum to 1
    mean_kw: FloatArray  # annual mean load, kW
    region: IntArray  # index into TOWNSHIPS
    route: IntArray  # 0..n_routes-1, contiguous within a region
    route_region: IntArray  # region of each route
    transformer_area: IntArray  # -1 = dedicated transformer (专变), no public 台区
    area_region: IntArray  # region of each transformer area
    area_kva: IntArray  # capacity of each public transformer area
    lat: FloatArray
    lon: FloatArray
    birth_year: IntArray  # 0 = not a person
    names: list[str]
    addresses: list[str]
    phones: list[str]
    protected: BoolArray
    punctuality: IntArray  # index into PUNCTUALITY
    channel: IntArray  # index into CHANNELS
    risk: FloatArray
    capacity_kva: FloatArray
    voltage_kv: list[str]
    contract_kw: FloatArray  # nan = none
    pf_standard: FloatArray  # nan = not assessed
    pf: FloatArray  # the account's typical power factor (nan = no reactive metering)
    multiplier: IntArray
    tariff_key: list[str]  # key of synth.catalog.WANTED: residential, residential_tou, commercial, ...
    basic_method: list[str]  # "" | capacity | demand
    opened_year: IntArray
    vacant: BoolArray

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.customer_class, minlength=len(CLASSES))
        return {c: int(counts[i]) for i, c in enumerate(CLASSES)}


def industrial_peak_factors() -> FloatArray:
    """Peak / mean of the 1-, 2- and 3-shift components (weather-independent)."""
    ax = prof.hour_axis(prof.REFERENCE_START, prof.REFERENCE_END)
    comps = prof.components(ax, seed=0)
    names = ("ind_1shift", "ind_2shift", "ind_3shift")
    return np.array([comps[COMPONENT_INDEX[c]].max() for c in names])


def _choice_rows(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    """One categorical draw per row of a (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = np.asarray(rng.random(probs.shape[0]))[:, None]
    out: IntArray = (u > cum).sum(axis=1).astype(np.int64)
    return out


def _class_counts(n: int) -> IntArray:
    """Largest-remainder split of n accounts over CLASS_SHARES (exact, deterministic)."""
    raw = np.array(CLASS_SHARES, dtype=np.float64) * n
    counts: IntArray = np.floor(raw).astype(np.int64)
    rest = n - int(counts.sum())
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def _chunks(total: int, lo: int, hi: int, rng: np.random.Generator) -> list[int]:
    """Split `total` items into consecutive chunk sizes in [lo, hi] (the last one may be smaller)."""
    sizes: list[int] = []
    left = total
    while left > 0:
        size = int(rng.integers(lo, hi + 1))
        if left - size < lo // 2:
            size = left
        sizes.append(min(size, left))
        left -= sizes[-1]
    return sizes


def draw_population(*, n: int, rng: np.random.Generator, reference_year: int) -> Population:
    """Draw `n` accounts. `reference_year` is the year of the latest billing period (ages are counted to it)."""
    if n < 1:
        raise ValueError("n must be >= 1")
    counts = _class_counts(n)
    cls = np.repeat(np.arange(len(CLASSES)), counts).astype(np.int64)
    cls = cls[rng.permutation(n)]

    # --- where: township, then sorted so routes / areas are contiguous -----------------------------------
    town_p = np.array([t[4] for t in TOWNSHIPS])
    region = rng.choice(len(TOWNSHIPS), size=n, p=town_p / town_p.sum()).astype(np.int64)
    order = np.lexsort((cls, region))  # by region, LV customers and industry interleaved by class
    cls, region = cls[order], region[order]

    route = np.empty(n, dtype=np.int64)
    route_region: list[int] = []
    area = np.full(n, -1, dtype=np.int64)
    area_region: list[int] = []
    area_kva: list[int] = []
    for r in range(len(TOWNSHIPS)):
        idx = np.flatnonzero(region == r)
        # Reading routes (抄表段): 200-400 accounts each.
        pos = 0
        for size in _chunks(idx.size, 200, 400, rng):
            route[idx[pos : pos + size]] = len(route_region)
            route_region.append(r)
            pos += size
        # Public transformer areas (公变台区): 40-160 low-voltage customers each; industry has its own 专变.
        lv = idx[cls[idx] != IND]
        pos = 0
        for size in _chunks(lv.size, 40, 160, rng):
            area[lv[pos : pos + size]] = len(area_region)
            area_region.append(r)
            area_kva.append(int(rng.choice([200, 315, 400, 500, 630], p=[0.15, 0.3, 0.3, 0.15, 0.1])))
            pos += size

    lat0 = np.array([t[2] for t in TOWNSHIPS])[region]
    lon0 = np.array([t[3] for t in TOWNSHIPS])[region]
    lat = np.round(lat0 + rng.normal(0, 0.018, n), 6)
    lon = np.round(lon0 + rng.normal(0, 0.022, n), 6)

    is_res, is_com, is_ind, is_agr = (cls == RES), (cls == COM), (cls == IND), (cls == AGR)

    # --- who --------------------------------------------------------------------------------------------
    # Household heads in a county: older than the national adult average (young people work in cities).
    age = np.clip(np.round(rng.normal(54.0, 14.0, n)), 22, 96).astype(np.int64)
    birth_year = np.where(is_res, reference_year - age, 0).astype(np.int64)
    band = np.searchsorted(_AGE_BANDS, age, side="right") - 1
    ch_p = np.where(is_res[:, None], _CHANNEL_BY_AGE[band], _CHANNEL_ENTERPRISE[None, :])
    channel = _choice_rows(rng, ch_p)
    pun_p = _PUNCTUALITY_BY_CLASS[cls].copy()
    young, old = is_res & (age < 35), is_res & (age >= 65)
    pun_p[young] = pun_p[young] * np.array([0.88, 1.35, 1.4])  # young households pay late more often
    pun_p[old] = pun_p[old] * np.array([1.10, 0.6, 0.5])  # the elderly are the most punctual
    punctuality = _choice_rows(rng, pun_p)
    risk = np.empty(n)
    for k, (a, b) in enumerate(_RISK_BETA):
        m = punctuality == k
        risk[m] = rng.beta(a, b, int(m.sum()))
    risk = np.round(risk, 3)
    protected = is_res & (rng.random(n) < 0.004)  # life-support equipment, registered vulnerable households

    # --- consumption ------------------------------------------------------------------------------------
    n_comp = len(COMPONENTS)
    shares = np.zeros((n, n_comp))
    archetype = [""] * n
    monthly_kwh = np.zeros(n)
    vacant = np.zeros(n, dtype=bool)

    # Residential: 5% vacant dwellings (空置房), the rest lognormal, median ~225 kWh/month, sigma 0.62;
    # elderly households use less, young families more.
    r_idx = np.flatnonzero(is_res)
    vac = rng.random(r_idx.size) < 0.05
    vacant[r_idx[vac]] = True
    age_factor = np.select([age[r_idx] >= 75, age[r_idx] >= 60, age[r_idx] < 40], [0.72, 0.88, 1.12], 1.0)
    m_res = np.exp(rng.normal(np.log(225.0), 0.62, r_idx.size)) * age_factor
    m_res[vac] = np.exp(rng.normal(np.log(4.0), 0.8, int(vac.sum())))
    monthly_kwh[r_idx] = m_res
    cool = np.clip(rng.normal(0.20, 0.06, r_idx.size), 0.02, 0.36)
    heat = np.clip(rng.normal(0.12, 0.06, r_idx.size), 0.0, 0.35)
    cool[vac], heat[vac] = 0.0, 0.0
    shares[r_idx, COMPONENT_INDEX["res_cooling"]] = cool
    shares[r_idx, COMPONENT_INDEX["res_heating"]] = heat
    shares[r_idx, COMPONENT_INDEX["res_base"]] = 1.0 - cool - heat
    for i in r_idx.tolist():
        archetype[i] = "residential"

    # Commercial: lognormal, median 2,000 kWh/month, sigma 1.0 (a corner shop to a hotel).
    c_idx = np.flatnonzero(is_com)
    monthly_kwh[c_idx] = np.clip(np.exp(rng.normal(np.log(2000.0), 1.0, c_idx.size)), 60.0, 120_000.0)
    ccool = np.clip(rng.normal(0.22, 0.07, c_idx.size), 0.02, 0.45)
    cheat = np.clip(rng.normal(0.07, 0.04, c_idx.size), 0.0, 0.2)
    shares[c_idx, COMPONENT_INDEX["com_cooling"]] = ccool
    shares[c_idx, COMPONENT_INDEX["com_heating"]] = cheat
    shares[c_idx, COMPONENT_INDEX["com_base"]] = 1.0 - ccool - cheat
    for i in c_idx.tolist():
        archetype[i] = "commercial"

    # Large industry (大工业, >= 315 kVA): transformer size, utilisation hours, shift pattern. The load is
    # kept physical: the expected hourly peak stays below 85% of the transformer (PF ~0.9), moving the
    # customer to a bigger transformer when needed.
    i_idx = np.flatnonzero(is_ind)
    w = np.array(_TRANSFORMER_WEIGHTS, dtype=float)
    sizes = np.array(TRANSFORMER_SIZES_KVA, dtype=float)
    cap_ind = sizes[rng.choice(w.size, size=i_idx.size, p=w / w.sum())]
    kwh_per_kva = np.exp(rng.normal(np.log(300.0), 0.3, i_idx.size))  # monthly kWh per kVA (526号: 260)
    monthly_ind = np.clip(cap_ind * kwh_per_kva, 100_000.0, 2_000_000.0)
    shift = rng.choice(3, size=i_idx.size, p=[0.2, 0.45, 0.35])
    standby = np.clip(rng.normal(0.12, 0.04, i_idx.size), 0.04, 0.25)
    peak_of = industrial_peak_factors()
    ptm = (1.0 - standby) * peak_of[shift] + standby  # peak / mean of the hourly shape
    need_kva = monthly_ind / HOURS_PER_MONTH * ptm * 1.2 / (0.85 * 0.9)  # with 20% noise and 15-min peaks
    cap_ind = np.maximum(cap_ind, sizes[np.clip(np.searchsorted(sizes, need_kva), 0, sizes.size - 1)])
    monthly_ind = np.minimum(monthly_ind, cap_ind * 0.85 * 0.9 / 1.2 / ptm * HOURS_PER_MONTH)
    monthly_kwh[i_idx] = monthly_ind
    for j, i in enumerate(i_idx.tolist()):
        arch = ("industrial_1shift", "industrial_2shift", "industrial_3shift")[shift[j]]
        archetype[i] = arch
        shares[i, COMPONENT_INDEX[ARCHETYPES[arch][0]]] = 1.0 - standby[j]
        shares[i, COMPONENT_INDEX["ind_standby"]] = standby[j]

    # Agriculture: irrigation pumps; annual mean ~450 kWh/month, concentrated May-September.
    a_idx = np.flatnonzero(is_agr)
    monthly_kwh[a_idx] = np.exp(rng.normal(np.log(450.0), 0.8, a_idx.size))
    abase = np.clip(rng.normal(0.12, 0.05, a_idx.size), 0.03, 0.3)
    shares[a_idx, COMPONENT_INDEX["agr_base"]] = abase
    shares[a_idx, COMPONENT_INDEX["agr_irrigation"]] = 1.0 - abase
    for i in a_idx.tolist():
        archetype[i] = "agricultural"

    mean_kw = monthly_kwh / HOURS_PER_MONTH

    # --- supply -----------------------------------------------------------------------------------------
    small = np.array(_SMALL_KVA, dtype=float)
    capacity = np.zeros(n)
    # LV customers: smallest standard size >= 3 x mean load (residential at least 4 kVA, a 20 A supply).
    need = mean_kw * np.where(is_res, 4.0, np.where(is_agr, 2.5, 3.5))
    pick = np.clip(np.searchsorted(small, need), 0, small.size - 1)
    capacity[:] = small[pick]
    capacity[i_idx] = cap_ind
    voltage = np.where(is_ind, "10", np.where(is_res & (capacity <= 8), "0.22", "0.38")).tolist()

    pf_standard = np.full(n, np.nan)
    pf_standard[i_idx] = 0.90
    pf_standard[is_com & (capacity >= 100)] = 0.85
    pf_standard[is_agr & (capacity >= 100)] = 0.80
    pf = np.full(n, np.nan)
    assessed = ~np.isnan(pf_standard)
    # Typical monthly PF: most customers compensate well; a tail does not (0.80-0.97).
    pf[assessed] = np.round(0.80 + 0.17 * rng.beta(5.0, 2.0, int(assessed.sum())), 3)

    multiplier = np.ones(n, dtype=np.int64)
    ct = np.array(CT_RATIOS)
    target = np.clip(cap_ind / 25.0, 30, 200)
    multiplier[i_idx] = ct[np.abs(ct[None, :] - target[:, None]).argmin(axis=1)]
    lv_ct = (is_com | is_agr) & (capacity >= 100)
    multiplier[lv_ct] = rng.choice([20, 30, 40, 60], size=int(lv_ct.sum()))

    # Basic charge: about half of large industry is billed by demand (按需量) with a contract demand
    # between 40% of capacity and the capacity; the rest by transformer capacity (按容量).
    basic_method = [""] * n
    contract_kw = np.full(n, np.nan)
    by_demand = rng.random(i_idx.size) < 0.5
    for j, i in enumerate(i_idx.tolist()):
        basic_method[i] = "demand" if by_demand[j] else "capacity"
    expected_peak = mean_kw[i_idx] * ptm * 1.1
    ck = np.clip(expected_peak * rng.uniform(0.85, 1.2, i_idx.size), 0.4 * cap_ind, cap_ind)
    contract_kw[i_idx[by_demand]] = np.ceil(ck[by_demand] / 10.0) * 10.0

    tariff_key = ["residential"] * n
    res_tou = is_res & ~vacant & (rng.random(n) < np.clip(0.18 + mean_kw * HOURS_PER_MONTH / 1500.0, 0, 0.7))
    for i in range(n):
        c = int(cls[i])
        if c == RES:
            tariff_key[i] = "residential_tou" if res_tou[i] else "residential"
        elif c == COM:
            tariff_key[i] = "commercial"
        elif c == IND:
            tariff_key[i] = f"large_industry_{basic_method[i]}"
        else:
            tariff_key[i] = "agricultural"

    opened_year = np.clip(
        reference_year - np.round(rng.gamma(2.2, 7.0, n)).astype(np.int64), 1985, reference_year - 1
    )

    names, addresses, phones = _identities(rng, cls, region, route, n)
    return Population(
        n=n,
        customer_class=cls,
        archetype=archetype,
        shares=shares,
        mean_kw=mean_kw,
        region=region,
        route=route,
        route_region=np.array(route_region, dtype=np.int64),
        transformer_area=area,
        area_region=np.array(area_region, dtype=np.int64),
        area_kva=np.array(area_kva, dtype=np.int64),
        lat=lat,
        lon=lon,
        birth_year=birth_year,
        names=names,
        addresses=addresses,
        phones=phones,
        protected=protected,
        punctuality=punctuality,
        channel=channel,
        risk=risk,
        capacity_kva=capacity,
        voltage_kv=voltage,
        contract_kw=contract_kw,
        pf_standard=pf_standard,
        pf=pf,
        multiplier=multiplier,
        tariff_key=tariff_key,
        basic_method=basic_method,
        opened_year=opened_year.astype(np.int64),
        vacant=vacant,
    )


def _identities(
    rng: np.random.Generator, cls: IntArray, region: IntArray, route: IntArray, n: int
) -> tuple[list[str], list[str], list[str]]:
    sur = rng.integers(0, len(_SURNAMES), n)
    g1 = rng.integers(0, len(_GIVEN), n)
    g2 = rng.integers(0, len(_GIVEN), n)
    two = rng.random(n) < 0.7
    word = rng.integers(0, 1_000_000, n)
    village = rng.integers(0, len(_VILLAGES), n)
    house = rng.integers(1, 300, n)
    prefix = rng.choice(np.array([133, 135, 136, 137, 138, 139, 150, 151, 158, 159, 177, 180, 186, 189]), n)
    tail = rng.integers(0, 100_000_000, n)
    names: list[str] = []
    addresses: list[str] = []
    phones: list[str] = []
    for i in range(n):
        town = TOWNSHIPS[region[i]][1]
        person = _SURNAMES[sur[i]] + _GIVEN[g1[i]] + (_GIVEN[g2[i]] if two[i] else "")
        c = int(cls[i])
        if c == RES:
            name = person
        elif c == COM:
            name = f"{town[:2]}{person}{_SHOP_WORDS[word[i] % len(_SHOP_WORDS)]}"
        elif c == IND:
            name = (
                f"{COUNTY_NAME[:2]}{_SURNAMES[sur[i]]}{_GIVEN[g1[i]]}{_FIRM_WORDS[word[i] % len(_FIRM_WORDS)]}"
                f"{_FIRM_SUFFIX[(word[i] // 97) % len(_FIRM_SUFFIX)]}"
            )
        else:
            name = f"{town[:2]}{_VILLAGES[village[i]]}{_COOP_WORDS[word[i] % len(_COOP_WORDS)]}"
        names.append(name)
        addresses.append(
            f"浙江省{COUNTY_NAME}{town}{_VILLAGES[village[i]]}{_SURNAMES[sur[i] % 20]}村{house[i]}号"
        )
        phones.append(f"{prefix[i]}{tail[i]:08d}")
    return names, addresses, phones
