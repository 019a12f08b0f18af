"""Counts that add up field by field: a batch's into a run's, a run's since a moment.

Each figure has one name from where it is counted to ``report.json``: a tally's fields are
named as the report names them.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Self


class Tally:
    """Mixed into a dataclass of ``int`` fields (and ``dict[key, int]`` fields, added key by
    key)."""

    def add(self, other: Self) -> None:
        """Count ``other`` in."""
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if isinstance(mine, dict):
                for key, count in theirs.items():
                    mine[key] = mine.get(key, 0) + count
            else:
                setattr(self, field.name, mine + theirs)

    def since(self, earlier: Self) -> Self:
        """What was counted after ``earlier`` was taken (with ``copy``)."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            mine, before = getattr(self, field.name), getattr(earlier, field.name)
            if isinstance(mine, dict):
                values[field.name] = {k: v - before.get(k, 0) for k, v in mine.items()}
            else:
                values[field.name] = mine - before
        return type(self)(**values)

    def copy(self) -> Self:
        """A snapshot."""
        return copy.deepcopy(self)
