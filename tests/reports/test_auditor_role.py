"""The auditor role is read-only in the admin (issue 10), globally ("Auditors") or for
chosen teams ("Team auditors" + ``registry.view_team_registry`` on each): every admin
service button, add, change, delete and bulk delete of every registered admin model is
refused and changes nothing; reads show exactly the auditor's teams. (The API's writes:
test_auditor_api.py.)"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from audit.models import AuditEvent
from core.permissions import RULES, Verb, allowed

pytestmark = pytest.mark.django_db

# Whatever any admin form might ask for: a refusal must not depend on the form being wrong.
FORM_DATA = {
    "reason": "an auditor tries to change history",
    "justification": "an auditor tries to change history",
    "password": "correct horse battery staple",
    "meaning": "Approved for production promotion",
    "end_deployments": "on",
    "label": "auditor",
    "scopes": ["read"],
    "expires_at": "2030-01-01 00:00:00",
    "check_name": "eval_thresholds",
    "role": "security",
}


def row_counts() -> dict[str, int]:
    counts = {model._meta.label: model._default_manager.count() for model in admin.site._registry}
    counts["audit events"] = AuditEvent.objects.count()
    return counts


def admin_write_urls(scenario) -> list[tuple[str, str]]:
    """(method, url) of every write the admin offers, for every registered model: add,
    change, delete, the bulk delete and each service button, on one object of each."""
    urls = []
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls += [("GET", f"{base}add/"), ("POST", f"{base}add/")]
        obj = model_admin.get_queryset(_request_as(scenario.auditor)).first()
        if obj is None:
            obj = model._default_manager.first()
        if obj is None:
            continue
        urls += [
            ("POST", f"{base}{obj.pk}/change/"),
            ("GET", f"{base}{obj.pk}/delete/"),
            ("POST", f"{base}{obj.pk}/delete/"),
            ("POST", f"{base}?action=delete_selected&_selected_action={obj.pk}"),
        ]
        for action in getattr(model_admin, "service_actions", ()):
            urls += [("POST", f"{base}{obj.pk}/{action.name}/")]
    return urls


def _request_as(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize("kind", ["global", "team"])
def test_an_auditor_is_refused_every_admin_write_and_nothing_changes(scenario, kind):
    auditor = scenario.auditor if kind == "global" else scenario.alpha_auditor
    client = Client()
    client.force_login(auditor)
    urls = admin_write_urls(scenario)
    before = row_counts()

    answers = {}
    for method, url in urls:
        if method == "GET":
            answers[(method, url)] = client.get(url)
        elif "?action=" in url:
            path, query = url.split("?")
            data = dict(pair.split("=") for pair in query.split("&"))
            answers[(method, url)] = client.post(path, {**data, "post": "yes"})
        else:
            answers[(method, url)] = client.post(url, FORM_DATA)

    assert len(urls) > 40
    unexpected = {
        key: response.status_code for key, response in answers.items() if not refused(key, response)
    }
    assert unexpected == {}
    assert row_counts() == before


def refused(key: tuple[str, str], response) -> bool:
    """403 or 404; a service button the auditor is not offered re-renders its form with the
    service's refusal (the permission table's words), and a bulk delete the admin does not
    offer the auditor is ignored by the changelist: both with nothing done (row counts)."""
    if response.status_code in (403, 404):
        return True
    _method, url = key
    if "?action=" in url:
        action_form = (response.context or {}).get("action_form")
        offered = action_form is not None and "delete_selected" in dict(
            action_form.fields["action"].choices
        )
        return response.status_code in (200, 302) and not offered
    if response.status_code == 200 and "form" in (response.context or {}):
        form = response.context["form"]
        return bool(getattr(form, "errors", None))
    return False


def test_an_auditor_holds_no_verb_but_reading_and_exporting(scenario):
    for auditor in (scenario.auditor, scenario.alpha_auditor):
        held = {
            verb
            for verb, rule in RULES.items()
            if not rule.per_role and allowed(auditor, verb, scenario.alpha)
        }
        signs = any(allowed(auditor, Verb.SIGN, scenario.alpha, role="security") for _ in [0])
        # Reading the dashboard and the scorecard is reading: the only other verbs an
        # auditor holds.
        assert (held, signs) == (
            {Verb.READ, Verb.EXPORT, Verb.VIEW_DASHBOARD, Verb.VIEW_SCORECARD},
            False,
        )
    assert not allowed(scenario.alpha_auditor, Verb.READ, scenario.beta)


def test_a_team_auditor_sees_the_rows_of_their_teams_only(scenario):
    client = Client()
    client.force_login(scenario.alpha_auditor)

    versions = client.get("/admin/registry/modelversion/")
    events = client.get("/admin/audit/auditevent/")
    other = client.get(f"/admin/registry/modelversion/{scenario.other_team_version.pk}/change/")

    assert versions.status_code == 200 and events.status_code == 200
    shown = {v.registered_model.team.slug for v in versions.context["cl"].result_list}
    assert shown == {"alpha"}
    assert {e.team_id for e in events.context["cl"].result_list} <= {scenario.alpha.pk}
    assert other.status_code in (302, 404)  # the admin's "not found" for a hidden object
