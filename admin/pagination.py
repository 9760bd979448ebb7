"""Server-side pagination: one page of rows, and the links around it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


@dataclass(slots=True)
class Page:
    rows: list[Any]
    number: int
    size: int
    total: int
    params: dict[str, Any] = field(default_factory=dict)
    """The filters of the query, kept in the page links."""
    key: str = "page"
    """The query parameter holding the page number (two lists on one page need two)."""

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else (self.number - 1) * self.size + 1

    @property
    def last_row(self) -> int:
        return min(self.total, self.number * self.size)

    def query(self, number: int) -> str:
        """The query string for page ``number`` with the same filters."""
        params = {k: v for k, v in self.params.items() if v not in (None, "")}
        params[self.key] = number
        return urlencode(params)


def page_number(value: int | str | None) -> int:
    try:
        return max(1, int(value or 1))
    except (TypeError, ValueError):
        return 1


def offset(number: int, size: int) -> int:
    return (number - 1) * size
