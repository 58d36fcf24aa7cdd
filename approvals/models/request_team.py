"""A promotion request's own copy of its team (issue 14): checked once, read cheaply.

The team is its version's model's team (a ring request's release has the same one: its
anchor is a component of the release's team), copied at opening and never changed, so the
per-team figures (dashboard, scorecard) group requests by a column of their own instead of
joining every version and model.
"""

from __future__ import annotations

from typing import Any

from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor

#: The path from a promotion request to its team: its own column, so scoping, filtering
#: and ordering requests by team (the manager's ``visible_to``, the sign-off queue, the
#: dashboard, the admin list's team filter, the API's ``?team=``) reads no version or
#: model row.
REQUEST_TEAM = "team"


def refuse_another_team(request: Any) -> None:
    """Refuse a new request whose team is not its version's model's team and its
    release's: a wrong copy would count the request on another team's dashboard and
    scorecard without any error. One query at most (none when the version was loaded with
    its model, as ``registry.services.lock_version`` does)."""
    from registry.models import ModelVersion

    version = request._state.fields_cache.get("version")
    if version is not None and version.pk == request.version_id:
        owner = version.registered_model.team_id
    else:
        owner = (
            ModelVersion.objects.filter(pk=request.version_id)
            .values_list("registered_model__team_id", flat=True)
            .first()
        )
    release_team = request.release.team_id if request.release_id else owner
    if request.team_id is None or request.team_id != owner or release_team != owner:
        raise ValueError(
            "A promotion request's team must be its version's model's team "
            f"({owner}) and its release's ({release_team}), not {request.team_id}."
        )


class TeamOfRequest(ForwardManyToOneDescriptor):
    """``request.team`` from a version, model and team already loaded with the request.

    Permission checks read ``request.team`` (``core.permissions.team_of``), and lists and
    services load requests with ``version__registered_model__team``, which answered it
    before the column existed: reuse that row instead of a query per request."""

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is not None and not self.is_cached(instance):
            version = instance._state.fields_cache.get("version")
            model = version._state.fields_cache.get("registered_model") if version else None
            team = model._state.fields_cache.get("team") if model else None
            if team is not None and team.pk == instance.team_id:
                self.field.set_cached_value(instance, team)
        return super().__get__(instance, cls)
