"""`GET /metrics`: the Prometheus exposition of the turns (`graphs.telemetry`), open like `/health`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from graphs.telemetry import render

__all__ = ["router"]

router = APIRouter(tags=["probes"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
async def metrics() -> Response:
    """Turns by outcome, time to first token and turn duration, tokens, errors by code, active streams,
    busy-thread and shutdown refusals (every worker's, with `--workers`)."""
    body, content_type = render()
    return Response(body, media_type=content_type)
