"""`GET /health` (the process answers) and `GET /ready` (graph compiled, checkpointer open, not
shutting down: a load balancer stops sending turns to a replica that drains, see `graphs.drain`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from graphs.server._state import server_state

__all__ = ["router"]

router = APIRouter(tags=["probes"])


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    agent: str
    checkpointer: str
    """The checkpointer's scheme: memory, sqlite or postgres."""
    test_mode: bool


class Starting(BaseModel):
    status: Literal["starting", "draining"]


@router.get("/health", response_model=Health)
async def health() -> dict[str, str]:
    """Liveness: the process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/ready", response_model=Ready,
            responses={503: {"model": Starting, "description": "Still starting, or shutting down."}})
async def ready(request: Request) -> JSONResponse:
    """Readiness: 200 once the graph is compiled and its checkpointer is open; 503 before, and from the
    moment a shutdown begins (`draining`) so that the load balancer sends new turns elsewhere."""
    state = server_state(request)
    if state.agent is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    if state.agent.gate.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    scheme = state.checkpointer_url.split(":", 1)[0]
    return JSONResponse({"status": "ready", "agent": state.name, "checkpointer": scheme, "test_mode": state.test_mode})
