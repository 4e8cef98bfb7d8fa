"""The spec language: load a spec file (positions kept), check all of it at once, describe it.

`load_spec(path)` reads a spec and returns a `LoadedSpec` or raises `SpecError` with every
problem (`SpecIssue`: file, line, column, message, node, fix). The pydantic models are the
language's shapes; `spec_json_schema()` is their JSON Schema (what `factory schema` prints);
`NODE_KIND_SPECS` is the registry of node kinds. `docs/language.md` describes it all for users.
"""

from factory.errors import SpecError, SpecIssue
from factory.language._kinds import KINDS as NODE_KIND_SPECS
from factory.language._kinds import NodeKindSpec
from factory.language._schema import spec_json_schema
from factory.language._yaml import YamlLimits
from factory.language.loader import LoadedSpec, load_spec, load_spec_text
from factory.language.models import (
    AgentNode,
    Auth,
    ClassifyNode,
    Edge,
    Expectation,
    ExtractNode,
    FixSettings,
    History,
    HoldoutShare,
    HttpCall,
    InterruptNode,
    McpServer,
    ModelSettings,
    Node,
    PromptFile,
    PythonNode,
    ReplyNode,
    ServeSettings,
    SetNode,
    Simulate,
    Slot,
    Spec,
    SubgraphNode,
    TestCase,
    Tool,
    ToolCallExpect,
    ToolNode,
    Turn,
)

__all__ = [
    "LANGUAGE_DOCS", "NODE_KIND_SPECS", "AgentNode", "Auth", "ClassifyNode", "Edge", "Expectation", "ExtractNode",
    "FixSettings", "History", "HoldoutShare", "HttpCall", "InterruptNode", "LoadedSpec", "McpServer",
    "ModelSettings", "Node", "NodeKindSpec", "PromptFile", "PythonNode", "ReplyNode", "ServeSettings", "SetNode",
    "Simulate", "Slot", "Spec", "SpecError", "SpecIssue", "SubgraphNode", "TestCase", "Tool", "ToolCallExpect",
    "ToolNode", "Turn", "YamlLimits", "load_spec", "load_spec_text", "spec_json_schema",
]

LANGUAGE_DOCS = "docs/language.md"
"""Where the language is described for users (in the project's repository)."""
