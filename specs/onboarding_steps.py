"""The python node of onboarding.yaml: creating the account is plain code, not a model's job."""

from __future__ import annotations

import hashlib
import re
from typing import Any


def create_account(state: dict[str, Any]) -> dict[str, Any]:
    """Create the account; the id and username are derived from the email and name (deterministic)."""
    email = str(state.get("email") or "")
    name = str(state.get("full_name") or email.split("@")[0])
    username = ".".join(re.findall(r"[a-z0-9]+", name.lower())) or "customer"
    account_id = "acc_" + hashlib.sha256(email.encode()).hexdigest()[:10]
    return {"account_id": account_id, "username": username, "onboarded": True}
