"""Editing a spec's text the way a person would: one segment line added or replaced.

The dashboard edits segments without rewriting the whole document, so the team's
comments, order and formatting survive: YAML is parsed only to find where the segment
is (its lines), and just those lines change. A new segment goes at the end of the
`segments:` block (the block is added if there is none). The result is a new source to
validate and publish like any other.
"""

from __future__ import annotations

import yaml


def _quoted(expression: str) -> str:
    """The expression as one YAML scalar (single-quoted unless that is impossible)."""
    dumped = yaml.safe_dump(expression, default_style="'", width=10_000).strip()
    return dumped.removesuffix("\n...").strip()


def with_segment(source: str, name: str, expression: str) -> str:
    """The source with segment `name` set to `expression` (added, or its lines replaced)."""
    if not name.strip() or "\n" in name or "\n" in expression:
        raise ValueError("a segment needs a name and an expression, each on one line")
    line = f"  {_quoted(name.strip())}: {_quoted(expression.strip())}"
    lines = source.splitlines()
    root = yaml.compose(source) if source.strip() else None
    block = None
    if isinstance(root, yaml.MappingNode):
        block = next((v for k, v in root.value if k.value == "segments"), None)
    if block is None or not isinstance(block, yaml.MappingNode) or block.flow_style:
        if block is not None:
            raise ValueError("the spec's segments are not a block mapping; edit it as text")
        tail = "" if not lines or lines[-1].strip() == "" else "\n"
        return source.rstrip("\n") + f"{tail}\nsegments:\n{line}\n"
    for key, value in block.value:
        if key.value == name.strip():
            first, last = key.start_mark.line, _last_line(value, lines)
            return "\n".join(lines[:first] + [line] + lines[last + 1 :]) + "\n"
    end = _last_line(block.value[-1][1], lines) if block.value else block.start_mark.line
    return "\n".join(lines[: end + 1] + [line] + lines[end + 1 :]) + "\n"


def _last_line(node: yaml.Node, lines: list[str]) -> int:
    """The last line a node's text is on (its end mark may sit at the next line's start)."""
    end = node.end_mark
    last = end.line if end.column > 0 else end.line - 1
    return max(node.start_mark.line, min(last, len(lines) - 1))
