"""Change capture: what changed between two releases' files, found by reading them.

The stage between parse and stage in ``source -> parse -> compare -> stage -> apply``. For a
file whose sha256 changed, :func:`compare_files` reads the previous and the new file side by
side and returns a :class:`ChangeSet`: the exact multiset of rows deleted and rows inserted,
each readable as typed tuples in the table's column order or as bulk-load blocks. When the
files cannot be compared cheaply (a reshuffled file, columns that differ in what they hold,
an unreadable previous file) the change set says so with ``method == "fallback"`` and a
reason, and the caller compares in the database instead.
"""

from py_load_medgen.compare.changeset import ChangedRows, ChangeSet, Method
from py_load_medgen.compare.files import CompareOptions, compare_files

__all__ = ["ChangeSet", "ChangedRows", "CompareOptions", "Method", "compare_files"]
