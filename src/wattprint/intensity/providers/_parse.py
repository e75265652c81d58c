"""Checked reads from provider payloads.

A live number replaces a bundled one in someone's emissions report, so a payload that is not
what the provider documents must fail loudly: every helper here raises
:class:`~wattprint.errors.ProviderError` naming the provider, the field (as a path such as
``data[3].intensity.forecast``) and what was received. Nothing is coerced, defaulted or clamped.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from ...errors import ProviderError

__all__ = ["MAX_G_PER_KWH", "Payload", "iso_utc"]

# No real grid is above ~1,200 gCO2e/kWh (lignite); 2,000 leaves room for marginal and
# lifecycle figures while still catching unit mistakes (lbs/MWh read as g/kWh, kg as g...).
MAX_G_PER_KWH = 2000.0
_EXCERPT = 120


class Payload:
    """A JSON value plus where it sits in a provider's response, for precise error messages."""

    def __init__(self, value: Any, *, provider: str, endpoint: str, path: str = "") -> None:
        self.value = value
        self.provider = provider
        self.endpoint = endpoint
        self.path = path

    def fail(self, problem: str) -> ProviderError:
        where = self.path or "the response body"
        return ProviderError(
            f"{self.provider}: malformed response from {self.endpoint}: {where} {problem}; "
            f"received {_show(self.value)}"
        )

    def _child(self, value: Any, step: str) -> Payload:
        path = f"{self.path}{step}" if step.startswith("[") or not self.path else f"{self.path}.{step}"
        return Payload(value, provider=self.provider, endpoint=self.endpoint, path=path)

    def get(self, key: str) -> Payload:
        """The member ``key`` of an object; missing keys and non-objects are errors."""
        if not isinstance(self.value, dict):
            raise self.fail("is not a JSON object")
        if key not in self.value:
            raise self._child(None, key).fail_missing(sorted(self.value))
        return self._child(self.value[key], key)

    def opt(self, key: str) -> Payload | None:
        """The member ``key`` if present and not null."""
        if not isinstance(self.value, dict):
            raise self.fail("is not a JSON object")
        value = self.value.get(key)
        return None if value is None else self._child(value, key)

    def fail_missing(self, keys: list[str]) -> ProviderError:
        return ProviderError(
            f"{self.provider}: malformed response from {self.endpoint}: field {self.path} is "
            f"missing; received an object with keys {keys[:12]}"
        )

    def items(self) -> list[Payload]:
        if not isinstance(self.value, list):
            raise self.fail("is not a JSON array")
        return [self._child(v, f"[{i}]") for i, v in enumerate(self.value)]

    def text(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.fail("is not a non-empty string")
        return self.value

    def number(self) -> float:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail("is not a number")
        if not math.isfinite(value):
            raise self.fail("is not a finite number")
        return float(value)

    def g_per_kwh(self, *, scale: float = 1.0) -> float:
        """A carbon intensity, times ``scale`` (a unit conversion), within 0-2000 g/kWh."""
        grams = self.number() * scale
        if not 0.0 <= grams <= MAX_G_PER_KWH:
            converted = f" ({grams:g} g/kWh after conversion)" if scale != 1.0 else ""
            raise self.fail(f"is outside 0-{MAX_G_PER_KWH:g} g/kWh{converted}")
        return grams

    def timestamp(self) -> datetime:
        """An ISO 8601 instant with an explicit offset (``Z`` or ``+00:00``), as UTC."""
        text = self.text().strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"  # Python 3.10's fromisoformat does not read "Z"
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise self.fail("is not an ISO 8601 date-time") from None
        if when.tzinfo is None:
            # A naive time could be local or UTC; guessing would shift every value by hours.
            raise self.fail("has no UTC offset")
        return when.astimezone(timezone.utc)


def iso_utc(when: datetime, *, seconds: bool = True) -> str:
    """``2026-01-01T00:00:00Z`` (or without seconds), the form the providers document."""
    utc = when.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%dT%H:%MZ")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"
