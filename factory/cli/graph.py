"""`factory graph SPEC`: the agent's graph as Mermaid text (every node id appears)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from factory.cli._common import SpecArg
from factory.cli._output import out_console
from factory.language import NODE_KIND_SPECS, Spec, load_spec


def mermaid(spec: Spec) -> str:
    """Mermaid flowchart text; conditions label their edges; each kind has its shape (the registry's)."""
    lines = ["flowchart TD", "  start((start))", "  end_((end))"]
    for node_id, node in spec.nodes.items():
        left, right = NODE_KIND_SPECS[node.kind].shape
        lines.append(f"  {node_id}{left}{node_id}<br/><i>{node.kind}</i>{right}")
    for edge in spec.edges:
        source = "end_" if edge.from_ == "end" else edge.from_
        target = "end_" if edge.to == "end" else edge.to
        if edge.when:
            label = edge.when.replace('"', "#quot;").replace("\n", " ")
            lines.append(f'  {source} -- "{label}" --> {target}')
        else:
            lines.append(f"  {source} --> {target}")
    return "\n".join(lines) + "\n"


def graph(
    spec: SpecArg,
    fmt: Annotated[Literal["mermaid", "json"], typer.Option("--format", help="Output format.")] = "mermaid",
) -> None:
    """Print the graph of SPEC (Mermaid by default)."""
    loaded = load_spec(spec)
    if fmt == "json":
        import json

        data = {"nodes": {k: v.kind for k, v in loaded.spec.nodes.items()},
                "edges": [e.model_dump(by_alias=True) for e in loaded.spec.edges]}
        out_console.print(json.dumps(data, indent=2), markup=False)
    else:
        out_console.print(mermaid(loaded.spec), markup=False, end="")
