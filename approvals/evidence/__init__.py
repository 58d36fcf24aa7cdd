"""Pure verifiers for the evidence CI attaches to a version (provenance, signatures, scans...).

Each verifier reads bytes or local files and returns a frozen report; none touches the
database, the network or Django settings, so checks and services decide what a report means
for a promotion and the verifiers stay easy to test against real, hostile samples.
"""

from __future__ import annotations


class EvidenceError(Exception):
    """The evidence cannot be read at all (garbage, too large, wrong shape, unsafe location).

    A readable document that fails verification is not an error: it yields a report whose
    fields say what failed.
    """
