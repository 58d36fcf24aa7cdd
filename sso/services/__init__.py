"""Single sign-on state changes (``sso.services.<verb>``): the login and its role sync, the
group mappings, the break-glass accounts."""

from sso.services.break_glass import (
    break_glass_login_record,
    break_glass_mark,
    break_glass_unmark,
    idp_reauthentication_record,
    password_login_refused_record,
)
from sso.services.login import (
    SYSTEM,
    group_role_mapping_delete,
    group_role_mapping_save,
    resync_known_members,
    sso_login,
)

__all__ = [
    "SYSTEM",
    "break_glass_login_record",
    "break_glass_mark",
    "break_glass_unmark",
    "group_role_mapping_delete",
    "group_role_mapping_save",
    "idp_reauthentication_record",
    "password_login_refused_record",
    "resync_known_members",
    "sso_login",
]
