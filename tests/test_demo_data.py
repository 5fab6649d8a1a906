"""The demo data set: realistic, internally consistent and deterministic."""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

import pytest

from lianduinspect.demo import reference
from lianduinspect.demo.generate import build_demo
from lianduinspect.rules.creditcode import is_valid

ROLES = {"inspector", "leader", "supervisor", "admin"}
LAW = re.compile(r"《[^《》]+》")


@pytest.fixture(scope="module")
def demo():
    return build_demo()


@pytest.fixture(scope="module")
def squad_of_area(demo):
    return {a: s["code"] for s in demo["squads"] for a in s["area_codes"]}


def test_demo_has_every_section(demo):
    assert {"departments", "areas", "squads", "scenes", "categories", "users", "targets"} <= set(demo)


def test_demo_is_json_serialisable(demo):
    assert json.loads(json.dumps(demo, ensure_ascii=False)) == demo


def test_same_seed_gives_the_same_data():
    assert build_demo(seed=7, targets=600) == build_demo(seed=7, targets=600)


def test_different_seeds_give_different_targets():
    a, b = build_demo(seed=1), build_demo(seed=2)
    assert [t["credit_code"] for t in a["targets"]] != [t["credit_code"] for t in b["targets"]]


def test_build_demo_does_not_touch_the_global_random_state():
    import random
    random.seed(99)
    expected = random.random()
    random.seed(99)
    build_demo(seed=3, targets=600)
    assert random.random() == expected


def test_callers_cannot_corrupt_the_reference_data():
    first = build_demo(targets=600)
    first["scenes"][0]["items"].clear()
    first["areas"][0]["roads"].append("x")
    assert build_demo(targets=600)["scenes"][0]["items"]
    assert "x" not in reference.AREAS[0]["roads"]


# --- reference data ------------------------------------------------------------------------------

def test_there_are_the_1_plus_7_departments(demo):
    codes = [d["code"] for d in demo["departments"]]
    assert codes == ["zhzf", "scjg", "sthj", "jtys", "whsc", "nync", "yjgl", "wsjk"]
    assert len({d["name"] for d in demo["departments"]}) == 8


def test_there_are_fifteen_areas_with_the_seeds_enforcement_modes(demo):
    areas = {a["name"]: a for a in demo["areas"]}
    assert len(areas) == 15
    empowered = {"紫金街道", "岩泉街道", "万象街道", "白云街道", "联城街道", "南明山街道", "碧湖镇", "大港头镇"}
    dispatched = {"雅溪镇", "老竹畲族镇", "太平乡", "黄村乡"}
    radiated = {"仙渡乡", "丽新畲族乡", "峰源乡"}
    assert {n for n, a in areas.items() if a["mode"] == "赋权"} == empowered
    assert {n for n, a in areas.items() if a["mode"] == "派驻"} == dispatched
    assert {n for n, a in areas.items() if a["mode"] == "辐射"} == radiated
    for area in demo["areas"]:
        assert area["kind"] in {"街道", "镇", "乡"} and area["name"].endswith(area["kind"])
        assert 6 <= len(area["roads"]) <= 10


def test_every_area_centre_lies_inside_liandu(demo):
    for area in demo["areas"]:
        assert 28.2 < area["lat"] < 28.7 and 119.6 < area["lon"] < 120.1, area["code"]


def test_every_area_belongs_to_exactly_one_squad(demo):
    counts = Counter(code for squad in demo["squads"] for code in squad["area_codes"])
    assert set(counts) == {a["code"] for a in demo["areas"]}
    assert set(counts.values()) == {1}


def test_there_are_about_ten_squads_with_unique_codes_and_names(demo):
    squads = demo["squads"]
    assert 8 <= len(squads) <= 12
    assert len({s["code"] for s in squads}) == len(squads)
    assert len({s["name"] for s in squads}) == len(squads)


def test_there_are_at_least_twelve_scenes_with_unique_codes(demo):
    scenes = demo["scenes"]
    assert len(scenes) >= 12
    assert len({s["code"] for s in scenes}) == len(scenes)
    for scene in scenes:
        assert re.fullmatch(r"[a-z][a-z0-9_]{1,31}", scene["code"])
        assert scene["category"] in demo["categories"]
        assert scene["cadence"] in {"monthly", "quarterly", "half_yearly", "yearly"}


def test_every_scene_has_at_least_four_items_from_two_to_four_of_its_departments(demo):
    departments = {d["code"] for d in demo["departments"]}
    for scene in demo["scenes"]:
        assert 2 <= len(scene["departments"]) <= 4, scene["code"]
        assert set(scene["departments"]) <= departments
        assert 4 <= len(scene["items"]) <= 8, scene["code"]
        used = {item["department"] for item in scene["items"]}
        assert used <= set(scene["departments"]), scene["code"]
        assert 2 <= len(used) <= 4, scene["code"]


def test_every_item_cites_a_legal_basis_in_book_title_marks(demo):
    for scene in demo["scenes"]:
        for item in scene["items"]:
            assert LAW.search(item["legal_basis"]), item["code"]
            assert item["severity"] in {"low", "medium", "high"}
            assert isinstance(item["photo_required_on_fail"], bool)
            assert len(item["text"]) >= 6


def test_item_codes_are_unique_across_all_scenes(demo):
    codes = [item["code"] for scene in demo["scenes"] for item in scene["items"]]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[A-Z]{2}-\d{2}", c) for c in codes)


def test_sampling_rules_are_well_formed(demo):
    for scene in demo["scenes"]:
        kind, value = scene["sample"]["kind"], scene["sample"]["value"]
        assert kind in {"all", "fixed", "percent"}
        assert isinstance(value, int)
        if kind == "percent":
            assert 1 <= value <= 100
        if kind == "fixed":
            assert value >= 1


# --- users ---------------------------------------------------------------------------------------

def test_there_are_at_least_36_users_with_unique_usernames_and_every_role(demo):
    users = demo["users"]
    assert len(users) >= 36
    assert len({u["username"] for u in users}) == len(users)
    assert {r for u in users for r in u["roles"]} == ROLES
    for user in users:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", user["username"]), user["username"]
        assert set(user["roles"]) <= ROLES and user["roles"]


def test_roles_are_distributed_as_the_bureau_works(demo):
    users = demo["users"]
    by_role = defaultdict(list)
    for user in users:
        for role in user["roles"]:
            by_role[role].append(user)
    assert [u["username"] for u in by_role["admin"]] == ["admin"]
    assert len(by_role["supervisor"]) == 2
    assert all(u["username"].startswith("dc_") for u in by_role["supervisor"])
    assert len(by_role["leader"]) == len(demo["squads"])
    assert {u["squad"] for u in by_role["leader"]} == {s["code"] for s in demo["squads"]}
    for leader in by_role["leader"]:
        assert leader["username"] == f"zdz_{leader['squad']}"
        assert "inspector" in leader["roles"] and leader["certificate_no"]
    plain_inspectors = [u for u in users if u["roles"] == ["inspector"]]
    assert len(plain_inspectors) >= 22


def test_certificate_numbers_are_unique_twelve_digits_and_only_admin_lacks_one(demo):
    numbers = [u["certificate_no"] for u in demo["users"] if u["certificate_no"] is not None]
    assert len(numbers) == len(set(numbers))
    assert all(re.fullmatch(r"3311\d{8}", n) for n in numbers)
    for user in demo["users"]:
        if "inspector" in user["roles"]:
            assert user["certificate_no"]
    assert next(u for u in demo["users"] if u["username"] == "admin")["certificate_no"] is None


def test_every_user_has_a_chinese_name_a_department_and_a_mobile(demo):
    departments = {d["code"] for d in demo["departments"]}
    squads = {s["code"] for s in demo["squads"]}
    for user in demo["users"]:
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", user["full_name"])
        assert user["department"] in departments
        assert user["squad"] is None or user["squad"] in squads
        assert re.fullmatch(r"1[3-9]\d{9}", user["phone"])


def test_every_squad_has_certified_inspectors_from_at_least_two_departments(demo):
    members = defaultdict(list)
    for user in demo["users"]:
        if "inspector" in user["roles"] and user["certificate_no"]:
            members[user["squad"]].append(user)
    for squad in demo["squads"]:
        inspectors = members[squad["code"]]
        assert len(inspectors) >= 2, squad["code"]
        assert len({u["department"] for u in inspectors}) >= 2, squad["code"]


def test_every_squad_has_four_departments_including_comprehensive_enforcement(demo):
    departments = defaultdict(set)
    for user in demo["users"]:
        if "inspector" in user["roles"]:
            departments[user["squad"]].add(user["department"])
    for squad in demo["squads"]:
        assert "zhzf" in departments[squad["code"]]
        assert len(departments[squad["code"]]) >= 4, squad["code"]


# --- targets -------------------------------------------------------------------------------------

def test_there_are_as_many_targets_as_asked(demo):
    assert len(demo["targets"]) == 640
    assert len(build_demo(seed=5, targets=601)["targets"]) == 601


def test_every_credit_code_is_valid_and_unique(demo):
    codes = [t["credit_code"] for t in demo["targets"]]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert is_valid(code), code
        assert code[2:8] == "331102", code  # registered in 莲都区


def test_credit_codes_match_the_kind_of_entity(demo):
    # 91 enterprise, 92 individual business (个体工商户), 93 farmers' cooperative.
    for target in demo["targets"]:
        name, prefix = target["name"], target["credit_code"][:2]
        if "有限公司" in name:
            assert prefix == "91", name
        elif "合作社" in name:
            assert prefix == "93", name
        else:
            assert prefix == "92", name


def test_target_names_are_unique_and_chinese(demo):
    names = [t["name"] for t in demo["targets"]]
    assert len(names) == len(set(names))
    for name in names:
        assert re.search(r"[\u4e00-\u9fff]{4}", name) and len(name) <= 128


def test_every_target_gps_lies_inside_liandu(demo):
    for target in demo["targets"]:
        assert 28.2 <= target["lat"] <= 28.7, target
        assert 119.6 <= target["lon"] <= 120.1, target


def test_targets_lie_near_their_areas_centre(demo):
    areas = {a["code"]: a for a in demo["areas"]}
    for target in demo["targets"]:
        area = areas[target["area"]]
        # 0.05 degrees is about 5.5 km, more than any area's radius plus its scatter.
        assert abs(target["lat"] - area["lat"]) < 0.05 and abs(target["lon"] - area["lon"]) < 0.05, target


def test_every_target_has_a_known_category_area_and_risk(demo):
    areas = {a["code"]: a for a in demo["areas"]}
    for target in demo["targets"]:
        assert target["category"] in demo["categories"]
        assert target["area"] in areas
        assert target["risk"] in {"low", "medium", "high"}
        assert target["address"].startswith("丽水市莲都区" + areas[target["area"]]["name"])
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", target["contact_name"])
        assert re.fullmatch(r"1[3-9]\d{9}|0578-\d{7}", target["contact_phone"])
        assert isinstance(target["active"], bool)


def test_most_targets_are_low_or_medium_risk(demo):
    risks = Counter(t["risk"] for t in demo["targets"])
    assert risks["high"] < risks["low"] and risks["high"] < risks["medium"]
    assert risks["high"] > 0


def test_about_three_percent_of_targets_are_inactive(demo):
    inactive = sum(not t["active"] for t in demo["targets"])
    assert 0.02 * len(demo["targets"]) <= inactive <= 0.04 * len(demo["targets"])


def test_every_scene_has_eligible_targets_in_most_squads(demo, squad_of_area):
    for scene in demo["scenes"]:
        squads = {squad_of_area[t["area"]] for t in demo["targets"]
                  if t["category"] == scene["category"] and t["active"]}
        assert len(squads) > len(demo["squads"]) / 2, scene["code"]


def test_every_category_has_at_least_one_scene(demo):
    assert {s["category"] for s in demo["scenes"]} == set(demo["categories"])
