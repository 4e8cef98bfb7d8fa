"""`GET /health` (the process answers) and `GET /ready` (graph compiled, checkpointer open)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from graphs.server._turns import server_state

__all__ = ["router"]

router = APIRouter(tags=["probes"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready(request: Request) -> JSONResponse:
    """Readiness: 200 once the graph is compiled and its checkpointer is open, 503 before."""
    state = server_state(request)
    if state.agent is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    scheme = state.checkpointer_url.split(":", 1)[0]
    return JSONResponse(
        {"status": "ready", "agent": state.plan["name"], "checkpointer": scheme, "test_mode": state.test_mode}
    )
