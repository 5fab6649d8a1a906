"""Two days of field work for the demo, done through the real services.

After `make run` a supervisor should meet a review queue, not an empty page: a few visits of each
squad's rounds are inspected by their teams (photos uploaded as phones send them, records synced),
some records are decided, and one record is sent twice with different content, so one is kept
aside for a supervisor. Everything lands in the audit chain as real work would put it.

Most photos are ordinary (EXIF time and GPS at the target, a phone's make and model); a few are
not, so each kind of flag can be seen: a photo taken 1.6 km from the target, one with no camera
metadata, and one photo used at two targets.
"""
from __future__ import annotations

import hashlib
import io
import math
import random
import uuid
from datetime import datetime, timedelta

from PIL import Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import select

from .. import imaging
from ..models import Inspection, Round, User, UserRole, Visit
from ..rules.periods import BUREAU_TZ
from ..services import evidence, inspections, reviews

VISITS_PER_SQUAD = 3
PHONES = (("HUAWEI", "ELS-AN00"), ("Xiaomi", "2211133C"), ("OPPO", "PGEM10"), ("vivo", "V2229A"))
FINDINGS = ("现场检查发现不符合要求，已拍照取证并当场告知负责人",
            "部分不符合，已责令限期整改",
            "负责人称近期整改，已告知复查时间")
NOTES = ("现场检查，负责人在场配合", "检查时正常经营，已告知扫描检查码评价", "联合检查，各部门事项一次查完")


def simulate(session, *, storage, config, now: datetime, work_start: datetime, seed: int) -> dict:
    """Inspect a few visits of every squad between work_start and now, then review some; return counts."""
    rng = random.Random(seed)
    limits = imaging.Limits(max_bytes=config["MAX_EVIDENCE_BYTES"])
    supervisor = session.scalars(select(User).join(UserRole, UserRole.user_id == User.id)
                                 .where(UserRole.role == "supervisor").order_by(User.id)).first()
    span = (now - work_start).total_seconds()
    if supervisor is None or span < 6 * 3600:
        return {}
    chosen = _visits(session)
    done: list[tuple[Inspection, dict, User, str]] = []
    photos = 0
    reused: str | None = None  # a photo's SHA-256, to use again at another target
    for n, visit in enumerate(chosen):
        team = [u for u in _team(visit) if u.certificate_no][:2]
        if len(team) < 2:
            continue
        finished = work_start + timedelta(seconds=span * (n + 1) / (len(chosen) + 1))
        started = finished - timedelta(minutes=rng.randint(25, 50))
        received = min(now, finished + timedelta(minutes=rng.randint(3, 90)))
        odd = ("far", "bare", "reuse")[n // 4] if n % 4 == 3 and n // 4 < 3 else None
        body, shots = _record(rng, visit, team, started, finished, odd)
        if odd == "reuse" and reused is not None:
            # The first failed item's photo is one already sent from another target.
            first = next(r for r in body["results"] if r["photos"])["photos"][0]
            shots = [(sha, data) for sha, data in shots if sha != first["sha256"]]
            first["sha256"] = reused
        elif reused is None and shots:
            reused = shots[0][0]
        for sha, data in shots:
            evidence.store(session, team[0], sha, data, storage=storage, limits=limits, now=received, config=config)
            photos += 1
        key = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        [result] = inspections.sync(session, team[0], [{"uuid": key, "body": body}], now=received)
        if result["status"] != "created":
            continue
        inspection = session.scalars(select(Inspection).where(Inspection.uuid == key)).one()
        done.append((inspection, body, team[0], key))
    decided = _review(session, supervisor, done, now=now, config=config)
    kept = 0
    if done:  # one record arrives again from a second phone with other notes: kept aside, nothing overwritten
        _inspection, body, actor, key = done[-1]
        again = {**body, "notes": f"{body['notes']}（另一台手机上的副本）"}
        [result] = inspections.sync(session, actor, [{"uuid": key, "body": again}], now=now)
        kept = int(result["status"] == "conflict")
    return {"inspections": len(done), "photos": photos, "reviewed": decided, "kept aside": kept}


def _visits(session) -> list[Visit]:
    """Return a few pending visits of each squad, one from each of its first scheduled rounds (so, scenes)."""
    rounds = session.scalars(select(Round).where(Round.kind == "scheduled").order_by(Round.squad_id, Round.id)).all()
    picked: dict[int, list[Visit]] = {}
    for rnd in rounds:
        chosen = picked.setdefault(rnd.squad_id, [])
        if len(chosen) >= VISITS_PER_SQUAD:
            continue
        visit = session.scalars(select(Visit).where(Visit.round_id == rnd.id, Visit.status == "pending")
                                .order_by(Visit.id).limit(1)).first()
        if visit is not None:
            chosen.append(visit)
    return [visit for squad in sorted(picked) for visit in picked[squad]]


def _team(visit: Visit) -> list[User]:
    seen: dict[int, User] = {}
    for rnd in visit.rounds:
        for user in rnd.members:
            seen.setdefault(user.id, user)
    return [seen[k] for k in sorted(seen)]


def _checklist(visit: Visit) -> list:
    items = {}
    for rnd in visit.rounds:
        for item in rnd.scene_version.items:
            items.setdefault(item.id, item)
    return list(items.values())


def _record(rng: random.Random, visit: Visit, team: list[User], started: datetime, finished: datetime,
            odd: str | None) -> tuple[dict, list[tuple[str, bytes]]]:
    """Return an inspection body as a phone sends it, and the photos it names (sha256, bytes)."""
    target = visit.target
    items = _checklist(visit)
    needing = [i for i in items if i.photo_required_on_fail]
    fails = set(rng.sample([i.id for i in needing], rng.choice((0, 1, 1, 2)))) if needing else set()
    if odd and not fails and needing:
        fails = {needing[0].id}
    shots: list[tuple[str, bytes]] = []

    def shoot(at: datetime, far: bool = False) -> dict:
        lat, lon = _near(rng, target.lat, target.lon, 1600 if far else rng.uniform(5, 40))
        data = _jpeg(rng, at, lat, lon, exif=odd != "bare")
        sha = hashlib.sha256(data).hexdigest()
        shots.append((sha, data))
        return {"sha256": sha, "captured_at": at.isoformat(), "lat": lat, "lon": lon,
                "accuracy_m": round(rng.uniform(4, 15), 1)}

    results = []
    for item in items:
        failed = item.id in fails
        at = started + timedelta(minutes=rng.randint(3, max(4, int((finished - started).total_seconds() // 60) - 3)))
        results.append({"item_id": item.id, "result": "fail" if failed else ("na" if rng.random() < 0.05 else "pass"),
                        "note": rng.choice(FINDINGS) if failed else None,
                        "photos": [shoot(at.astimezone(BUREAU_TZ), far=odd == "far")] if failed else []})
    scene = [shoot((started + timedelta(minutes=2)).astimezone(BUREAU_TZ))]
    lat, lon = _near(rng, target.lat, target.lon, rng.uniform(5, 30))
    body = {
        "visit_id": visit.id, "supersedes": None, "inspector_ids": sorted(u.id for u in team),
        "started_at": started.astimezone(BUREAU_TZ).isoformat(), "finished_at": finished.astimezone(BUREAU_TZ).isoformat(),
        "location": {"lat": lat, "lon": lon, "accuracy_m": round(rng.uniform(5, 20), 1)},
        "results": results, "scene_photos": scene,
        "outcome": "rectify" if fails else "pass",
        "notes": rng.choice(NOTES), "late_reason": None, "signature_sha256": None,
    }
    return body, shots


def _review(session, supervisor: User, done: list, *, now: datetime, config) -> int:
    """Decide about half the records, as a supervisor would: approve the clean, send one back, ask for more."""
    decided = 0
    for n, (inspection, _body, _actor, _key) in enumerate(done[:-1]):  # the last one stays for the kept copy
        if n % 2:
            continue
        if inspection.flags:
            values = {"decision": "rejected", "reason": "照片位置或来源存疑，请说明情况并补充现场照片。"}
        elif decided == 1:
            values = {"decision": "needs_evidence", "reason": "请补充现场全景照片。"}
        elif decided == 2:
            values = {"decision": "rejected", "reason": "检查情况说明过于简单，请补充现场具体情况后重新提交。"}
        else:
            values = {"decision": "approved"}
        reviews.decide(session, supervisor, inspection.id, {**values, "item_comments": {}}, now=now, config=config)
        decided += 1
    return decided


def _near(rng: random.Random, lat: float, lon: float, metres: float) -> tuple[float, float]:
    """Return a point about `metres` from (lat, lon) in a random direction, to six decimals."""
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = metres * math.cos(bearing) / 111_320
    dlon = metres * math.sin(bearing) / (111_320 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def draw_scene(rng: random.Random, width: int, height: int, *, shapes: int = 8, noise: float = 0.08) -> Image.Image:
    """Draw a picture no two seeds share: a gradient sky, coloured shapes, and noise like a sensor's."""
    picture = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(picture)
    for _ in range(shapes):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(width // 8, width // 2), y0 + rng.randrange(height // 8, height // 2)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)((x0, y0, x1, y1), fill=colour)
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
    return Image.blend(picture, grain, noise)


def _jpeg(rng: random.Random, at: datetime, lat: float, lon: float, *, exif: bool) -> bytes:
    """Draw a photo and encode it as a phone would (or as a forwarded picture, without EXIF)."""
    picture = draw_scene(rng, 960, 720)
    out = io.BytesIO()
    if not exif:
        picture.save(out, "JPEG", quality=85)  # a screenshot or a forwarded picture: no camera metadata
        return out.getvalue()
    tags = Image.Exif()
    tags[0x010F], tags[0x0110] = rng.choice(PHONES)
    local = at.astimezone(BUREAU_TZ)
    tags.get_ifd(0x8769)[0x9003] = local.strftime("%Y:%m:%d %H:%M:%S")
    tags.get_ifd(0x8769)[0x9011] = "+08:00"
    gps = tags.get_ifd(0x8825)
    gps[1], gps[2] = "N", _dms(lat)
    gps[3], gps[4] = "E", _dms(lon)
    picture.save(out, "JPEG", quality=85, exif=tags.tobytes())
    return out.getvalue()


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 1000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 1000)


__all__ = ["draw_scene", "simulate"]

