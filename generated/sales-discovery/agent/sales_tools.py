"""Tools of the sales discovery agent. Deterministic stand-ins for a CRM and a calendar."""

from __future__ import annotations

import hashlib

_KNOWN = {
    "acme": {"name": "Acme Corp", "industry": "manufacturing", "employees": 1200, "tier": "enterprise"},
    "globex": {"name": "Globex", "industry": "energy", "employees": 300, "tier": "mid-market"},
    "initech": {"name": "Initech", "industry": "software", "employees": 45, "tier": "smb"},
}


def company_lookup(company: str) -> dict[str, object]:
    """Look a company up in the CRM: industry, size and account tier."""
    found = _KNOWN.get(company.strip().lower())
    if found:
        return dict(found)
    return {"name": company, "industry": "unknown", "employees": None, "tier": "unknown"}


def book_meeting(company: str, contact_role: str = "", slot: str = "next available") -> dict[str, str]:
    """Book a discovery call with an account executive; returns the confirmation."""
    ref = hashlib.sha256(f"{company}|{contact_role}|{slot}".encode()).hexdigest()[:8].upper()
    return {"status": "booked", "when": "Tuesday 10:00 UTC" if slot == "next available" else slot, "reference": ref}
