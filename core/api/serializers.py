"""The API's serializer kernel: input taken exactly as sent."""

from __future__ import annotations

import copy
import re

from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

_SURROGATE = re.compile("[\ud800-\udfff]")


class SurrogateFreeText(ProhibitSurrogateCharactersValidator):
    """DRF's refusal of surrogate code points, same message and code, found by one regular
    expression search instead of a Python loop over every character (a registration's
    text fields are a few hundred characters, issue 14)."""

    def __call__(self, value: object) -> None:
        found = _SURROGATE.search(str(value))
        if found is not None:
            message = self.message.format(code_point=ord(found.group()))
            raise serializers.ValidationError(message, code=self.code)


class StrictSerializer(serializers.Serializer):
    """Input taken exactly as sent: unknown fields are an error, not silently ignored (no
    mass assignment); text fields take JSON strings only (``5`` is not ``"5"``) and keep
    their whitespace, so a checksum with a trailing space fails its format instead of
    being quietly trimmed into a valid one."""

    def get_fields(self):
        # The fields are built once per class (a ModelSerializer otherwise introspects the
        # model on every request, about 1 ms of a registration's CPU, issue 14), with the
        # whitespace rule applied once. Nothing in them depends on the instance or its
        # context. Each instance binds copies of its own: a plain field's shallow copy (the
        # prototypes are never bound, and binding sets only the copy's own attributes;
        # what it shares -- validators, choices, a list's item field -- validation only
        # reads); a nested serializer is deep-copied, as DRF copies declared fields.
        prototypes = type(self).__dict__.get("_field_prototypes")
        if prototypes is None:
            prototypes = super().get_fields()
            for field in prototypes.values():
                for text in (field, getattr(field, "child", None)):
                    if isinstance(text, serializers.CharField):
                        text.trim_whitespace = False
                        text.validators = [
                            SurrogateFreeText()
                            if type(v) is ProhibitSurrogateCharactersValidator
                            else v
                            for v in text.validators
                        ]
            type(self)._field_prototypes = prototypes
        return {name: _fresh(field) for name, field in prototypes.items()}

    def get_validators(self):
        # Serializer-level validators depend on the class only (a ModelSerializer reads
        # the model's constraints for them on every instance): built once per class.
        validators = type(self).__dict__.get("_validator_prototypes")
        if validators is None:
            validators = tuple(super().get_validators())
            type(self)._validator_prototypes = validators
        return list(validators)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {
                name: ["This field is not accepted."] for name in set(data) - set(self.fields)
            }
            errors.update(_type_errors(self.fields, data))
            if errors:
                raise serializers.ValidationError(dict(sorted(errors.items())))
        return super().to_internal_value(data)


def _fresh(field: serializers.Field) -> serializers.Field:
    """An unbound copy of a prototype field for one serializer instance."""
    if isinstance(field, serializers.BaseSerializer):
        return copy.deepcopy(field)
    return copy.copy(field)


def _type_errors(fields: dict, data: dict) -> dict[str, list[str]]:
    """Text fields given something other than a string (DRF would coerce it)."""
    errors: dict[str, list[str]] = {}
    for name, field in fields.items():
        if name not in data or field.read_only or data[name] is None:
            continue
        value = data[name]
        if isinstance(field, serializers.CharField) and not isinstance(value, str):
            errors[name] = [f"Must be a string, not {_json_type(value)}."]
        elif (
            isinstance(field, serializers.ListField)
            and isinstance(field.child, serializers.CharField)
            and isinstance(value, list)
            and not all(isinstance(item, str) for item in value)
        ):
            errors[name] = ["Must be a list of strings."]
    return errors


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 datetime that must carry its time zone (no guessing what 09:00 meant)."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError as exc:  # a well-formed but impossible date (Feb 30th)
                raise serializers.ValidationError("Not a valid date and time.") from exc
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError("Give the time zone (e.g. Z or +02:00).")
        return super().to_internal_value(value)
