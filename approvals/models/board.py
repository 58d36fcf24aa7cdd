"""The team as its approval board: the board's roles are permissions of this proxy, so they
belong to approvals (a new role is an approvals migration), while a grant is still one
object permission on the team's row (``core.permissions``)."""

from __future__ import annotations

from approvals.choices import ApproverRole
from registry.models import Team


class Board(Team):
    class Meta:
        proxy = True
        default_permissions = ()
        permissions = [
            (f"sign_as_{role.value}", f"Can sign off promotions as {role.label}")
            for role in ApproverRole
        ]
