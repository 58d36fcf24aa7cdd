"""Lifecycle hygiene (issue 12): the governing policy's rules that notice versions nobody
uses (stale), nobody answers for (unowned), with a critical finding recorded after approval
(vulnerable), or whose approval ran out (expired), and what each rule does about it.

``rules`` is the rule configuration a policy holds (and its validation); ``verdicts`` is
the one place that decides, for the dry run, the admin preview and the real sweep alike;
``approvals.services.hygiene`` acts on what it decides.
"""
