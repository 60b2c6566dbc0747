"""The status vocabulary: what a practice's own appointment status names mean.

PMSs let each practice name its statuses ("Cancelled", "Broken Appt", "CONF-TEXT", "Unconfirmed"), so a
provider reads meaning from the words, and a write that sets a status sends one of the practice's own legal
values, chosen by meaning or named by the practice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pms_connect.errors import InvalidArgumentError, UnsupportedOperationError

__all__ = ["MEANINGS", "StatusMeaning", "means_cancelled", "means_confirmed", "practice_status"]

StatusMeaning = Literal["cancel", "confirm"]
"""What a status write means to do."""
MEANINGS: tuple[StatusMeaning, ...] = ("cancel", "confirm")


def means_cancelled(status: str | None) -> bool:
    """Whether a status name says the visit will not happen ("Cancelled", "Broken", "Broke Appt")."""
    text = (status or "").lower()
    return "cancel" in text or "broke" in text


def means_confirmed(status: str | None) -> bool:
    """Whether a status name says the patient confirmed ("Confirmed"; "Unconfirmed" says the opposite)."""
    text = (status or "").lower()
    return "confirm" in text and "unconfirm" not in text


def practice_status(meaning: str, values: Sequence[str], *, named: Mapping[str, str] | None = None) -> str:
    """The practice's own status for ``meaning``: the one the practice ``named`` for it (which must be one of
    its legal ``values`` when those are known), else the first legal value whose name says so (for a
    cancellation, a "cancel" name before a "broken" one)."""
    if meaning not in MEANINGS:
        raise InvalidArgumentError(f"a status meaning must be one of {', '.join(MEANINGS)}")
    chosen = (named or {}).get(meaning)
    if chosen is not None:
        if values and chosen not in values:
            raise InvalidArgumentError(f"status_values[{meaning!r}] is not one of the practice's statuses")
        return chosen
    if meaning == "cancel":
        picks = [v for v in values if "cancel" in v.lower()] or [v for v in values if means_cancelled(v)]
    else:
        picks = [v for v in values if means_confirmed(v)]
    if not picks:
        raise UnsupportedOperationError(
            f"no appointment status of the practice means {meaning!r}; name it with status_values="
        )
    return picks[0]
