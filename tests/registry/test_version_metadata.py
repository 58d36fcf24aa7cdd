"""The metadata a registration may carry is one list (``registry.metadata``): the API's
registration serializer and the registration service accept exactly what it names."""

from __future__ import annotations

import sys

import pytest

from core.errors import InvalidInput
from registry import metadata, services
from registry.api.serializers import REGISTRATION_COORDINATES, VersionRegisterSerializer
from registry.models import ModelVersion
from tests.approvals.factories import ci_user
from tests.registry.factories import RegisteredModelFactory, complete_metadata, sha256_of

pytestmark = pytest.mark.django_db

# A valid value for each metadata field the test takes on and off the list. storage_uri is
# a parameter of the service of its own, base_model_version an id the view resolves.
VALUES = {**complete_metadata(), "prompt_checksum": sha256_of("prompt")}


def body(name: str) -> dict:
    return {
        "team": "assistants",
        "model": "support-lora",
        "version": "1.0.0",
        "checksum": sha256_of("weights"),
        "storage_uri": "s3://models/support-lora/1.0.0/",
        name: VALUES[name],
    }


def register(name: str) -> ModelVersion:
    registered_model = RegisteredModelFactory()
    version, _ = services.version_register(
        actor=ci_user(registered_model.team),
        registered_model=registered_model,
        version="1.0.0",
        checksum=sha256_of("weights"),
        storage_uri="s3://models/support-lora/1.0.0/",
        **{name: VALUES[name]},
    )
    return version


def use_metadata_list(monkeypatch: pytest.MonkeyPatch, fields: tuple[str, ...]) -> None:
    """Replace the one list, wherever a module has imported it (the service, the API)."""
    holders = [
        module
        for module in list(sys.modules.values())
        if getattr(module, "VERSION_METADATA_FIELDS", None) is metadata.VERSION_METADATA_FIELDS
    ]
    assert {module.__name__ for module in holders} >= {
        "registry.metadata",
        "registry.services.versions",
        "registry.api.serializers",
    }
    for module in holders:
        monkeypatch.setattr(module, "VERSION_METADATA_FIELDS", fields)
    # The serializer builds its fields once per class (core.api.serializers): from the
    # list as it was. Rebuilt from this one, and again after the test.
    monkeypatch.setattr(VersionRegisterSerializer, "_field_prototypes", None, raising=False)


def test_the_serializer_accepts_the_coordinates_and_exactly_the_one_list():
    fields = list(VersionRegisterSerializer().fields)

    assert fields == [*REGISTRATION_COORDINATES, *metadata.VERSION_METADATA_FIELDS]
    assert set(VALUES) <= set(metadata.VERSION_METADATA_FIELDS)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_a_field_on_the_list_is_accepted_by_the_serializer_and_the_service(name):
    serializer = VersionRegisterSerializer(data=body(name))

    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data[name] == VALUES[name]
    assert getattr(register(name), name) == VALUES[name]


@pytest.mark.parametrize("name", sorted(VALUES))
def test_a_field_taken_off_the_list_is_refused_by_the_serializer_and_the_service(monkeypatch, name):
    # Given the one list without this field
    use_metadata_list(
        monkeypatch, tuple(field for field in metadata.VERSION_METADATA_FIELDS if field != name)
    )

    # When a registration carries it, through the API's serializer and through the service
    serializer = VersionRegisterSerializer(data=body(name))
    assert not serializer.is_valid()
    with pytest.raises(InvalidInput, match=f"Unknown or read-only fields: {name}\\.$"):
        register(name)

    # Then both refuse it, and nothing is registered
    assert serializer.errors == {name: ["This field is not accepted."]}
    assert ModelVersion.objects.count() == 0


def test_a_listed_field_the_serializer_does_not_declare_is_built_from_the_model():
    # Given a serializer that declares nothing for one listed field
    class WithoutLicense(VersionRegisterSerializer):
        license = None

    # Then the field is still accepted, as the model column reads it
    field = WithoutLicense().fields["license"]
    assert (field.max_length, field.required, field.allow_blank) == (100, False, True)
    serializer = WithoutLicense(data=body("license"))
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["license"] == "apache-2.0"
