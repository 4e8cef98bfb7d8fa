"""Tools of the support triage agent: deterministic stand-ins for a knowledge base and a ticket system."""

from __future__ import annotations

import hashlib

_ARTICLES = [
    {"title": "Resetting your password", "keywords": ["password", "login", "sign in"],
     "fix": "Use 'Forgot password' on the sign-in page; the link is valid for 30 minutes."},
    {"title": "Connecting Slack", "keywords": ["slack", "integration"],
     "fix": "Open Settings > Integrations > Slack and approve the workspace."},
    {"title": "Exporting workflows", "keywords": ["export", "download", "backup"],
     "fix": "Open the workflow, choose ... > Export, and pick JSON or YAML."},
]


def kb_search(query: str, limit: int = 3) -> list[dict[str, str]]:
    """Search the knowledge base for articles whose keywords appear in the query."""
    words = query.lower()
    hits = [a for a in _ARTICLES if any(k in words for k in a["keywords"])]  # type: ignore[attr-defined]
    return [{"title": str(a["title"]), "fix": str(a["fix"])} for a in hits[:limit]]


def open_ticket(summary: str, priority: str = "normal") -> dict[str, str]:
    """Open a ticket for the engineering team; the id is derived from the summary."""
    ticket = "T-" + hashlib.sha256(summary.encode()).hexdigest()[:4].upper()
    return {"ticket_id": ticket, "priority": priority, "status": "open"}
