"""Synthetic MedGen releases for tests, benchmarks and offline demos.

``generate_release`` writes a release with the layout, size and quirks of NCBI's files;
``derive_release`` turns an existing release (generated or genuine) into "next week's build"
with a known amount of churn of a chosen kind (see :data:`CHURN_KINDS`), so delta loads and
change reports can be checked against exact expected counts.

The file layouts come from :mod:`py_load_medgen.release.files` (headers, delimiters, trailing
delimiters, natural keys, sizes); this package only knows how to invent plausible values for
each column, one module per kind of file. Everything is a pure function of the arguments: the
same call writes the same bytes, and a table's file does not depend on which other tables were
asked for.
"""

from __future__ import annotations

from py_load_medgen.generate.base import BUILD_TIME
from py_load_medgen.generate.derive import CHURN_KINDS, ChurnKind, derive_release
from py_load_medgen.generate.release import generate_release

__all__ = ["BUILD_TIME", "CHURN_KINDS", "ChurnKind", "derive_release", "generate_release"]
