"""The words that mean "no value" in a column of numbers, booleans or dates.

Exports write a missing number in many ways besides an empty cell: ``?`` (the UCI files),
``-`` and ``--`` (spreadsheets, reports), ``N/A`` and ``n/a``, ``NULL`` and ``None`` (a database
or Python dump), ``#N/A`` and ``#DIV/0!`` (Excel), ``.`` (SAS, Stata), ``Unknown`` and ``unk``
(survey and clinical forms: an age or a date nobody recorded). A column of numbers
holding a few of them is a column of numbers with missing values, not text with a thousand
categories.

Every executor applies this one list, so they agree: :mod:`edgeml.data` when it infers a
column's type and converts text to numbers, booleans or dates (``conform``), and
:mod:`edgeml.runtime` when it converts one value. A word matches whatever its case and the
whitespace around it (each executor strips and lower-cases the text first). Text bound for a
``str`` column is never touched: there ``"none"`` or ``"-"`` is a category like any other.

>>> [word in MISSING_WORDS for word in ("?", "n/a", "#div/0!", "0", "no", "n")]
[True, True, True, False, False, False]
"""

from __future__ import annotations

__all__ = ["MISSING_WORDS", "NO_LABEL_WORDS"]

#: Lower-case words read as a missing value in a number, boolean or date column. None of them
#: is a boolean word (``n`` and ``no`` are False).
MISSING_WORDS = frozenset({
    "?", "??", "-", "--", "---", "\u2013", "\u2014", ".",
    "na", "n/a", "n.a.", "n.a", "nan", "null", "none", "nil", "missing", "undefined",
    "unknown", "unk", "not available", "n.d.", "n/d",
    "#n/a", "#na", "#null!", "#div/0!", "#value!", "#num!", "#ref!", "#name?",
})  # fmt: skip

#: Lower-case text that marks a missing label, not a class: the marks of :data:`MISSING_WORDS`
#: no one names a class with. Words that can be a class stay classes: "none" or "unknown" (a
#: damage level, a genre), "-" and "." (the UCI credit files' classes are "+" and "-").
NO_LABEL_WORDS = frozenset({
    "?", "??", "na", "n/a", "n.a.", "n.a", "nan", "null",
    "#n/a", "#na", "#null!", "#div/0!", "#value!", "#num!", "#ref!", "#name?",
})  # fmt: skip
