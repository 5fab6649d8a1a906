"""Deterministic demo data for Liandu: users of every role and several hundred realistic targets.

`build_demo(seed, targets)` returns plain JSON-able data; the same seed always gives the same data
(one local `random.Random(seed)`, consumed in a fixed order, never the global generator). The DB
loader reads the result; nothing here touches Flask or the database.
"""
from __future__ import annotations

import copy
import math
import random

from ..rules import creditcode
from . import reference as ref

__all__ = ["CATEGORY_SHARES", "build_demo"]

GENERATOR_VERSION = 1

# Share of each category among the targets; the shares sum to 1.
CATEGORY_SHARES = {
    "restaurant": 0.21,
    "shop": 0.145,
    "school_shop": 0.07,
    "construction_site": 0.08,
    "auto_repair": 0.07,
    "entertainment": 0.045,
    "gas_station": 0.04,
    "homestay": 0.10,
    "farm_input": 0.06,
    "livestock": 0.06,
    "sand_gravel": 0.045,
    "field_plot": 0.075,
}

# What kind of place each area is, for where each category of target is found.
_AREA_PROFILE = {
    "zijin": "urban", "yanquan": "urban", "wanxiang": "urban", "baiyun": "urban",
    "liancheng": "suburb", "nanmingshan": "suburb",
    "bihu": "town", "dagangtou": "town",
}
_DEFAULT_PROFILE = "rural"

# Relative weight of an area of each profile for each category (0: none there).
_PROFILE_WEIGHTS = {
    "restaurant":        {"urban": 5, "suburb": 3, "town": 3, "rural": 1},
    "shop":              {"urban": 5, "suburb": 3, "town": 2, "rural": 0.5},
    "school_shop":       {"urban": 4, "suburb": 2, "town": 2, "rural": 0.5},
    "construction_site": {"urban": 2, "suburb": 4, "town": 3, "rural": 1},
    "auto_repair":       {"urban": 2, "suburb": 4, "town": 2, "rural": 0.5},
    "entertainment":     {"urban": 4, "suburb": 2, "town": 1, "rural": 0.3},
    "gas_station":       {"urban": 1, "suburb": 2, "town": 2, "rural": 1},
    "homestay":          {"urban": 0, "suburb": 0.5, "town": 4, "rural": 3},
    "farm_input":        {"urban": 0, "suburb": 1, "town": 3, "rural": 2},
    "livestock":         {"urban": 0, "suburb": 0.5, "town": 2, "rural": 3},
    "sand_gravel":       {"urban": 0, "suburb": 2, "town": 4, "rural": 1.5},
    "field_plot":        {"urban": 0, "suburb": 1, "town": 4, "rural": 3},
}

# Risk mix: most targets are low or medium; hazardous trades lean higher.
_RISK_DEFAULT = (("low", 0.55), ("medium", 0.35), ("high", 0.10))
_RISK_HAZARDOUS = (("low", 0.30), ("medium", 0.50), ("high", 0.20))
_HAZARDOUS = {"gas_station", "entertainment", "sand_gravel", "construction_site"}

INACTIVE_SHARE = 0.03

# Categories whose targets sit in a village when the area has one.
_VILLAGE_CATEGORIES = {"homestay", "livestock", "field_plot", "sand_gravel"}

# Areas with many She (畲族) households, where 蓝 雷 钟 are common surnames.
_SHE_AREAS = {"laozhu", "lixin"}
_SHE_SURNAMES = ["蓝", "雷", "钟"]

# Entity kind -> (registration authority, entity type) of GB 32100: 9 is market regulation;
# 1 enterprise, 2 individual business (个体工商户), 3 farmers' cooperative (农民专业合作社).
_ENTITY_PREFIX = {"company": ("9", "1"), "individual": ("9", "2"), "coop": ("9", "3")}

_KM_PER_DEG_LAT = 111.0


def build_demo(seed: int = 2023, targets: int = 640) -> dict:
    """Return the demo data set for `seed` with `targets` targets, as plain JSON-able values."""
    if not isinstance(targets, int) or targets < 0:
        raise ValueError("targets must be a non-negative integer")
    rng = random.Random(seed)
    return {
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "departments": copy.deepcopy(ref.DEPARTMENTS),
        "areas": copy.deepcopy(ref.AREAS),
        "squads": copy.deepcopy(ref.SQUADS),
        "scenes": copy.deepcopy(ref.SCENES),
        "categories": dict(ref.CATEGORIES),
        "users": _build_users(rng),
        "targets": _build_targets(rng, targets),
    }


# --- people -------------------------------------------------------------------------------------

def _person(rng: random.Random, *, she: bool = False) -> tuple[str, str]:
    """Return a (Chinese name, pinyin) pair."""
    if she and rng.random() < 0.4:
        surname = rng.choice(_SHE_SURNAMES)
    elif rng.random() < 0.6:
        surname = rng.choice(ref.COMMON_SURNAMES)
    else:
        surname = rng.choice(list(ref.SURNAMES))
    given_pool = list(ref.GIVEN_CHARS)
    given = rng.sample(given_pool, 2 if rng.random() < 0.7 else 1)
    name = surname + "".join(given)
    pinyin = ref.SURNAMES[surname] + "".join(ref.GIVEN_CHARS[ch] for ch in given)
    return name, pinyin


def _mobile(rng: random.Random) -> str:
    """Return a plausible 11-digit mainland mobile number."""
    return rng.choice(ref.PHONE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))


def _build_users(rng: random.Random) -> list[dict]:
    """Return the admin, two supervisors, a leader per squad and the squads' inspectors."""
    users: list[dict] = []
    usernames: set[str] = set()
    full_names: set[str] = set()
    certificates = iter(f"33110220{n:04d}" for n in rng.sample(range(1, 10000), 200))

    def person() -> tuple[str, str]:
        while True:
            name, pinyin = _person(rng)
            if name not in full_names:
                full_names.add(name)
                return name, pinyin

    def unique_username(base: str) -> str:
        candidate, n = base, 1
        while candidate in usernames:
            n += 1
            candidate = f"{base}{n}"
        usernames.add(candidate)
        return candidate

    def add(username, full_name, roles, department, squad, certified):
        users.append({
            "username": unique_username(username),
            "full_name": full_name,
            "roles": roles,
            "department": department,
            "squad": squad,
            "certificate_no": next(certificates) if certified else None,
            "phone": _mobile(rng),
        })

    name, _ = person()
    add("admin", name, ["admin"], "zhzf", None, certified=False)
    for _ in range(2):
        name, pinyin = person()
        add(f"dc_{pinyin}", name, ["supervisor"], "zhzf", None, certified=True)
    for squad in ref.SQUADS:
        code = squad["code"]
        name, _ = person()
        # Leaders are certified officers too: they can make up a two-officer team.
        add(f"zdz_{code}", name, ["leader", "inspector"], "zhzf", code, certified=True)
        for department in ["zhzf", *ref.SQUAD_DEPARTMENTS[code]]:
            name, pinyin = person()
            add(pinyin, name, ["inspector"], department, code, certified=True)
    return users


# --- places -------------------------------------------------------------------------------------

def _area_short(area: dict) -> str:
    """Return an area's everyday short name: 老竹畲族镇 -> 老竹, 紫金街道 -> 紫金."""
    name = area["name"]
    for suffix in ("畲族镇", "畲族乡", "街道", "镇", "乡"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _place_short(place: str) -> str:
    """Return a village or road name without its 村/路/街 ending, for use inside trade names."""
    for suffix in ("村", "大道", "大街", "路", "街"):
        if place.endswith(suffix) and len(place) > len(suffix) + 1:
            return place[: -len(suffix)]
    return place


def _jitter(rng: random.Random, lat: float, lon: float, radius_km: float) -> tuple[float, float]:
    """Return a point drawn uniformly from the disc of radius_km around (lat, lon)."""
    distance = radius_km * math.sqrt(rng.random())
    bearing = rng.random() * 2 * math.pi
    dlat = distance * math.cos(bearing) / _KM_PER_DEG_LAT
    dlon = distance * math.sin(bearing) / (_KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def _inside_liandu(lat: float, lon: float) -> tuple[float, float]:
    """Clamp a point into Liandu's box (a small margin inside), rounded to about 0.1 m."""
    b = ref.LIANDU_BOUNDS
    margin = 0.002
    lat = min(max(lat, b["lat_min"] + margin), b["lat_max"] - margin)
    lon = min(max(lon, b["lon_min"] + margin), b["lon_max"] - margin)
    return round(lat, 6), round(lon, 6)


def _anchors(rng: random.Random) -> dict[tuple[str, str], tuple[float, float]]:
    """Return a fixed point for every road and village of every area, so neighbours cluster."""
    anchors = {}
    for area in ref.AREAS:
        for place in area["roads"]:
            anchors[(area["code"], place)] = _jitter(rng, area["lat"], area["lon"], area["radius_km"] * 0.8)
    return anchors


# --- targets ------------------------------------------------------------------------------------

def _category_counts(total: int) -> dict[str, int]:
    """Split `total` over the categories by share, by largest remainder (ties in listing order)."""
    exact = {c: total * share for c, share in CATEGORY_SHARES.items()}
    counts = {c: math.floor(x) for c, x in exact.items()}
    left = total - sum(counts.values())
    by_remainder = sorted(CATEGORY_SHARES, key=lambda c: -(exact[c] - counts[c]))
    for c in by_remainder[:left]:
        counts[c] += 1
    return counts


def _area_weight(category: str, area: dict) -> float:
    return _PROFILE_WEIGHTS[category][_AREA_PROFILE.get(area["code"], _DEFAULT_PROFILE)]


def _weighted(rng: random.Random, pairs):
    """Return one item of (item, weight) pairs, drawn by weight."""
    items = [item for item, _ in pairs]
    weights = [w for _, w in pairs]
    return rng.choices(items, weights=weights, k=1)[0]


def _plan_areas(rng: random.Random, category: str, count: int) -> list[dict]:
    """Return the area of each of `count` targets of a category.

    First one target in every squad that has an area where the category occurs (so every scene
    has something to draw from in most squads), then the rest by area weight.
    """
    areas_by_code = {a["code"]: a for a in ref.AREAS}
    weighted = [(a, _area_weight(category, a)) for a in ref.AREAS if _area_weight(category, a) > 0]
    plan: list[dict] = []
    for squad in ref.SQUADS:
        if len(plan) >= count:
            break
        options = [(areas_by_code[c], _area_weight(category, areas_by_code[c])) for c in squad["area_codes"]]
        options = [(a, w) for a, w in options if w > 0]
        if options:
            plan.append(_weighted(rng, options))
    while len(plan) < count:
        plan.append(_weighted(rng, weighted))
    return plan


def _org9(rng: random.Random, entity: str) -> str:
    """Return positions 9-17: a registry-issued MA… code, or an older 9-digit organisation code."""
    if entity == "company" and rng.random() < 0.3:
        body = "".join(rng.choice("0123456789") for _ in range(8))
        return body + _gb11714_check(body)
    tail = "".join(rng.choice(creditcode.ALPHABET) for _ in range(5))
    return "MA2" + rng.choice("89ABCDEFGHJKLMN") + tail


def _gb11714_check(body8: str) -> str:
    """Return the GB 11714 check digit of an 8-digit organisation code body (10 -> X, 11 -> 0)."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    c = 11 - sum(int(d) * w for d, w in zip(body8, weights)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


class _Namer:
    """Draws target names, keeping every name unique across the data set."""

    def __init__(self):
        self.used: set[str] = set()
        self.firms_used: set[str] = set()

    def unique(self, make) -> str:
        """Return the first fresh name `make()` produces; after many repeats, number it."""
        name = make()
        for _ in range(60):
            if name not in self.used:
                break
            name = make()
        else:
            base, n = name, 2
            while name in self.used:
                name, n = f"{base}（{n}）", n + 1
        self.used.add(name)
        return name


def _pick_place(rng: random.Random, area: dict, category: str) -> str:
    """Return a road or village of the area suited to the category."""
    villages = [p for p in area["roads"] if p.endswith("村")]
    streets = [p for p in area["roads"] if not p.endswith("村")]
    if category in _VILLAGE_CATEGORIES and villages:
        return rng.choice(villages)
    if category in {"restaurant", "shop", "school_shop", "entertainment", "gas_station"} and streets:
        return rng.choice(streets)
    return rng.choice(area["roads"])


def _name_and_entity(rng: random.Random, namer: _Namer, category: str, area: dict, place: str,
                     owner: str, field: str) -> tuple[str, str]:
    """Return (target name, entity kind) for one target of a category."""
    r = ref
    short = _area_short(area)
    pshort = _place_short(place)
    trade = lambda: rng.choice(r.TRADE_NAMES)  # noqa: E731 - a fresh draw at each use

    if category == "restaurant":
        if rng.random() < 0.15:
            return namer.unique(lambda: f"丽水{trade()}{r.RESTAURANT_COMPANY_SUFFIX}"), "company"
        return namer.unique(lambda: f"莲都区{trade()}{rng.choice(r.RESTAURANT_CUISINES)}"
                                    f"{rng.choice(r.RESTAURANT_KINDS)}"), "individual"
    if category == "shop":
        if rng.random() < 0.1:
            return namer.unique(lambda: f"丽水市莲都区{trade()}商贸有限公司"), "company"
        return namer.unique(lambda: f"莲都区{trade()}{rng.choice(r.SHOP_KINDS)}"), "individual"
    if category == "school_shop":
        if rng.random() < 0.2:
            return namer.unique(lambda: f"莲都区{trade()}{rng.choice(r.NET_CAFE_KINDS)}"), "individual"
        return namer.unique(lambda: f"莲都区{trade()}{rng.choice(r.SCHOOL_SHOP_KINDS)}"), "individual"
    if category == "construction_site":
        firm = _fresh_firm(rng, namer)

        def project():
            if area["code"] in r.SEED_PROJECTS and rng.random() < 0.3:
                return rng.choice(r.SEED_PROJECTS[area["code"]])
            profile = _AREA_PROFILE.get(area["code"], _DEFAULT_PROFILE)
            kinds = {"urban": r.CONSTRUCTION_PROJECTS_URBAN, "suburb": r.CONSTRUCTION_PROJECTS_URBAN,
                     "town": r.CONSTRUCTION_PROJECTS_URBAN + r.CONSTRUCTION_PROJECTS_RURAL}
            return f"{rng.choice([short, pshort])}{rng.choice(kinds.get(profile, r.CONSTRUCTION_PROJECTS_RURAL))}"
        return namer.unique(lambda: f"{firm}{project()}项目工地"), "company"
    if category == "sand_gravel":
        if rng.random() < 0.5:
            return namer.unique(lambda: f"丽水{trade()}{rng.choice(r.SAND_COMPANY_KINDS)}"), "company"
        return namer.unique(lambda: f"丽水市莲都区{rng.choice([pshort, short])}"
                                    f"{rng.choice(r.SAND_KINDS)}"), "individual"
    if category == "homestay":
        return namer.unique(lambda: f"莲都区{place}{rng.choice(r.HOMESTAY_NAMES)}"
                                    f"{rng.choice(r.HOMESTAY_KINDS)}"), "individual"
    if category == "auto_repair":
        if rng.random() < 0.25:
            return namer.unique(lambda: f"丽水{trade()}{rng.choice(r.AUTO_REPAIR_COMPANY_KINDS)}"), "company"
        return namer.unique(lambda: f"莲都区{trade()}{rng.choice(r.AUTO_REPAIR_KINDS)}"), "individual"
    if category == "entertainment":
        if rng.random() < 0.5:
            return namer.unique(lambda: f"丽水{rng.choice(r.ENTERTAINMENT_NAMES)}娱乐有限公司"), "company"
        return namer.unique(lambda: f"莲都区{rng.choice(r.ENTERTAINMENT_NAMES)}"
                                    f"{rng.choice(r.ENTERTAINMENT_KINDS)}"), "individual"
    if category == "gas_station":
        if rng.random() < 0.7:
            return namer.unique(lambda: f"{rng.choice(r.GAS_STATION_OWNERS)}"
                                        f"{rng.choice([short, pshort])}加油站"), "company"
        return namer.unique(lambda: f"丽水市莲都区{rng.choice([short, pshort])}加油站有限公司"), "company"
    if category == "farm_input":
        if rng.random() < 0.2:
            return namer.unique(lambda: f"丽水{trade()}农业科技有限公司"), "company"
        return namer.unique(lambda: f"莲都区{rng.choice([short, pshort])}{rng.choice(r.FARM_INPUT_KINDS)}"), \
            "individual"
    if category == "livestock":
        roll = rng.random()
        if roll < 0.5:
            return namer.unique(lambda: f"丽水市莲都区{owner}家庭农场"), "individual"
        if roll < 0.8:
            return namer.unique(lambda: f"莲都区{pshort}{rng.choice(r.LIVESTOCK_KINDS)}"), "individual"
        return namer.unique(lambda: f"丽水市莲都区{pshort}畜禽养殖专业合作社"), "coop"
    if category == "field_plot":
        if rng.random() < 0.6:
            holder, entity = f"丽水市莲都区{owner}家庭农场", "individual"
        else:
            holder, entity = f"丽水市莲都区{pshort}{rng.choice(r.FIELD_PLOT_KINDS)}", "coop"
        return namer.unique(lambda: f"{area['name']}{place}{field}农田（{holder}）"), entity
    raise ValueError(f"unknown category {category!r}")


def _fresh_firm(rng: random.Random, namer: _Namer) -> str:
    """Return a construction company not yet used, so every site has its own contractor's code."""
    for _ in range(200):
        firm = f"丽水{rng.choice(ref.CONSTRUCTION_FIRMS)}{rng.choice(ref.CONSTRUCTION_FIRM_KINDS)}"
        if firm not in namer.firms_used:
            namer.firms_used.add(firm)
            return firm
    return f"丽水{rng.choice(ref.TRADE_NAMES)}{rng.choice(ref.CONSTRUCTION_FIRMS)}建设有限公司"


def _address(rng: random.Random, category: str, area: dict, place: str, field: str) -> str:
    """Return a postal-style address in the area."""
    prefix = f"{ref.ADDRESS_PREFIX}{area['name']}{place}"
    if category == "construction_site":
        return prefix + rng.choice(["东侧地块", "西侧地块", "南侧地块", "北侧地块", "以东", "以南"])
    if category == "field_plot":
        return prefix + field
    if place.endswith("村"):
        return f"{prefix}{rng.randint(1, 260)}号"
    return f"{prefix}{rng.randint(1, 420)}号"


def _contact_phone(rng: random.Random) -> str:
    """Return a mobile number, or now and then a Lishui (0578) landline."""
    if rng.random() < 0.15:
        return "0578-2" + "".join(rng.choice("0123456789") for _ in range(6))
    return _mobile(rng)


def _build_targets(rng: random.Random, total: int) -> list[dict]:
    """Return `total` targets spread over the categories and areas."""
    anchors = _anchors(rng)
    namer = _Namer()
    codes: set[str] = set()
    out: list[dict] = []
    for category, count in _category_counts(total).items():
        for area in _plan_areas(rng, category, count):
            place = _pick_place(rng, area, category)
            she = area["code"] in _SHE_AREAS
            owner, _ = _person(rng, she=she)
            field = rng.choice(ref.FIELD_NAMES)  # the named fields (畈, 垟) of a field plot
            name, entity = _name_and_entity(rng, namer, category, area, place, owner, field)
            registration, entity_type = _ENTITY_PREFIX[entity]
            while True:
                code = creditcode.make(registration, entity_type, ref.DIVISION, _org9(rng, entity))
                if code not in codes:
                    codes.add(code)
                    break
            alat, alon = anchors[(area["code"], place)]
            spread = 0.4 if area["radius_km"] <= 1.5 else 0.8
            lat, lon = _inside_liandu(*_jitter(rng, alat, alon, spread))
            risks = _RISK_HAZARDOUS if category in _HAZARDOUS else _RISK_DEFAULT
            # A family farm's contact is its owner; elsewhere, whoever the business named.
            contact = owner if "家庭农场" in name else _person(rng, she=she)[0]
            out.append({
                "name": name,
                "credit_code": code,
                "category": category,
                "area": area["code"],
                "address": _address(rng, category, area, place, field),
                "lat": lat,
                "lon": lon,
                "risk": _weighted(rng, risks),
                "contact_name": contact,
                "contact_phone": _contact_phone(rng),
                "active": True,
            })
    # About 3% have closed or moved away but are still on the register.
    for i in rng.sample(range(len(out)), round(len(out) * INACTIVE_SHARE)):
        out[i]["active"] = False
    return out
