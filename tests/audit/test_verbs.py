"""Audit verbs are one typed, past-tense list; old spellings are read, never written."""

from __future__ import annotations

import pytest
from django.db import transaction

from audit.models import AuditEvent
from audit.services import record
from audit.verbs import LEGACY_SPELLINGS, AuditVerb
from registry.services.versions import TRANSITION_VERBS
from tests.registry.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_every_verb_is_past_tense_and_namespaced():
    for verb in AuditVerb:
        noun, _, action = verb.value.partition(".")
        assert noun and action, verb
        words = action.split("_")
        assert any(word.endswith(("ed", "en", "wn")) for word in words), (
            f"{verb.value} is not past tense"
        )


def test_every_version_transition_maps_to_its_own_verb():
    from registry.models import ModelVersion

    transitions = {
        t.name for t in ModelVersion._meta.get_field("state").get_all_transitions(ModelVersion)
    }
    assert set(TRANSITION_VERBS) == transitions
    assert len(set(TRANSITION_VERBS.values())) == len(TRANSITION_VERBS)


@pytest.mark.parametrize("old, new", sorted(LEGACY_SPELLINGS.items()))
def test_old_spellings_in_the_log_are_read_as_their_verb(old, new):
    assert AuditVerb.of(old) is new
    assert AuditVerb.of(new.value) is new


def test_an_unknown_text_means_no_verb():
    assert AuditVerb.of("version.exploded") is None


@pytest.mark.parametrize("verb", ["promotion.approved", "version.deprecate", "made.up"])
def test_record_refuses_a_verb_that_is_not_an_audit_verb(verb):
    team = TeamFactory()
    count = AuditEvent.objects.count()

    with pytest.raises(TypeError, match="AuditVerb"), transaction.atomic():
        record(actor=None, verb=verb, target=team)

    assert AuditEvent.objects.count() == count
