"""Reversible masking for one request: ``[EMAIL_1]`` ↔ the address it stands for.

A Vault lives only as long as its request (never stored, never logged). The same value gets the
same placeholder every time it appears, so the model can tell two people's addresses apart and
refer back to them; the answer's placeholders are swapped back when the policy allows it.
"""

from __future__ import annotations

import re
from collections import Counter

PLACEHOLDER = re.compile(r"\[(?P<label>[A-Z][A-Z_]*?)_(?P<n>\d{1,4})\]")
MAX_PLACEHOLDER_LEN = 24  # "[" + label (≤ 16) + "_" + number (≤ 4) + "]", with room to spare


class Vault:
    """Placeholders handed out in one request and the originals behind them."""

    __slots__ = ("_by_placeholder", "_by_value", "_counts")

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, tuple[str, str]] = {}
        self._counts: Counter[str] = Counter()

    def placeholder(self, entity: str, label: str, value: str) -> str:
        """The placeholder for ``value`` (the same one each time the same value comes back)."""
        key = (label, value)
        found = self._by_value.get(key)
        if found is None:
            self._counts[label] += 1
            found = f"[{label}_{self._counts[label]}]"
            self._by_value[key] = found
            self._by_placeholder[found] = (entity, value)
        return found

    def original(self, placeholder: str) -> str | None:
        entry = self._by_placeholder.get(placeholder)
        return entry[1] if entry else None

    def unmask(self, text: str) -> str:
        """``text`` with every placeholder of this vault replaced by its original."""
        if not self._by_placeholder or "[" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: self.original(m.group(0)) or m.group(0), text)

    @property
    def size(self) -> int:
        return len(self._by_placeholder)

    def entity_counts(self) -> dict[str, int]:
        """How many distinct values of each entity were masked (safe to log: no values)."""
        counts: Counter[str] = Counter(entity for entity, _ in self._by_placeholder.values())
        return dict(counts)

    def __repr__(self) -> str:  # never the values
        return f"Vault({self.size} placeholders)"
