"""What changed between two versions of a spec, line by line, for people to read."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class DiffLine:
    kind: Literal["same", "added", "removed", "skip"]
    text: str
    old: int | None  # line numbers, 1-based, on each side
    new: int | None


def diff(old: str, new: str, *, context: int = 3) -> list[DiffLine]:
    """The changed lines with `context` unchanged lines around each change; "skip" marks
    where unchanged lines were left out."""
    a, b = old.splitlines(), new.splitlines()
    lines: list[DiffLine] = []
    for group in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_grouped_opcodes(context):
        if lines:
            lines.append(DiffLine(kind="skip", text="…", old=None, new=None))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [
                    DiffLine(kind="same", text=a[i], old=i + 1, new=j1 + (i - i1) + 1)
                    for i in range(i1, i2)
                ]
                continue
            lines += [
                DiffLine(kind="removed", text=a[i], old=i + 1, new=None) for i in range(i1, i2)
            ]
            lines += [DiffLine(kind="added", text=b[j], old=None, new=j + 1) for j in range(j1, j2)]
    return lines
