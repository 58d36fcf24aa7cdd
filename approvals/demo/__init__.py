"""Realistic demo data for `make run` (the ``load_demo`` command): ``people`` for every
role, the ``catalog`` (teams, models in every state, requests waiting for each role) and
the ``evidence`` the demo's CI uploads. Demo mode only; everything is written through the
services, so the demo's audit trail and history look exactly like real use."""
