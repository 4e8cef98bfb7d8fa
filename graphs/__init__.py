"""The runtime of a factory agent: what ships in its image (it never imports `factory`).

Its modules are its API: `graphs.agent` (the turn session), `graphs.events` (typed events and error
codes), `graphs.plan` (the compiled plan), `graphs.server` (the HTTP app) and their neighbours;
`docs/design.md` says which owns what.
"""

__all__: list[str] = []
