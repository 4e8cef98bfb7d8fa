"""Malformed specs, one per row: each must fail with the exact position, the message and a fix.

Everything goes through the public API, `factory.language.loader.load_spec`, which raises
`factory.errors.SpecError` with every problem in `.issues`.

Most rows edit one line of `BASE` (line numbers stay those of `BASE`):

     1 spec: 1
     2 name: demo
     3 models:
     4   main: {provider: scripted}
     5 state:
     6   topic: {type: string}
     7 prompts:
     8   hello: "Talk about {{ topic }}"
     9 nodes:
    10   greet: {kind: reply, prompt: hello}
    11 edges:
    12   - {from: start, to: greet}
    13   - {from: greet, to: end}
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from factory.errors import SpecError, SpecIssue
from factory.language.loader import load_spec

BASE = """\
spec: 1
name: demo
models:
  main: {provider: scripted}
state:
  topic: {type: string}
prompts:
  hello: "Talk about {{ topic }}"
nodes:
  greet: {kind: reply, prompt: hello}
edges:
  - {from: start, to: greet}
  - {from: greet, to: end}
"""

GREET = "  greet: {kind: reply, prompt: hello}"
EDGE_END = "  - {from: greet, to: end}"


def edit(old: str, new: str, text: str = BASE) -> str:
    """BASE with one exact line (or fragment) replaced; fails loudly when `old` is not there."""
    assert old in text, old
    return text.replace(old, new, 1)


def add(extra: str, text: str = BASE) -> str:
    return text + extra


@dataclass
class Case:
    id: str
    text: str | bytes
    line: int
    column: int
    message: str
    count: int = 1
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    file_suffix: str | None = None
    """The issue is reported in another file whose path ends like this (a prompt file)."""


def _symlink_out(folder: Path) -> None:
    (folder.parent / "outside.md").write_text("secret plans {{ topic }}\n")
    (folder / "prompts").mkdir(exist_ok=True)
    os.symlink(folder.parent / "outside.md", folder / "prompts" / "link.md")


BILLION_LAUGHS = """\
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
"""

def http_headers(headers: str) -> str:
    """BASE with an http tool `t` whose `headers:` mapping (line 19, from column 16) holds `headers`."""
    return add("tools:\n  t:\n    description: d\n    http:\n      url: https://x.test\n"
               f"      headers: {{{headers}}}\n")


TESTS = """\
tests:
  - name: t1
    turns: [{user: hi}]
"""
# With TESTS appended, line 14 is `tests:`, 15 `- name: t1`, 16 `turns: ...`.

TOOL_Q = "tools:\n  t: {description: d, returns: 1, parameters: {type: object, properties: {q: {type: string}}}}\n"
# With TOOL_Q appended, line 14 is `tools:`, 15 the tool `t` (it takes one argument, `q`).
LOOKUP = {"mine.py": "def lookup(company: str, limit: int = 3) -> dict:\n    return {}\n"}

CHAIN = """\
spec: 1
name: demo
models:
  main: {provider: scripted}
nodes:
  greet: {kind: reply, prompt: "Hi."}
  gather: {kind: reply, prompt: "More."}
  a: {kind: reply, prompt: "A."}
edges:
  - {from: start, to: greet}
  - {from: greet, to: gahter}
  - {from: gather, to: a}
  - {from: a, to: end}
"""

TWO_NODES = """\
spec: 1
name: demo
models:
  main: {provider: scripted}
state:
  topic: {type: string}
nodes:
  a: {kind: reply, prompt: "Hi {{ topic }}"}
  b: {kind: set, values: {topic: '"x"'}}
edges:
  - {from: start, to: a}
"""

FOLDED_WHEN = edit(EDGE_END, """\
  - from: greet
    to: end
    when: >-
      state.topic == "a" ||
      state.topic ==
  - {from: greet, to: end}""")

LITERAL_WHEN = FOLDED_WHEN.replace("when: >-", "when: |")
PLAIN_WHEN = edit(EDGE_END, """\
  - from: greet
    to: end
    when: state.topic == "a" ||
      state.topic ==
  - {from: greet, to: end}""")

BLOCK_PROMPT = edit('  hello: "Talk about {{ topic }}"', """\
  hello: |
    Be brief.
    Talk about {{ topc }}.""")

CASES = [
    # ------------------------------------------------------------------ YAML and resource limits
    Case("yaml-syntax-unclosed-flow", "spec: 1\nname: [demo\nnodes: {}\n", 3, 6, "YAML syntax error"),
    Case("yaml-syntax-bad-indent", "spec: 1\nname: demo\n  extra: 1\n", 3, 8, "YAML syntax error"),
    Case("yaml-unclosed-quote", 'spec: 1\nname: "demo\n', 3, 1, "YAML syntax error"),
    Case("tab-indentation", "spec: 1\nmodels:\n\tmain: {provider: scripted}\n", 3, 1, "tab character"),
    Case("duplicate-key", "spec: 1\nname: a\nname: b\n", 3, 1, "duplicate key 'name' (first defined at line 2)"),
    Case("duplicate-node", edit(GREET, GREET + "\n  greet: {kind: reply, prompt: hello}"), 11, 3,
         "duplicate key 'greet' (first defined at line 10)"),
    Case("root-is-a-list", "- spec: 1\n- name: demo\n", 1, 1, "the top of a spec must be a mapping"),
    Case("root-is-text", "just some words\n", 1, 1, "the top of a spec must be a mapping"),
    Case("empty-file", "", 1, 1, "the file is empty"),
    Case("blank-file", "\n   \n\n", 1, 1, "the file is empty"),
    Case("comment-only", "# nothing\n# here\n", 1, 1, "the file is empty"),
    Case("document-marker-only", "---\n", 1, 1, "the file is empty"),
    Case("binary-nul", b"spec: 1\nname: de\x00mo\n", 2, 9, "binary data (a NUL byte)"),
    Case("binary-invalid-utf8", b"spec: 1\nname: caf\xe9\n", 2, 10, "not UTF-8 text"),
    Case("control-character", "spec: 1\nname: a\x07b\n", 2, 8, "control character '\\x07'"),
    Case("billion-laughs", BILLION_LAUGHS, 6, 8, "expands to more than 200000 values"),
    Case("recursive-alias", "spec: 1\nname: &n [*n]\n", 2, 11, "refers to the value that contains it"),
    Case("unknown-alias", "spec: 1\nname: *n\n", 2, 7, "unknown alias *n"),
    Case("deep-nesting", "spec: 1\nname: demo\nx: " + "[" * 100 + "]" * 100 + "\n", 3, 68,
         "nested deeper than 64 levels"),
    Case("very-deep-nesting", "spec: 1\nname: demo\nx: " + "[" * 100_000 + "\n", 3, 68,
         "nested deeper than 64 levels"),
    Case("very-large-file", "spec: 1\nname: demo\ndescription: " + "x" * 1_000_001 + "\n", 1, 1,
         "larger than the limit of 1000000 bytes"),
    Case("multiple-documents", "spec: 1\nname: demo\n---\nspec: 1\n", 3, 1, "more than one YAML document"),
    Case("custom-tag", "spec: 1\nname: !!python/object:os.system demo\n", 2, 7, "unsupported YAML tag"),
    Case("merge-key", "spec: 1\nname: demo\nmodels:\n  base: &b {provider: scripted}\n  main:\n    <<: *b\n",
         6, 5, "merge keys"),
    Case("huge-number", "spec: 1\nname: demo\nx: " + "9" * 5000 + "\n", 3, 4, "too long"),
    # ------------------------------------------------------------------ shapes and types
    Case("type-error-number", edit("  main: {provider: scripted}", "  main: {provider: scripted, temperature: hot}"),
         4, 43, "models/main/temperature: input should be a valid number, unable to parse string as a number "
         "(given 'hot')"),
    Case("type-error-nodes-list", edit(GREET, "  - greet"), 10, 3, "nodes: input should be a valid dictionary"),
    Case("type-error-edges-mapping", edit("  - {from: start, to: greet}\n" + EDGE_END, "  x: 1"), 12, 3,
         "edges: input should be a valid list"),
    Case("type-error-node-is-text", edit(GREET, "  greet: hello"), 10, 10,
         "nodes/greet: input should be a valid dictionary"),
    Case("unknown-key-did-you-mean", edit(GREET, "  greet: {kind: reply, promt: hello}"), 10, 24,
         "unknown key 'promt' in nodes/greet"),
    Case("unknown-top-level-key", add("defaults_model: main\n"), 14, 1,
         "unknown key 'defaults_model' in the top level"),
    Case("unknown-node-kind", edit(GREET, "  greet: {kind: replay, prompt: hello}"), 10, 17,
         "unknown node kind 'replay'"),
    Case("node-without-kind", edit(GREET, "  greet: {prompt: hello}"), 10, 3, "node 'greet' has no `kind:`"),
    Case("missing-required-key", edit(GREET, "  greet: {kind: reply}"), 10, 3,
         "missing required key 'prompt' in nodes/greet"),
    Case("missing-edge-target", edit(EDGE_END, "  - {from: greet}"), 13, 5, "missing required key 'to' in edges/1"),
    Case("prompt-wrong-type", edit('"Talk about {{ topic }}"', "42"), 8, 10,
         "prompt 'hello' must be text or `{file: path}` (given 42)"),
    Case("prompt-file-typo", edit('"Talk about {{ topic }}"', "{fil: hello.md}"), 8, 11, "unknown key 'fil'"),
    Case("invalid-name", edit("name: demo", "name: Demo_Agent"), 2, 7, "name: invalid value (given 'Demo_Agent')"),
    Case("name-not-text", edit("name: demo", "name: 42"), 2, 7, "name: input should be a valid string (given 42)"),
    Case("missing-spec-version", edit("spec: 1\n", ""), 1, 1, "the spec has no `spec:` format version"),
    Case("wrong-spec-version", edit("spec: 1", "spec: 2"), 1, 7, "unsupported spec format version (given 2)"),
    Case("spec-version-true", edit("spec: 1", "spec: true"), 1, 7, "unsupported spec format version (given true)"),
    Case("spec-version-float", edit("spec: 1", "spec: 1.0"), 1, 7, "unsupported spec format version (given 1.0)"),
    Case("spec-version-text", edit("spec: 1", "spec: '1'"), 1, 7, 'unsupported spec format version (given "1")'),
    Case("bad-slot-type", edit("{type: string}", "{type: str}"), 6, 17,
         "state/topic/type: invalid value (given 'str')"),
    Case("bad-enum-literal", edit("{provider: scripted}", "{provider: anthropic}"), 4, 20,
         "models/main/provider: input should be 'openai' or 'scripted' (given 'anthropic')"),
    Case("bad-regex-in-test", add(TESTS.replace("{user: hi}", "{user: hi, expect: [{matches: '('}]}")), 16, 43,
         "invalid regular expression"),
    Case("slot-merge-on-list", edit("{type: string}", "{type: 'list[string]', reducer: merge}"), 6, 33,
         "slot 'topic': `reducer: merge` needs an object, but its type is 'list[string]'"),
    Case("slot-append-on-string", edit("{type: string}", "{type: string, reducer: append}"), 6, 25,
         "slot 'topic': `reducer: append` needs a list, but its type is 'string'"),
    Case("slot-default-wrong-type", edit("{type: string}", "{type: boolean, default: \"yes\"}"), 6, 26,
         "slot 'topic': default \"yes\" does not match type 'boolean'"),
    Case("slot-default-bool-for-integer", edit("{type: string}", "{type: integer, default: true}"), 6, 26,
         "slot 'topic': default true does not match type 'integer'"),
    Case("slot-default-list-items", edit("{type: string}", "{type: 'list[integer]', default: [1, x]}"), 6, 34,
         "slot 'topic': default [1, \"x\"] does not match type 'list[integer]'"),
    Case("slot-default-not-in-enum", edit("{type: string}", "{type: string, enum: [a, b], default: c}"), 6, 39,
         "slot 'topic': default \"c\" is not in its enum [\"a\", \"b\"]"),
    Case("slot-enum-wrong-type", edit("{type: string}", "{type: integer, enum: [1, two]}"), 6, 26,
         "slot 'topic': enum values [\"two\"] do not match type 'integer'"),
    Case("slot-enum-number-for-string", edit("{type: string}", "{type: string, enum: [yes, 1]}"), 6, 25,
         "slot 'topic': enum values [1] do not match type 'string'"),
    # ------------------------------------------------------------------ references
    Case("unknown-model", edit(GREET, "  greet: {kind: reply, prompt: hello, model: mian}"), 10, 46,
         "unknown model 'mian'"),
    Case("unknown-default-model", add("default_model: mian\n"), 14, 16, "unknown model 'mian'"),
    Case("unknown-prompt", edit(GREET, "  greet: {kind: reply, prompt: helo}"), 10, 32, "unknown prompt 'helo'"),
    Case("one-word-prompt", edit(GREET, "  greet: {kind: reply, prompt: hi}"), 10, 32,
         "unknown prompt 'hi' (a one-word prompt is read as the name of a `prompts:` entry)"),
    Case("unknown-tool", edit(GREET, "  greet: {kind: agent, prompt: hello, tools: [serch]}"), 10, 47,
         "unknown tool 'serch'"),
    Case("unknown-slot-extract", edit(GREET, "  greet: {kind: extract, prompt: hello, into: [topik]}"), 10, 48,
         "unknown slot 'topik'"),
    Case("unknown-slot-set", edit(GREET, "  greet: {kind: set, values: {topik: '\"x\"'}}"), 10, 31,
         "unknown slot 'topik'"),
    Case("invalid-node-id", BASE.replace("greet", "bad-id"), 10, 3, "invalid node id 'bad-id'"),
    Case("reserved-node-id-end", BASE.replace("greet", "__end__"), 10, 3,
         "invalid node id '__end__': LangGraph reserves"),
    Case("reserved-node-id-start", BASE.replace("greet", "__start__"), 10, 3, "invalid node id '__start__'"),
    Case("reserved-node-id-dunder", BASE.replace("greet", "__x__"), 10, 3, "invalid node id '__x__'"),
    Case("edge-to-unknown-node", edit(EDGE_END, "  - {from: greet, to: bye}"), 13, 23, "edge to unknown node 'bye'",
         count=2),
    Case("edge-from-unknown-node", add("  - {from: gret, to: end}\n"), 14, 12, "edge from unknown node 'gret'"),
    # ------------------------------------------------------------------ graph shape
    Case("unreachable-node", edit(GREET, GREET + "\n  orphan: {kind: reply, prompt: hello}"), 11, 3,
         "nothing reaches node 'orphan'"),
    Case("no-edge-from-start", edit("  - {from: start, to: greet}\n", ""), 11, 1, "no edge leaves `start`", count=2),
    Case("cannot-reach-end", TWO_NODES + "  - {from: a, to: b, when: 'state.topic == \"x\"'}\n  - {from: a, to: end}\n",
         9, 3, "`end` cannot be reached from node 'b'"),
    Case("cycle-without-exit", TWO_NODES + "  - {from: a, to: b}\n  - {from: b, to: a}\n", 8, 3,
         "cycle with no exit: a -> b -> a"),
    Case("two-cycles-without-exit", TWO_NODES.replace("  b: {", "  c: {kind: set, values: {topic: '\"y\"'}}\n  b: {")
         + "  - {from: a, to: b, when: state.topic}\n  - {from: b, to: a}\n"
         + "  - {from: a, to: c}\n  - {from: c, to: a}\n", 8, 3,
         "cycle with no exit: a -> b -> a", count=2),
    Case("conditional-without-default", edit(EDGE_END, "  - {from: greet, to: end, when: 'state.topic == \"x\"'}"),
         13, 34, "the conditional edges leaving 'greet' have no default"),
    Case("edge-after-unconditional", add("  - {from: greet, to: greet, when: 'state.topic == \"x\"'}\n"), 14, 5,
         "this edge from 'greet' is never taken"),
    # ------------------------------------------------------------------ CEL
    Case("cel-syntax", edit(EDGE_END, '  - {from: greet, to: end, when: "state.topic =="}\n' + EDGE_END), 13, 49,
         "CEL syntax error in 'state.topic =='"),
    Case("cel-syntax-folded", FOLDED_WHEN, 17, 21, "CEL syntax error"),
    Case("cel-syntax-literal-block", LITERAL_WHEN, 17, 21, "CEL syntax error"),
    Case("cel-syntax-plain-multiline", PLAIN_WHEN, 16, 21, "CEL syntax error"),
    Case("cel-unknown-slot", edit(EDGE_END, "  - {from: greet, to: end, when: 'state.topik == \"x\"'}\n" + EDGE_END),
         13, 41, "CEL expression reads unknown slot 'topik'"),
    Case("cel-unknown-variable", edit(EDGE_END, "  - {from: greet, to: end, when: 'topic == \"x\"'}\n" + EDGE_END),
         13, 34, "reads 'topic'; only ['state'] exist here"),
    Case("cel-tool-arg", edit(GREET, "  greet: {kind: tool, tool: t, args: {q: 'state.topic +'}}")
         + "tools:\n  t: {description: d, returns: 1}\n", 10, 56, "CEL syntax error"),
    # ------------------------------------------------------------------ Jinja
    Case("jinja-unknown-name", edit("{{ topic }}", "{{ topc }}"), 8, 25, "the template uses 'topc'"),
    Case("jinja-unknown-name-block", BLOCK_PROMPT, 10, 19, "the template uses 'topc'"),
    Case("jinja-unknown-name-file", edit('"Talk about {{ topic }}"', "{file: prompts/hello.md}"), 2, 15,
         "the template uses 'topc'", files={"prompts/hello.md": "Be brief.\nTalk about {{ topc }}.\n"},
         file_suffix="prompts/hello.md"),
    Case("jinja-unknown-name-inline-prompt", edit(GREET, "  greet: {kind: reply, prompt: 'Hi {{ topc }}'}"), 10, 39,
         "the template uses 'topc'"),
    Case("jinja-unknown-name-interrupt",
         edit(GREET, "  greet: {kind: interrupt, message: 'Which {{ thing }}?', into: topic}"), 10, 47,
         "the template uses 'thing'"),
    Case("jinja-syntax", edit("{{ topic }}", "{{ topic "), 8, 11, "template syntax error"),
    # ------------------------------------------------------------------ streaming
    Case("stream-off-reply", edit(GREET, "  greet: {kind: reply, prompt: hello, stream: false}"), 10, 47,
         "reply node turns streaming off"),
    Case("stream-off-agent", edit(GREET, "  greet: {kind: agent, prompt: hello, stream: false}"), 10, 47,
         "agent node turns streaming off"),
    Case("stream-off-interrupt",
         edit(GREET, '  greet: {kind: interrupt, message: "Which topic?", into: topic, stream: false}'), 10, 74,
         "interrupt node turns streaming off"),
    Case("streaming-off-model", edit("{provider: scripted}", "{provider: scripted, streaming: false}"), 10, 3,
         "model 'main' has `streaming: false` but reply nodes speak to the user"),
    Case("streaming-off-named-model",
         edit("{provider: scripted}", "{provider: scripted, streaming: false}").replace(
             "prompt: hello}", "prompt: hello, model: main}"), 10, 46, "model 'main' has `streaming: false`"),
    # ------------------------------------------------------------------ security
    Case("literal-api-key", edit("{provider: scripted}", "{provider: openai, api_key: sk-abcdefghijklmnopqrstuv}"),
         4, 28, "a literal secret ('api_key') is never written in a spec"),
    Case("secret-string-in-prompt", edit("Talk about", "Use sk-abcdefghijklmnop1234 to talk about"), 8, 10,
         "a literal secret is written in the spec"),
    Case("secret-in-http-header", add("tools:\n  t:\n    description: d\n    http:\n      url: https://x.test\n"
                                      "      headers: {Authorization: Bearer sk-abcdefghijklmnopqrstuv}\n"), 19, 32,
         "a literal secret is written in the spec"),
    Case("secret-bearer-header", http_headers("Authorization: Bearer 0123456789abcdefABCDEF"), 19, 32,
         "a literal secret is written in the spec: header 'Authorization' of tool 't'"),
    Case("secret-basic-auth-header", http_headers("Authorization: Basic dXNlcjpwYXNzd29yZA=="), 19, 32,
         "a literal secret is written in the spec: header 'Authorization' of tool 't'"),
    Case("secret-api-key-header", http_headers("X-API-Key: 0123456789abcdefABCDEF"), 19, 28,
         "a literal secret is written in the spec: header 'X-API-Key' of tool 't'"),
    Case("secret-url-password", add("tools:\n  t: {description: d, http: {url: 'https://me:pw@x.test/'}}\n"), 15, 35,
         "the url of tool 't' holds a password"),
    Case("prompt-file-parent", edit('"Talk about {{ topic }}"', "{file: ../x.md}"), 8, 17,
         "prompt file '../x.md' resolves outside the spec's folder", files={"../x.md": "{{ topic }}"}),
    Case("prompt-file-absolute", edit('"Talk about {{ topic }}"', "{file: /etc/hostname}"), 8, 17,
         "prompt file '/etc/hostname' resolves outside the spec's folder"),
    Case("prompt-file-symlink", edit('"Talk about {{ topic }}"', "{file: prompts/link.md}"), 8, 17,
         "prompt file 'prompts/link.md' resolves outside the spec's folder", setup=_symlink_out),
    Case("prompt-file-missing", edit('"Talk about {{ topic }}"', "{file: nope.md}"), 8, 17,
         "cannot read prompt file 'nope.md'"),
    Case("subgraph-outside", edit(GREET, "  greet: {kind: subgraph, spec: ../other.yaml}"), 10, 33,
         "subgraph spec '../other.yaml' resolves outside the spec's folder", files={"../other.yaml": BASE}),
    Case("subgraph-absolute", edit(GREET, "  greet: {kind: subgraph, spec: /tmp/other.yaml}"), 10, 33,
         "subgraph spec '/tmp/other.yaml' resolves outside the spec's folder"),
    Case("subgraph-includes-itself", edit(GREET, "  greet: {kind: subgraph, spec: spec.yaml}"), 10, 33,
         "subgraph spec 'spec.yaml' includes itself"),
    Case("checkpointer-password", add("serve: {checkpointer: 'postgres://u:pw@db/x'}\n"), 14, 23,
         "the checkpointer URL holds a password"),
    # ------------------------------------------------------------------ test conversations
    Case("test-script-unknown-node", add(TESTS.replace("    turns:", "    script: {gret: [hi]}\n    turns:")), 16, 14,
         "script for unknown node 'gret'"),
    Case("test-visited-unknown-node", add(TESTS.replace("{user: hi}", "{user: hi, expect: [{visited: [gret]}]}")),
         16, 44, "visited names unknown node 'gret'"),
    Case("test-not-visited-unknown-node", add(TESTS.replace("{user: hi}", "{user: hi, expect: [{not_visited: [x]}]}")),
         16, 48, "not_visited names unknown node 'x'"),
    Case("test-state-unknown-slot", add(TESTS.replace("{user: hi}", "{user: hi, expect: [{state: {topik: x}}]}")),
         16, 42, "expected state names unknown slot 'topik'"),
    Case("test-tool-called-unknown", add(TESTS.replace("{user: hi}", "{user: hi, expect: [{tool_called: {name: s}}]}")),
         16, 54, "tool_called names unknown tool 's'"),
    Case("test-mock-unknown-tool", add(TESTS.replace("    turns:", "    mocks: {serch: {}}\n    turns:")), 16, 13,
         "mock for unknown tool 'serch'"),
    Case("test-assert-unknown-slot",
         add(TESTS.replace("{user: hi}", "{user: hi, expect: [{assert: 'state.topik == reply'}]}")), 16, 49,
         "CEL expression reads unknown slot 'topik'"),
    Case("test-script-reply-shape", add(TESTS.replace("    turns:", "    script: {greet: [{text: hi}]}\n    turns:")),
         16, 22, "a reply node's script entry must be text"),
    Case("test-script-extract-shape",
         add(TESTS.replace("    turns:", "    script: {greet: [Acme]}\n    turns:"))
         .replace(GREET, "  greet: {kind: extract, prompt: hello, into: [topic]}"), 16, 22,
         "an extract node's script entry is a mapping of slot values"),
    Case("test-script-extract-unknown-slot",
         add(TESTS.replace("    turns:", "    script: {greet: [{topik: x}]}\n    turns:"))
         .replace(GREET, "  greet: {kind: extract, prompt: hello, into: [topic]}"), 16, 22,
         "the script fills slots ['topik']"),
    Case("test-script-for-set-node",
         add(TESTS.replace("    turns:", "    script: {greet: [x]}\n    turns:"))
         .replace(GREET, "  greet: {kind: set, values: {topic: '\"x\"'}}"), 16, 22, "takes no script"),
    Case("test-script-agent-unknown-tool",
         add(TESTS.replace("    turns:", "    script: {greet: [{tool_calls: [{name: serch}]}]}\n    turns:"))
         .replace(GREET, "  greet: {kind: agent, prompt: hello}"), 16, 22,
         "the script calls tools ['serch'] that the agent node does not offer"),
    Case("test-script-classify-label",
         add(TESTS.replace("    turns:", "    script: {greet: [maybe]}\n    turns:"))
         .replace(GREET, "  greet: {kind: classify, prompt: hello, labels: {yes: y, no: n}, into: topic}"), 16, 22,
         "a classify node's script entry is one of ['no', 'yes'], got 'maybe'"),
    Case("test-duplicate-names", add(TESTS + TESTS.removeprefix("tests:\n")), 17, 11,
         "two conversations are named 't1'"),
    Case("test-expectation-two-keys",
         add(TESTS.replace("{user: hi}", "{user: hi, expect: [{contains: a, not_contains: b}]}")), 16, 33,
         "an expectation has exactly one key"),
    Case("test-expectation-typo", add(TESTS.replace("{user: hi}", "{user: hi, expect: [{contain: a}]}")), 16, 34,
         "unknown key 'contain'"),
    # ------------------------------------------------------------------ simulated users, held-out conversations
    Case("simulate-unknown-key", add(TESTS.replace("    turns: [{user: hi}]", "    simulate: {goal: g, persnoa: p}")),
         16, 25, "unknown key 'persnoa' in tests/0/simulate"),
    Case("simulate-without-goal", add(TESTS.replace("    turns: [{user: hi}]", "    simulate: {persona: p}")), 16, 5,
         "missing required key 'goal' in tests/0/simulate"),
    Case("simulate-stop-when-syntax",
         add(TESTS.replace("    turns: [{user: hi}]", "    simulate: {goal: g, stop_when: 'state.topic =='}")), 16, 51,
         "CEL syntax error in 'state.topic =='"),
    Case("simulate-stop-when-unknown-slot",
         add(TESTS.replace("    turns: [{user: hi}]", "    simulate: {goal: g, stop_when: 'state.topik == reply'}")),
         16, 43, "CEL expression reads unknown slot 'topik'"),
    Case("simulate-unknown-model",
         add(TESTS.replace("    turns: [{user: hi}]", "    simulate: {goal: g, model: mian}")), 16, 32,
         "unknown model 'mian' for the simulated user"),
    Case("simulate-max-turns", add(TESTS.replace("    turns: [{user: hi}]", "    simulate: {goal: g, max_turns: 0}")),
         16, 36, "tests/0/simulate/max_turns: input should be greater than or equal to 1 (given 0)"),
    Case("each-turn-without-simulate", add(TESTS.replace("    turns:", "    each_turn: [{contains: x}]\n    turns:")),
         16, 5, "`each_turn` checks a simulated conversation, and this one has no `simulate`"),
    Case("at-end-without-simulate", add(TESTS.replace("    turns:", "    at_end: [{contains: x}]\n    turns:")), 16, 5,
         "`at_end` checks a simulated conversation, and this one has no `simulate`"),
    Case("at-end-unknown-node",
         add(TESTS.replace("    turns: [{user: hi}]", "    simulate: {goal: g}\n    at_end: [{visited: [gret]}]")),
         17, 25, "visited names unknown node 'gret'"),
    Case("each-turn-two-keys",
         add(TESTS.replace("    turns: [{user: hi}]",
                           "    simulate: {goal: g}\n    each_turn: [{contains: a, matches: b}]")),
         17, 17, "an expectation has exactly one key"),
    Case("conversation-without-turns-or-simulate", add(TESTS.replace("    turns: [{user: hi}]", "    tags: [x]")),
         15, 5, "conversation 't1' has no `turns` and no `simulate`"),
    Case("script-user-without-simulate", add(TESTS.replace("    turns:", "    script: {user: [hello]}\n    turns:")),
         16, 14, "`script.user` is what a simulated user says, and this conversation has no `simulate`"),
    Case("script-user-not-text",
         add(TESTS.replace("    turns: [{user: hi}]", "    simulate: {goal: g}\n    script: {user: [{a: 1}]}")),
         17, 21, "a simulated user's scripted message is text, got {'a': 1}"),
    Case("holdout-unknown-name", add(TESTS + "fix: {holdout: [t2]}\n"), 17, 17,
         "holdout names no conversation and no tag: 't2'"),
    Case("holdout-everything", add(TESTS + "fix: {holdout: [t1]}\n"), 17, 7,
         "holdout holds out every conversation: the patcher would see none"),
    Case("holdout-share-too-large", add(TESTS + "fix: {holdout: {share: 1.5}}\n"), 17, 24,
         "fix/holdout/share: input should be less than 1 (given 1.5)"),
    Case("holdout-share-of-one", add(TESTS + "fix: {holdout: {share: 0.5}}\n"), 17, 7,
         "a held-out share needs at least two conversations, the spec has 1"),
    Case("holdout-share-typo", add(TESTS + "fix: {holdout: {shar: 0.5}}\n"), 17, 17,
         "unknown key 'shar' in fix/holdout"),
    # ------------------------------------------------------------------ typos a run would not notice
    Case("template-state-dot-name", edit("{{ topic }}", "{{ state.topc }}"), 8, 25,
         "the template reads `state.topc`, but there is no slot 'topc' (it would render as nothing)"),
    Case("template-prompts-dot-name", edit("{{ topic }}", "{{ topic }} {{ prompts.helo }}"), 8, 37,
         "the template reads `prompts.helo`, but there is no prompt 'helo'"),
    Case("cel-value-outside-enum", edit("{type: string}", "{type: string, enum: [book, cancel]}")
         .replace(EDGE_END, "  - {from: greet, to: end, when: \"state.topic == 'cancle'\"}\n" + EDGE_END), 13, 50,
         "CEL expression compares slot 'topic' with 'cancle', which is not in its enum ['book', 'cancel']"),
    Case("cel-type-error", edit("{type: string}", "{type: integer}").replace("{{ topic }}", "x")
         .replace(EDGE_END, "  - {from: greet, to: end, when: \"state.topic > '4'\"}\n" + EDGE_END), 13, 34,
         "CEL type error in \"state.topic > '4'\": No such overload"),
    Case("tool-node-unknown-argument", edit(GREET, "  greet: {kind: tool, tool: t, args: {qq: state.topic}}") + TOOL_Q,
         10, 39, "tool 't' takes no argument 'qq' (it takes ['q'])"),
    Case("tool-node-python-argument",
         edit(GREET, "  greet: {kind: tool, tool: t, args: {company: state.topic, size: '1'}}")
         + "tools:\n  t: {description: d, python: 'mine:lookup'}\n", 10, 61,
         "tool 't' takes no argument 'size' (it takes ['company', 'limit'])", files=dict(LOOKUP)),
    Case("test-script-tool-call-argument",
         add(TESTS.replace("    turns:", "    script: {greet: [{tool_calls: [{name: t, args: {qq: x}}]}]}\n    turns:"))
         .replace(GREET, "  greet: {kind: agent, prompt: hello, tools: [t]}") + TOOL_Q, 16, 22,
         "the script calls tool 't' with arguments ['qq'] it does not take (it takes ['q'])"),
    Case("test-script-extract-value-type",
         add(TESTS.replace("    turns:", "    script: {greet: [{topic: 4}]}\n    turns:"))
         .replace(GREET, "  greet: {kind: extract, prompt: hello, into: [topic]}"), 16, 22,
         "the script gives slot 'topic' (string) the value 4, which is not text: the run would drop it"),
    # ------------------------------------------------------------------ the cause first, its consequences folded in
    Case("edge-typo-folds-what-it-causes", CHAIN, 11, 23,
         "edge to unknown node 'gahter', and 2 nodes it leaves unreachable (gather, a), and 1 node it leaves with "
         "no way to `end` (greet)"),
    Case("edge-from-capital-start", edit("  - {from: start, to: greet}", "  - {from: Start, to: greet}"), 12, 12,
         "edge from unknown node 'Start', and 1 node it leaves unreachable (greet), and no edge leaving `start`"),
    Case("test-visited-did-you-mean", add(TESTS.replace("{user: hi}", "{user: hi, expect: [{visited: [gret]}]}")),
         16, 44, "visited names unknown node 'gret'"),
    Case("cel-single-equals", edit(EDGE_END, "  - {from: greet, to: end, when: \"state.topic = 'x'\"}\n" + EDGE_END),
         13, 47, "CEL has no `=` in \"state.topic = 'x'\": use `==` to compare"),
    Case("comma-in-flow-mapping", edit("{type: string}", "{type: string, description: Reservation date, YYYY-MM-DD.}"),
         6, 56, "unknown key 'YYYY-MM-DD.' in state/topic: a comma inside `{...}` ends a value"),
    Case("prompt-name-with-hyphen", edit(GREET, "  greet: {kind: reply, prompt: classify-intent}"), 10, 32,
         "unknown prompt 'classify-intent' (a one-word prompt is read as the name of a `prompts:` entry)"),
    Case("no-nodes", "spec: 1\nname: demo\nmodels: {main: {provider: scripted}}\nnodes: {}\n"
         "edges: [{from: start, to: end}]\n", 4, 1, "the spec has no nodes"),
    # ------------------------------------------------------------------ history, MCP servers, serve
    Case("history-two-windows", edit("{provider: scripted}", "{provider: scripted, history: {last: 5, max_tokens: 9}}"),
         4, 30, "`history` needs exactly one of `last`, `max_tokens`, `summarize_after` (has ['last', 'max_tokens'])"),
    Case("history-summary-without-model",
         edit(GREET, "  greet: {kind: reply, prompt: hello, history: {summarize_after: 20}}"), 10, 39,
         "`history: {summarize_after: N}` needs the `model` that writes the summary"),
    Case("history-unknown-model",
         edit(GREET, "  greet: {kind: reply, prompt: hello, history: {summarize_after: 20, model: mian}}"), 10, 77,
         "unknown model 'mian'"),
    Case("mcp-two-transports", add("mcp_servers:\n  gh: {command: npx, url: 'https://x.test/mcp'}\n"), 15, 3,
         "MCP server 'gh' needs exactly one transport: `command` (stdio) or `url` (HTTP)"),
    Case("mcp-env-holds-a-value", add("mcp_servers:\n  gh: {command: npx, env: [GITHUB_TOKEN=abc123]}\n"), 15, 28,
         "`env` lists the NAMES of variables passed through, got 'GITHUB_TOKEN=abc123'"),
    Case("mcp-unknown-server", add("mcp_servers:\n  gh: {command: npx}\ntools:\n  t: {description: d, mcp: hg/x}\n"),
         17, 28, "unknown MCP server 'hg' in 'hg/x'"),
    Case("mcp-tool-not-allowed", add("mcp_servers:\n  gh: {command: npx, tools: [create_issue]}\n"
                                     "tools:\n  t: {description: d, mcp: gh/delete_repo}\n"), 17, 28,
         "MCP server 'gh' allows no tool 'delete_repo' (its `tools:` are ['create_issue'])"),
    Case("mcp-secret-in-args",
         add("mcp_servers:\n  gh: {command: npx, args: [--token, ghp_abcdefghijklmnopqrstuvwx]}\n"), 15, 38,
         "a literal secret is written in the spec"),
    Case("mcp-url-password", add("mcp_servers:\n  web: {url: 'https://me:pw@x.test/mcp'}\n"), 15, 14,
         "the url of MCP server 'web' holds a password"),
    Case("mcp-tool-form", add("tools:\n  t: {description: d, mcp: create_issue}\n"), 15, 28,
         "tools/t/mcp: invalid value (given 'create_issue')"),
    Case("serve-broker-not-redis", add("serve: {broker: 'http://cache:6379'}\n"), 14, 17,
         "the broker must be a Redis URL, got 'http://cache:6379'"),
    Case("serve-broker-password", add("serve: {broker: 'redis://u:pw@cache:6379/0'}\n"), 14, 17,
         "the broker URL holds a password"),
    Case("serve-grace-not-positive", add("serve: {grace_s: 0}\n"), 14, 18,
         "serve/grace_s: input should be greater than 0 (given 0)"),
]


def _write(tmp_path: Path, case: Case) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    for name, content in case.files.items():
        target = (folder / name).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    if case.setup:
        case.setup(folder)
    spec = folder / "spec.yaml"
    if isinstance(case.text, bytes):
        spec.write_bytes(case.text)
    else:
        spec.write_text(case.text, encoding="utf-8", errors="surrogatepass")
    return spec


def _issues(path: Path) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return caught.value.issues


def test_base_spec_is_valid(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(BASE)
    loaded = load_spec(tmp_path / "spec.yaml")
    assert loaded.spec.name == "demo"


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_spec(tmp_path: Path, case: Case) -> None:
    path = _write(tmp_path, case)
    issues = _issues(path)
    rendered = "\n".join(i.render() for i in issues)
    matching = [i for i in issues if case.message in i.message]
    assert matching, f"no issue mentions {case.message!r}:\n{rendered}"
    issue = matching[0]
    assert (issue.line, issue.column) == (case.line, case.column), rendered
    expected_file = case.file_suffix or str(path)
    assert issue.file.endswith(expected_file), rendered
    assert issue.fix, f"no fix for: {issue.render()}"
    assert len(issues) == case.count, rendered
    # causes first (shapes, references), then what may follow from them (the graph's shape); by place within each
    assert issues == sorted(issues, key=lambda i: (i.rank, i.file, i.line, i.column)), rendered


def test_alias_bomb_finishes_fast(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS)
    started = time.perf_counter()
    issues = _issues(path)
    # A hang guard, not a benchmark: the bomb must stop at the limit, long before expanding.
    assert time.perf_counter() - started < 5
    assert "alias expansion" in issues[0].message


def test_unknown_key_suggests_the_right_field(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(edit(GREET, "  greet: {kind: reply, promt: hello}"))
    (issue,) = _issues(path)
    assert issue.fix == "did you mean 'prompt'?"
    assert issue.node == "greet"


def test_unknown_kind_suggests_a_kind(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(edit(GREET, "  greet: {kind: replay, prompt: hello}"))
    (issue,) = _issues(path)
    assert issue.fix == "did you mean 'reply'?"


def test_literal_secret_points_to_api_key_env(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(edit("{provider: scripted}", "{provider: openai, api_key: sk-abcdefghijklmnopqrstuv}"))
    (issue,) = _issues(path)
    assert "api_key_env" in (issue.fix or "")


def test_several_problems_are_reported_together_causes_first(tmp_path: Path) -> None:
    text = (
        edit(GREET, "  greet: {kind: reply, prompt: hello, model: mian}\n  orphan: {kind: reply, prompt: helo}")
        .replace(EDGE_END, "  - {from: greet, to: end, when: 'state.topik == \"x\"'}\n" + EDGE_END)
        .replace('"Talk about {{ topic }}"', '"Talk about {{ topc }}"')
    ) + TESTS.replace("    turns:", "    mocks: {serch: {}}\n    turns:")
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    issues = _issues(path)
    summary = [(i.line, i.message.split(" (")[0]) for i in issues]
    assert summary == [
        (8, "the template uses 'topc', which the state does not have"),
        (10, "unknown model 'mian'"),
        (11, "unknown prompt 'helo'"),
        (14, "CEL expression reads unknown slot 'topik'"),
        (18, "mock for unknown tool 'serch'"),
        (11, "nothing reaches node 'orphan' from `start`"),  # the graph's shape comes after every cause
    ], summary
    assert all(i.fix for i in issues)


def test_a_broken_node_does_not_hide_the_rest(tmp_path: Path) -> None:
    """A missing `prompt` in one node and an unknown slot in another: both, each at its line; the edge to
    the broken node is no second problem."""
    text = edit(GREET, "  greet: {kind: reply}\n  ask: {kind: extract, prompt: hello, into: [topik]}").replace(
        EDGE_END, "  - {from: greet, to: ask}\n  - {from: ask, to: end, when: 'state.topc == \"x\"'}\n"
                  "  - {from: ask, to: end}")
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    summary = [(i.line, i.column, i.message) for i in _issues(path)]
    assert summary == [
        (10, 3, "missing required key 'prompt' in nodes/greet"),
        (11, 46, "unknown slot 'topik'"),
        (15, 39, "CEL expression reads unknown slot 'topc'"),
    ], summary


def test_a_broken_slot_is_still_a_known_name(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(edit("{type: string}", "{type: text}"))  # the template and the prompt still read `topic`
    assert [(i.line, i.message) for i in _issues(path)] == [(6, "state/topic/type: invalid value (given 'text')")]


def test_problems_in_a_subgraph_spec_are_reported_in_its_file(tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text(edit("{{ topic }}", "{{ topc }}"))
    (tmp_path / "parent.yaml").write_text(edit(GREET, "  greet: {kind: subgraph, spec: child.yaml}"))
    issues = _issues(tmp_path / "parent.yaml")
    assert [(Path(i.file).name, i.line, i.column) for i in issues] == [("child.yaml", 8, 25), ("parent.yaml", 10, 33)]


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    issues = _issues(tmp_path / "nope.yaml")
    assert "cannot read the spec" in issues[0].message
    assert issues[0].fix


def test_a_folder_is_a_spec_error(tmp_path: Path) -> None:
    issues = _issues(tmp_path)
    assert "cannot read the spec" in issues[0].message


def test_yaml_1_1_surprises_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    text = add(TESTS.replace("{user: hi}", "{user: no}")).replace("name: demo", "name: demo\ndescription: 1:30")
    path.write_text(text)
    loaded = load_spec(path)
    assert loaded.spec.description == "1:30"
    assert loaded.spec.tests[0].turns[0].user == "no"


@pytest.mark.parametrize(("text", "line", "column", "message", "fix"), [
    (edit("{provider: scripted}", "{provider: scripted, stream: false}"), 4, 30,
     "unknown key 'stream' in models/main", "did you mean 'streaming'?"),
    (add("base: x\n"), 14, 1, "unknown key 'base' in the top level",
     "remove the key; the keys allowed here are: spec, name, description, models, default_model, state, prompts, "
     "tools, mcp_servers, nodes, edges, serve, tests, fix"),
    (edit(GREET, "  greet: {kind: reply, prompt: hello, stream: true, streaming: true}"), 10, 53,
     "unknown key 'streaming' in nodes/greet", "did you mean 'stream'?"),
    (edit(GREET, "  greet: {kind: set, values: {topic: '1'}, into: topic}"), 10, 44,
     "unknown key 'into' in nodes/greet",
     "remove the key; the keys allowed here are: description, kind, values"),
    (edit("{type: string}", "{type: string, defualt: x}"), 6, 25, "unknown key 'defualt' in state/topic",
     "did you mean 'default'?"),
    (add("tools:\n  t: {description: d, http: {url: 'https://x.test', header: {}}}\n"), 15, 53,
     "unknown key 'header' in tools/t/http", "did you mean 'headers'?"),
    (add("tools:\n  t: {description: d, return: 1}\n"), 15, 23, "unknown key 'return' in tools/t",
     "did you mean 'returns'?"),
    (edit(EDGE_END, "  - {from: greet, to: end, wen: x}"), 13, 28, "unknown key 'wen' in edges/1",
     "did you mean 'when'?"),
    (add("serve: {paht: /x}\n"), 14, 9, "unknown key 'paht' in serve", "did you mean 'path'?"),
    (add("fix: {max_iter: 3}\n"), 14, 7, "unknown key 'max_iter' in fix", "did you mean 'max_iterations'?"),
    (add(TESTS.replace("    turns:", "    mock: {}\n    turns:")), 16, 5, "unknown key 'mock' in tests/0",
     "did you mean 'mocks'?"),
    (add(TESTS.replace("{user: hi}", "{usr: hi}")), 16, 14, "unknown key 'usr' in tests/0/turns/0",
     "did you mean 'user'?"),
    (add(TESTS.replace("{user: hi}", "{user: hi, expect: [{judje: ok}]}")), 16, 34,
     "unknown key 'judje' in tests/0/turns/0/expect/0", "did you mean 'judge'?"),
])
def test_unknown_key_suggests_a_field_of_that_place(tmp_path: Path, text: str, line: int, column: int,
                                                     message: str, fix: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    issues = [i for i in _issues(path) if i.message.startswith("unknown key")]
    assert [(i.line, i.column, i.message, i.fix) for i in issues] == [(line, column, message, fix)]


def test_one_word_prompt_explains_itself(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(edit(GREET, "  greet: {kind: reply, prompt: hi}"))
    (issue,) = _issues(path)
    assert (issue.line, issue.column) == (10, 32)
    assert issue.fix == ("add `hi: <text>` under `prompts:`, or write the prompt as a sentence "
                         "(more words or punctuation, e.g. `hi.`)")
    path.write_text(edit(GREET, "  greet: {kind: reply, prompt: helo}"))
    (issue,) = _issues(path)
    assert issue.fix is not None and issue.fix.startswith("did you mean 'hello'? Otherwise add `helo: <text>`")


def test_tool_called_without_tools_says_to_define_one(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(add(TESTS.replace("{user: hi}", "{user: hi, expect: [{tool_called: {name: s}}]}")))
    (issue,) = _issues(path)
    assert (issue.line, issue.column, issue.message) == (16, 54, "tool_called names unknown tool 's'")
    assert issue.fix == "define the tool under `tools:`"


def test_invalid_subgraph_issue_has_a_fix(tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text(edit("{{ topic }}", "{{ topc }}"))
    (tmp_path / "parent.yaml").write_text(edit(GREET, "  greet: {kind: subgraph, spec: child.yaml}"))
    issue = _issues(tmp_path / "parent.yaml")[-1]
    assert (issue.line, issue.column) == (10, 33)
    assert issue.message == "subgraph spec 'child.yaml' is invalid (see its errors)"
    assert issue.fix == "fix the problems reported in child.yaml, or check it with `factory validate child.yaml`"


def test_secret_header_points_to_headers_env(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(add("tools:\n  t:\n    description: d\n    http:\n      url: https://x.test\n"
                        "      headers: {Authorization: Bearer 0123456789abcdefABCDEF}\n"))
    (issue,) = _issues(path)
    assert (issue.line, issue.column) == (19, 32)
    assert issue.fix == ("move it to `headers_env: {Authorization: T_AUTHORIZATION}` and set T_AUTHORIZATION "
                         "to the header's value at run time")


@pytest.mark.parametrize("headers", [
    "{Authorization: 'Bearer {{ token }}'}", "{Accept: application/json}", "{X-Request-Id: 0123456789abcdefABCDEF}",
    "{Authorization: Bearer short}", "{X-API-Key: '{{ key }}'}",
])
def test_headers_that_are_not_literal_secrets_pass(tmp_path: Path, headers: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(edit(GREET, "  greet: {kind: tool, tool: t, args: {token: state.topic, key: state.topic}}")
                    + "tools:\n  t:\n    description: d\n    http:\n      url: https://x.test\n"
                    f"      headers: {headers}\n")
    load_spec(path)
