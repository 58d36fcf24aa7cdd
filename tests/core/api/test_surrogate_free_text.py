"""Issue 14: the API's text fields refuse surrogate code points with DRF's own message and
code, found by one regular expression (``core.api.serializers.SurrogateFreeText``) instead
of DRF's loop over every character."""

from __future__ import annotations

import json

import pytest
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from core.api.serializers import StrictSerializer, SurrogateFreeText


class Sample(StrictSerializer):
    name = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(), required=False)


def refusal(validator, value: str) -> tuple[str, str] | None:
    try:
        validator(value)
    except serializers.ValidationError as exc:
        (detail,) = exc.detail
        return str(detail), detail.code
    return None


@pytest.mark.parametrize(
    "value",
    ["", "plain", "ünïcödé ✓ 😀", "\ud800", "a\udfffb", "ok\ud83d\ude00", "x" * 5000 + "\udc00"],
    ids=["empty", "ascii", "non-ascii", "lone-high", "lone-low", "pair-as-two", "late"],
)
def test_the_refusal_is_drfs_own_for_every_text(value):
    # The same answer (message with the first surrogate's code point, code) as DRF's
    assert refusal(SurrogateFreeText(), value) == refusal(
        ProhibitSurrogateCharactersValidator(), value
    )


def test_a_strict_serializers_text_fields_and_list_items_use_it():
    # Given a strict serializer's fields, as an instance binds them
    fields = Sample().fields
    # Then its text field and its list's item field refuse by the regular expression
    for text in (fields["name"], fields["tags"].child):
        kinds = [type(v) for v in text.validators]
        assert SurrogateFreeText in kinds
        assert ProhibitSurrogateCharactersValidator not in kinds


def test_a_surrogate_in_a_text_field_or_list_item_is_a_field_error():
    serializer = Sample(data={"name": "a\ud800", "tags": ["ok", "b\udbff"]})
    assert not serializer.is_valid()
    assert serializer.errors == {
        "name": ["Surrogate characters are not allowed: U+D800."],
        "tags": {1: ["Surrogate characters are not allowed: U+DBFF."]},
    }


@pytest.mark.django_db
def test_a_registration_with_a_surrogate_is_refused_naming_the_field_and_nothing_changes(
    api_client,
):
    from tests.approvals.factories import governance_row_counts
    from tests.registry.api.test_version_registration_refusals import payload
    from tests.registry.factories import (
        RegisteredModelFactory,
        TeamFactory,
        service_account_with_token,
    )

    # Given CI of a team with a model
    team = TeamFactory(slug="assistants")
    RegisteredModelFactory(team=team, name="support-lora")
    _, raw = service_account_with_token(teams=[team])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = governance_row_counts()

    # When it registers a version whose licence holds a lone surrogate (JSON "\ud800")
    body = payload(license="mit\ud800")
    raw_json = json.dumps(body)  # ASCII: the surrogate travels as the escape \ud800
    response = api_client.post("/api/v1/versions/", raw_json, content_type="application/json")

    # Then it is a 400 problem on that field, and nothing was written
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "license": ["Surrogate characters are not allowed: U+D800."]
    }
    assert governance_row_counts() == before
