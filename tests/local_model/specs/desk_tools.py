"""The python tool of the local-model tier's spec: its answer proves the call reached this code."""

from __future__ import annotations

CALLED_BY = "desk_tools.book_meeting"


def book_meeting(company: str) -> dict[str, str]:
    """Book a meeting with the sales team for this company."""
    return {"booked_for": company, "when": "Tuesday 10:00 UTC", "by": CALLED_BY}
