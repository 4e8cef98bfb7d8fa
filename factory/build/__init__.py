"""`factory build`: a generated build context (`generated/<name>/`) and a Docker image of it.

The context is rendered from sandboxed Jinja templates and is byte-for-byte stable; the image holds
only the runtime (`graphs/`), its pinned dependencies and the agent, runs as a non-root user, and
has the agent (plan + python modules) as its last layer. The same folder is a LangGraph project
too (`langgraph.json`, `agent_graph.py`, `pyproject.toml`): `langgraph dev` and `langgraph build`
host the same agent unchanged (see `docs/langgraph.md`).
"""

from __future__ import annotations

from factory.build._context import (
    DEFAULT_BASE_IMAGE,
    GeneratedContext,
    copy_runtime,
    langgraph_config,
    render_context,
    write_context,
)
from factory.build._engine import connect, engine_available
from factory.build._image import (
    IMAGE_PYTHON,
    BuildResult,
    build_image,
    check_python,
    host_python,
    image_python,
    prepare_wheelhouse,
    wheel_cache_dir,
)
from factory.build._requirements import (
    RUNTIME_REQUIREMENTS,
    SERVING_REQUIREMENTS,
    graph_requirements,
    pinned_requirements,
)

__all__ = [
    "DEFAULT_BASE_IMAGE",
    "IMAGE_PYTHON",
    "RUNTIME_REQUIREMENTS",
    "SERVING_REQUIREMENTS",
    "BuildResult",
    "GeneratedContext",
    "build_image",
    "check_python",
    "connect",
    "copy_runtime",
    "engine_available",
    "graph_requirements",
    "host_python",
    "image_python",
    "langgraph_config",
    "pinned_requirements",
    "prepare_wheelhouse",
    "render_context",
    "wheel_cache_dir",
    "write_context",
]
