"""The CLI reference (docs/cli.md), generated from the commands themselves.

`python -m winnow.cli.reference > docs/cli.md` rewrites it; a test fails when the
committed file and the commands disagree, so the reference cannot drift.

Only attributes that both Click and the Click that newer Typers vendor have are read
(`opts`, `metavar`, `default`, `envvar`, `multiple`, `is_flag`, `help`), so the
reference does not change with the Typer version.
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
    return str(param.metavar or param.name.upper())


def _option(param: Any) -> str:
    names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    if not param.is_flag:
        names += f" {_metavar(param)}"
    extra = []
    if param.multiple:
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
    ]
    for path, command in _walk(root, ["winnow"])[1:]:
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
