"""Deny by default: every route is in one role × endpoint table, and each role gets exactly DESIGN.md §4.

Writes are attempted with an empty body, so an allowed role gets a 4xx about the body (never 401/403)
and a denied role gets 403/404; nothing is written either way.
"""
from __future__ import annotations

import pytest

from lianduinspect.permissions import POLICY

from ..factories_review import Prepared

ALL = {"inspector", "leader", "supervisor", "admin", "stranger"}
OK, DENY = "ok", "deny"


def allow(*who):
    """Expectation row: the named personas pass, everyone else (and anonymous) is denied."""
    who = set(who)
    return {p: (OK if p in who else DENY) for p in ALL | {"anonymous"}}


PUBLIC = allow(*ALL, "anonymous")
SIGNED_IN = allow(*ALL)
ADMIN = allow("admin")
FIELD = allow("inspector", "leader", "stranger")  # the stranger is an inspector too, of the other squad

# endpoint -> (method, path (formatted with the world), expectations)
ROUTES = {
    "web.index": ("GET", "/", PUBLIC),
    "web.service_worker": ("GET", "/sw.js", PUBLIC),
    "web.manifest": ("GET", "/manifest.webmanifest", PUBLIC),
    "web.health": ("GET", "/healthz", PUBLIC),
    "web.api_docs": ("GET", "/api/docs", PUBLIC),
    "static": ("GET", "/static/apidocs.js", PUBLIC),
    "api.openapi": ("GET", "/api/v1/openapi.json", PUBLIC),
    "api.auth_login": ("POST", "/api/v1/auth/login", PUBLIC),
    "api.auth_logout": ("POST", "/api/v1/auth/logout", SIGNED_IN),
    "api.me": ("GET", "/api/v1/me", SIGNED_IN),
    "api.departments_list": ("GET", "/api/v1/departments", SIGNED_IN),
    "api.departments_create": ("POST", "/api/v1/departments", ADMIN),
    "api.departments_update": ("PATCH", "/api/v1/departments/{w.departments[0].id}", ADMIN),
    "api.areas_list": ("GET", "/api/v1/areas", SIGNED_IN),
    "api.areas_create": ("POST", "/api/v1/areas", ADMIN),
    "api.areas_update": ("PATCH", "/api/v1/areas/{w.areas[0].id}", ADMIN),
    "api.squads_list": ("GET", "/api/v1/squads", SIGNED_IN),
    "api.squads_get": ("GET", "/api/v1/squads/{w.squad.id}", SIGNED_IN),
    "api.squads_create": ("POST", "/api/v1/squads", ADMIN),
    "api.squads_update": ("PATCH", "/api/v1/squads/{w.squad.id}", ADMIN),
    "api.users_list": ("GET", "/api/v1/users", SIGNED_IN),
    "api.users_get": ("GET", "/api/v1/users/{w.inspector.id}", SIGNED_IN),
    "api.users_create": ("POST", "/api/v1/users", ADMIN),
    "api.users_update": ("PATCH", "/api/v1/users/{w.partner.id}", ADMIN),
    "api.scenes_list": ("GET", "/api/v1/scenes", SIGNED_IN),
    "api.scenes_get": ("GET", "/api/v1/scenes/{w.scene.id}", SIGNED_IN),
    "api.scenes_version": ("GET", "/api/v1/scenes/{w.scene.id}/versions/1", SIGNED_IN),
    "api.scenes_create": ("POST", "/api/v1/scenes", ADMIN),
    "api.scenes_update": ("PUT", "/api/v1/scenes/{w.scene.id}", ADMIN),
    "api.targets_list": ("GET", "/api/v1/targets", SIGNED_IN),
    "api.targets_get": ("GET", "/api/v1/targets/{w.targets[0].id}", SIGNED_IN),
    "api.targets_create": ("POST", "/api/v1/targets", ADMIN),
    "api.targets_update": ("PATCH", "/api/v1/targets/{w.targets[0].id}", ADMIN),
    "api.targets_import": ("POST", "/api/v1/targets/import", ADMIN),
    # capture and sync (issue 3)
    # evidence paths use a malformed SHA-256 (allowed roles get 422); who sees which photo is pinned
    # in tests/api/test_evidence.py
    "api.evidence_put": ("PUT", "/api/v1/evidence/not-a-sha", FIELD),
    "api.evidence_head": ("HEAD", "/api/v1/evidence/not-a-sha", FIELD),
    "api.evidence_patch": ("PATCH", "/api/v1/evidence/not-a-sha", FIELD),
    "api.evidence_get": ("GET", "/api/v1/evidence/not-a-sha", SIGNED_IN),
    "api.evidence_thumb": ("GET", "/api/v1/evidence/not-a-sha/thumb", SIGNED_IN),
    "api.evidence_display": ("GET", "/api/v1/evidence/not-a-sha/display", SIGNED_IN),
    "api.evidence_original": ("GET", "/api/v1/evidence/not-a-sha/original", allow("supervisor")),
    # inspections and the pack: inspection paths use a malformed UUID, so allowed roles get 422 and
    # nothing is stored; who may read which inspection is pinned in tests/api/test_inspections.py
    "api.pack_get": ("GET", "/api/v1/pack", FIELD),
    "api.inspections_put": ("PUT", "/api/v1/inspections/not-a-uuid", FIELD),
    "api.inspections_sync": ("POST", "/api/v1/sync", FIELD),
    "api.inspections_get": ("GET", "/api/v1/inspections/not-a-uuid", SIGNED_IN),
    "api.inspections_list": ("GET", "/api/v1/inspections?visit_id={w.round.id}", SIGNED_IN),
    # rounds and the scheduler (issue 4): w.round is the leader's squad's, with the inspector on its
    # team; the stranger (other squad) gets 404 for it
    "api.rounds_list": ("GET", "/api/v1/rounds", SIGNED_IN),
    "api.rounds_get": ("GET", "/api/v1/rounds/{w.round.id}", allow("inspector", "leader", "supervisor", "admin")),
    "api.rounds_create": ("POST", "/api/v1/rounds", allow("leader", "admin")),
    "api.rounds_team": ("PUT", "/api/v1/rounds/{w.round.id}/team", allow("leader", "admin")),
    "api.rounds_cancel": ("POST", "/api/v1/rounds/{w.round.id}/cancel", allow("leader", "admin")),
    "api.rounds_visit_update": ("PATCH", "/api/v1/visits/{w.round.visits[0].id}",
                                allow("inspector", "leader", "admin")),
    # review, rectification, audit chain, visit code (issue 6): Prepared paths make, on first use, a
    # submitted record of w.round (the inspector's squad) with a failed item and its rectification
    "api.reviews_queue": ("GET", "/api/v1/reviews/queue", allow("supervisor", "admin")),
    "api.reviews_get": ("GET", Prepared("/api/v1/reviews/inspections/{r.inspection_id}"),
                        allow("supervisor", "admin")),
    "api.reviews_create": ("POST", Prepared("/api/v1/inspections/{r.inspection_id}/reviews"),
                           allow("supervisor", "admin")),
    "api.reviews_bulk_approve": ("POST", "/api/v1/reviews/bulk-approve", allow("supervisor", "admin")),
    "api.conflicts_list": ("GET", "/api/v1/conflicts", allow("supervisor", "admin")),
    "api.conflicts_get": ("GET", Prepared("/api/v1/conflicts/{r.conflict_id}"), allow("supervisor", "admin")),
    "api.conflicts_resolve": ("POST", Prepared("/api/v1/conflicts/{r.conflict_id}/resolve"),
                              allow("supervisor", "admin")),
    "api.reports_summary": ("GET", "/api/v1/reports/summary", allow("leader", "supervisor", "admin")),
    "api.rectifications_list": ("GET", "/api/v1/rectifications", SIGNED_IN),
    "api.rectifications_update": ("PATCH", Prepared("/api/v1/rectifications/{r.rectification_id}"),
                                  allow("leader", "admin")),
    "api.rectifications_close": ("POST", Prepared("/api/v1/rectifications/{r.rectification_id}/close"),
                                 allow("inspector", "leader", "admin")),
    "api.evaluations_summary": ("GET", "/api/v1/evaluations/summary", allow("leader", "supervisor", "admin")),
    "api.evaluations_comments": ("GET", "/api/v1/evaluations/comments", allow("supervisor", "admin")),
    "api.public_visit": ("GET", Prepared("/api/v1/public/visits/{r.code}"), PUBLIC),
    "api.public_evaluate": ("POST", Prepared("/api/v1/public/visits/{r.code}/evaluations"), PUBLIC),
    "visitpage.show": ("GET", "/v/no-such-code", PUBLIC),
}


def test_every_route_is_in_the_role_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(ROUTES) == set(), "routes missing from the role × endpoint table"
    assert set(ROUTES) - endpoints == set(), "table names routes that do not exist"


def test_every_route_has_an_access_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(POLICY) == set(), "routes without an access rule are refused for everyone"


def test_route_without_access_rule_is_refused(app, as_admin, monkeypatch):
    monkeypatch.delitem(POLICY, "api.departments_list")
    response = as_admin.get("/api/v1/departments")
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


@pytest.mark.parametrize("persona", sorted(ALL | {"anonymous"}))
def test_each_role_gets_exactly_what_design_allows(app, world, client, personas, persona):
    caller = client if persona == "anonymous" else personas[persona]
    mismatches = []
    for endpoint, (method, template, expected) in sorted(ROUTES.items()):
        if endpoint == "api.auth_logout":
            continue  # signing out would end the persona's session for the rest of the loop
        path = template.format(w=world)
        kwargs = {} if method == "GET" else {"json": {}}
        response = caller.open(method, path, **kwargs)
        status = response.status_code
        if status >= 500:
            mismatches.append(f"{method} {path}: {status} (server error)")
        elif expected[persona] == OK and status in (401, 403, 404):
            mismatches.append(f"{method} {path}: {status}, expected allowed")
        elif expected[persona] == DENY and status not in (401, 403, 404):
            mismatches.append(f"{method} {path}: {status}, expected denied")
        if status >= 400 and method != "HEAD":  # HEAD answers carry no body
            assert set(response.json) == {"error"}, f"{path}: error not in the one shape"
    assert mismatches == []


def test_logout_is_for_signed_in_users_only(client, as_inspector):
    assert client.post("/api/v1/auth/logout").status_code == 401
    assert as_inspector.post("/api/v1/auth/logout").status_code == 204
