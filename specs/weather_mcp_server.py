"""The MCP server of `weather_agent.yaml`: tomorrow's weather for a few cities, from a fixed table
(offline and deterministic, so the spec's conversations pass anywhere).

Written with the official `mcp` SDK's FastMCP. The spec starts it over stdio, in this folder
(`command: python`, the agent's own interpreter); try it alone with `python weather_mcp_server.py`
(it then waits for an MCP client on stdin) or `mcp dev weather_mcp_server.py`.
"""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

server = FastMCP("weather", log_level="WARNING")  # its log goes to the agent's stderr

FORECASTS: dict[str, dict[str, object]] = {
    "lisbon": {"city": "Lisbon", "sky": "sunny", "high_c": 24, "low_c": 16, "rain_mm": 0},
    "oslo": {"city": "Oslo", "sky": "windy, light snow", "high_c": -2, "low_c": -7, "rain_mm": 3},
    "berlin": {"city": "Berlin", "sky": "cloudy", "high_c": 9, "low_c": 3, "rain_mm": 1},
    "tokyo": {"city": "Tokyo", "sky": "clear", "high_c": 14, "low_c": 6, "rain_mm": 0},
}
ALERTS: dict[str, list[str]] = {"oslo": ["Wind warning: gusts up to 70 km/h from 14:00."]}


def _known(city: str) -> str:
    key = city.strip().lower()
    if key not in FORECASTS:
        raise ValueError(f"no forecast for {city!r}; this server knows {', '.join(sorted(FORECASTS))}")
    return key


@server.tool()
def forecast(city: str) -> dict[str, object]:
    """Tomorrow's forecast for a city: sky, high and low in °C, rain in mm."""
    return FORECASTS[_known(city)]


@server.tool()
def alerts(city: str) -> dict[str, object]:
    """Weather warnings for a city for tomorrow (an empty list when there are none)."""
    key = _known(city)
    return {"city": FORECASTS[key]["city"], "alerts": ALERTS.get(key, [])}


if __name__ == "__main__":
    server.run(transport="stdio")
