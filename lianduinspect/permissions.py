"""Who may do what (DESIGN.md §4), in one place: an endpoint table, and the object-level checks.

Every route must appear in POLICY; an endpoint that does not is refused (deny by default).
"""
from __future__ import annotations

from .errors import Forbidden, NotFound

PUBLIC = "public"  # no sign-in (visit code page, login, the app shell, the API document)
ANY = frozenset({"inspector", "leader", "supervisor", "admin"})
STAFF_READ = ANY
ADMIN = frozenset({"admin"})
LEADERS = frozenset({"leader", "admin"})
OVERSIGHT = frozenset({"leader", "supervisor", "admin"})
REVIEWERS = frozenset({"supervisor", "admin"})
FIELD = frozenset({"inspector", "leader"})

POLICY: dict[str, object] = {
    # app shell, docs, health
    "web.index": PUBLIC,
    "web.service_worker": PUBLIC,
    "web.manifest": PUBLIC,
    "web.health": PUBLIC,
    "web.api_docs": PUBLIC,
    "static": PUBLIC,
    "api.openapi": PUBLIC,
    # auth
    "api.auth_login": PUBLIC,
    "api.auth_logout": ANY,
    "api.me": ANY,
    # reference data: everyone signed in reads, admins write
    "api.departments_list": STAFF_READ,
    "api.departments_create": ADMIN,
    "api.departments_update": ADMIN,
    "api.areas_list": STAFF_READ,
    "api.areas_create": ADMIN,
    "api.areas_update": ADMIN,
    "api.squads_list": STAFF_READ,
    "api.squads_get": STAFF_READ,
    "api.squads_create": ADMIN,
    "api.squads_update": ADMIN,
    "api.users_list": STAFF_READ,
    "api.users_get": STAFF_READ,
    "api.users_create": ADMIN,
    "api.users_update": ADMIN,
    "api.scenes_list": STAFF_READ,
    "api.scenes_get": STAFF_READ,
    "api.scenes_version": STAFF_READ,
    "api.scenes_create": ADMIN,
    "api.scenes_update": ADMIN,
    "api.targets_list": STAFF_READ,
    "api.targets_get": STAFF_READ,
    "api.targets_create": ADMIN,
    "api.targets_update": ADMIN,
    "api.targets_import": ADMIN,
    # capture and sync (issue 3)
    "api.evidence_put": FIELD,
    "api.evidence_head": FIELD,
    "api.evidence_patch": FIELD,
    "api.evidence_get": ANY,
    "api.evidence_thumb": ANY,
    "api.evidence_display": ANY,
    "api.evidence_original": frozenset({"supervisor"}),
    "api.pack_get": FIELD,
    "api.inspections_put": FIELD,
    "api.inspections_sync": FIELD,
    "api.inspections_get": STAFF_READ,
    "api.inspections_list": STAFF_READ,
    # rounds and the scheduler (issue 4): object-level checks in services/rounds.py (404 across squads)
    "api.rounds_list": ANY,  # inspectors: the rounds they are on; leaders: their squad's
    "api.rounds_get": ANY,
    "api.rounds_create": LEADERS,
    "api.rounds_team": LEADERS,
    "api.rounds_cancel": LEADERS,
    "api.rounds_visit_update": frozenset({"inspector", "leader", "admin"}),  # the team, its leader, admins
    # review, rectification, audit chain, visit code (issue 6)
    "api.reviews_queue": REVIEWERS,
    "api.reviews_get": REVIEWERS,
    "api.reviews_create": REVIEWERS,
    "api.reviews_bulk_approve": REVIEWERS,
    "api.conflicts_list": REVIEWERS,
    "api.conflicts_get": REVIEWERS,
    "api.conflicts_resolve": REVIEWERS,
    "api.reports_summary": OVERSIGHT,  # leaders: their own squad (services/reviews.py)
    "api.rectifications_list": ANY,  # inspectors and leaders: their squad's; supervisors, admins: all
    "api.rectifications_update": LEADERS,  # the squad's leader (404 across squads), admins
    "api.rectifications_close": frozenset({"inspector", "leader", "admin"}),  # the squad's team, admins
    "api.evaluations_comments": REVIEWERS,  # single evaluations: never to the evaluated squad
    "api.evaluations_summary": OVERSIGHT,  # leaders: aggregates of five or more of their squad's
    "api.public_visit": PUBLIC,
    "api.public_evaluate": PUBLIC,
    "visitpage.show": PUBLIC,
}


def endpoint_roles(endpoint: str | None):
    """Return the policy entry for an endpoint, or None when it has none (deny)."""
    return POLICY.get(endpoint or "")


def require(user, *roles: str) -> None:
    """Refuse unless the user holds one of the roles."""
    if user is None or not user.has(*roles):
        raise Forbidden()


def is_all_seeing(user) -> bool:
    """Supervisors and admins read across every squad."""
    return user.has("supervisor", "admin")


def check_squad_read(user, squad_id: int | None, what: str = "resource") -> None:
    """Refuse reading another squad's things; 404 so their existence does not leak."""
    if is_all_seeing(user):
        return
    if squad_id is None or user.squad_id != squad_id:
        raise NotFound(what)
