"""A real MCP server (the official `mcp` SDK's FastMCP) for the tests: `python weather_server.py stdio`
or `python weather_server.py http PORT` (streamable HTTP at /mcp)."""

from __future__ import annotations

import os
import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("weather", host="127.0.0.1", port=int(sys.argv[2]) if len(sys.argv) > 2 else 8000)


@server.tool()
def forecast(city: str) -> dict[str, object]:
    """Tomorrow's weather in a city."""
    return {"city": city, "sky": "sunny", "high_c": 21}


@server.tool()
def broken(city: str) -> str:
    """Always fails (the weather service is down)."""
    raise ValueError(f"the weather service is down for {city}")


@server.tool()
def environment() -> dict[str, object]:
    """What the server process sees: its working directory and environment variable names."""
    return {"cwd": os.getcwd(), "names": sorted(os.environ)}


if __name__ == "__main__":
    server.run(transport="stdio" if sys.argv[1] == "stdio" else "streamable-http")
