"""Create the provider's database: migrate, then the people, their groups and the govboard
application (confidential, authorization code, RS256, auto-approved).

Run as ``python -m tests.sso.provider.seed <json>`` with the provider's settings; the JSON
names the client, its redirect URIs and the users (username, password, groups)."""

import json
import sys

import django


def main() -> None:
    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    spec = json.loads(sys.argv[1])
    call_command("migrate", verbosity=0)
    for person in spec["users"]:
        user = User.objects.create_user(
            person["username"],
            email=f"{person['username']}@idp.example.test",
            password=person["password"],
            first_name=person["username"].title(),
        )
        for name in person["groups"]:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    Application.objects.create(
        name="govboard",
        client_id=spec["client_id"],
        client_secret=spec["client_secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(spec["redirect_uris"]),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )


if __name__ == "__main__":
    main()
