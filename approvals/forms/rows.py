"""What the policy editor's formsets share: which rows stay, and whether any has errors."""

from __future__ import annotations

from django import forms


def kept_forms(formset: forms.BaseFormSet) -> list[forms.Form]:
    """The rows of a formset that stay: not deleted, and not an untouched blank extra row."""
    return [
        form
        for index, form in enumerate(formset.forms)
        if (index < formset.initial_form_count() or form.has_changed())
        and not (formset.can_delete and formset._should_delete_form(form))
    ]


def rows_have_errors(formset: forms.BaseFormSet) -> bool:
    return any(
        form.errors
        for form in formset.forms
        if not (formset.can_delete and formset._should_delete_form(form))
    )
