"""The client's state and kind names are the server's.

``govboard_cli/states.py`` writes them out because the client cannot import the server;
these tests compare them with the server's choices, so adding, dropping or renaming a
state or a kind on either side fails here until the other side follows. Every state must
also mean something to a pipeline: each request state in exactly one of approved, pending
and blocked, each version state in exactly one of approved, undecided and blocked.
"""

from __future__ import annotations

import pytest

import govboard_cli as cli
from approvals.choices import OPEN_REQUEST_STATES, RequestState
from govboard_cli import states
from registry.choices import (
    DatasetUse,
    EvidenceKind,
    FineTuneMethod,
    ModelKind,
    RiskRating,
    VersionState,
)


@pytest.mark.parametrize(
    ("client_names", "server_choices"),
    [
        (states.REQUEST_STATES, RequestState),
        (states.VERSION_STATES, VersionState),
        (states.MODEL_KINDS, ModelKind),
        (states.EVIDENCE_KINDS, EvidenceKind),
        (states.DATASET_USES, DatasetUse),
        (states.FINE_TUNE_METHODS, FineTuneMethod),
        (states.RISK_RATINGS, RiskRating),
    ],
    ids=lambda value: getattr(value, "__name__", "client"),
)
def test_the_client_knows_exactly_the_servers_names(client_names, server_choices):
    assert sorted(client_names) == sorted(server_choices.values)
    assert len(set(client_names)) == len(client_names)


def test_every_request_state_has_one_meaning_for_a_pipeline():
    groups = [states.APPROVED_STATES, states.PENDING_STATES, states.BLOCKED_STATES]

    assert sorted(set().union(*groups)) == sorted(RequestState.values)
    assert sum(len(group) for group in groups) == len(RequestState.values)  # disjoint


def test_pending_is_what_the_server_calls_open_and_checking_precedes_review():
    assert {state.value for state in OPEN_REQUEST_STATES} == states.PENDING_STATES
    assert states.CHECKING_STATES | states.REVIEW_STATES == states.PENDING_STATES
    assert not states.CHECKING_STATES & states.REVIEW_STATES


def test_every_version_state_has_one_meaning_for_a_pipeline():
    groups = [
        states.APPROVED_VERSION_STATES,
        states.UNDECIDED_VERSION_STATES,
        states.BLOCKED_VERSION_STATES,
    ]

    assert sorted(set().union(*groups)) == sorted(VersionState.values)
    assert sum(len(group) for group in groups) == len(VersionState.values)


@pytest.mark.parametrize(
    ("command", "flag", "server_choices"),
    [
        ("register", "--kind", ModelKind),
        ("upload-evidence", "--kind", EvidenceKind),
        ("link-dataset", "--use", DatasetUse),
    ],
)
def test_the_flags_offer_the_servers_choices(command, flag, server_choices):
    parser = cli.build_parser()
    subcommands = next(action for action in parser._actions if action.dest == "command").choices
    option = next(
        action for action in subcommands[command]._actions if flag in action.option_strings
    )

    assert sorted(option.choices) == sorted(server_choices.values)
