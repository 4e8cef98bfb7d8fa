"""The served agent as an MCP server at `/mcp` (streamable HTTP): one tool that sends a message on a
thread and returns the reply. An encoder of `graphs.events` (`_encode`) plus its route (`_server`)."""

from graphs.server.mcp_endpoint._encode import OUTPUT_SCHEMA, error_result, result_of
from graphs.server.mcp_endpoint._server import PATH, McpEndpoint, install, serving

__all__ = ["OUTPUT_SCHEMA", "PATH", "McpEndpoint", "error_result", "install", "result_of", "serving"]
