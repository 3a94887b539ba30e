"""The CLI reference (docs/cli.md), generated from the commands themselves.

`python -m winnow.cli.reference > docs/cli.md` rewrites it; a test fails when the
committed file and the commands disagree, so the reference cannot drift.

It reads only parameter attributes that both Click and the Click newer Typers vendor
have (`opts`, `metavar`, `default`, `envvar`, `multiple`, `is_flag`, `help`; not
`human_readable_name`), so it works, and reads the same, across Typer versions.
"""

from __future__ import annotations

from typing import Any

import typer

from winnow.cli.app import app

# Typer's shell-completion options: not Winnow's, and they depend on the shell.
_SKIPPED = {"help", "install_completion", "show_completion"}


def _walk(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, command)]
    for name in sorted(getattr(command, "commands", {})):
        found += _walk(command.commands[name], [*path, name])
    return found


def _metavar(param: Any) -> str:
    """ARGUMENT for an argument, VALUE-like for an option: named after its longest flag."""
    if param.metavar:
        return str(param.metavar)
    if param.param_type_name == "argument":
        return str(param.name).upper()
    longest = max(param.opts, key=len)
    return str(longest.lstrip("-").replace("-", "_").upper())


def _option(param: Any) -> str:
    flags: list[str] = [*param.opts, *param.secondary_opts]
    first, others = flags[0], flags[1:]
    names = ", ".join(
        [f"`{first}`" if param.is_flag else f"`{first} {_metavar(param)}`"]
        + [f"`{o}`" for o in others]
    )
    extra = []
    if param.multiple and "repeat" not in (param.help or ""):
        extra.append("repeatable")
    if param.envvar:
        extra.append(f"env `{param.envvar}`")
    if param.is_flag and param.secondary_opts and param.default:
        extra.append(f"default `{param.opts[0]}`")
    elif not param.is_flag and param.default not in (None, False, ()):
        extra.append(f"default `{param.default}`")
    if getattr(param, "min", None) is not None:
        extra.append(f"at least {param.min}")
    suffix = f" ({'; '.join(extra)})" if extra else ""
    return f"- {names}: {param.help or ''}{suffix}".rstrip()


def _params(command: Any) -> list[Any]:
    return [p for p in command.params if p.name not in _SKIPPED]


def reference() -> str:
    root = typer.main.get_command(app)
    lines = [
        "# Command line reference",
        "",
        "Generated from the commands by `python -m winnow.cli.reference > docs/cli.md`;",
        "do not edit by hand.",
        "",
        (root.help or "").strip(),
        "",
        "```",
        "winnow [OPTIONS] COMMAND [ARGS]...",
        "```",
        "",
        *(_option(p) for p in _params(root)),
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    commands = _walk(root, ["winnow"])[1:]
    for path, command in commands:
        if not hasattr(command, "commands"):
            summary = (
                (command.help or "").strip().split("\n\n")[0].replace("\n", " ").replace("|", "\\|")
            )
            lines.append(f"| [`{' '.join(path)}`](#{'-'.join(path)}) | {summary} |")
    lines.append("")
    for path, command in commands:
        help_text = (command.help or "").strip()
        lines += [f"## {' '.join(path)}", "", help_text, ""]
        if hasattr(command, "commands"):
            lines += ["Commands: " + ", ".join(f"`{name}`" for name in sorted(command.commands))]
            lines.append("")
            continue
        params = _params(command)
        arguments = [p for p in params if p.param_type_name == "argument"]
        options = [p for p in params if p.param_type_name == "option"]
        usage = [*path, "[OPTIONS]", *(_metavar(p) for p in arguments)]
        lines += ["```", " ".join(usage), "```", ""]
        for param in arguments:
            lines.append(f"- `{_metavar(param)}`: {getattr(param, 'help', '') or ''}".rstrip())
        lines += [_option(p) for p in options]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    typer.echo(reference(), nl=False)
