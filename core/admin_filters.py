"""A list filter typed into a box, for columns with too many values to list (a user, a
model, a date range): the admin's own filters list every distinct value, which on an
append-only log is a scan of the whole table."""

from __future__ import annotations

from typing import Any

from django.contrib import admin


class TextInputFilter(admin.ListFilter):
    """Subclasses name their ``inputs`` — (query parameter, label, HTML input type, or
    ``"select"`` with the choices ``input_choices`` gives) — and filter in
    ``filter_queryset`` with the values given (blank ones left out)."""

    template = "admin/govboard/input_filter.html"
    inputs: tuple[tuple[str, str, str], ...] = ()

    def __init__(self, request: Any, params: dict, model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.model_admin = model_admin
        for name, _, _ in self.inputs:
            if name in params:
                value = params.pop(name)[-1].strip()
                if value:
                    self.used_parameters[name] = value

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return [name for name, _, _ in self.inputs]

    def choices(self, changelist: Any) -> Any:
        expected = self.expected_parameters()
        yield {
            "inputs": [
                {
                    "name": name,
                    "label": label,
                    "type": kind,
                    "value": self.used_parameters.get(name, ""),
                    "choices": self.input_choices(name) if kind == "select" else [],
                }
                for name, label, kind in self.inputs
            ],
            # The other filters and the search stay as they are when this one is applied.
            "hidden": [
                (name, value)
                for name, values in changelist.params.items()
                if name not in expected
                for value in (values if isinstance(values, list) else [values])
            ],
            "clear_query_string": changelist.get_query_string(remove=expected),
            "active": bool(self.used_parameters),
        }

    def queryset(self, request: Any, queryset: Any) -> Any:
        if not self.used_parameters:
            return queryset
        return self.filter_queryset(request, queryset, dict(self.used_parameters))

    def input_choices(self, name: str) -> list[tuple[str, str]]:
        """(value, label) pairs of a ``"select"`` input; an empty value means "all"."""
        return []

    def filter_queryset(self, request: Any, queryset: Any, values: dict[str, str]) -> Any:
        raise NotImplementedError
