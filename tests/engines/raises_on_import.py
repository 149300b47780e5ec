"""A target whose import raises."""

raise ZeroDivisionError("planted at import")
