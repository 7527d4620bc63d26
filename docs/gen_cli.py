"""Write ``docs/cli.md``: the ``--help`` of every ``koopkit`` command, from click itself.

Run by ``docs/build.sh`` before ``mkdocs build``, so the page never drifts from the code::

    python docs/gen_cli.py            # writes docs/cli.md
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from koopkit.cli import main


def _commands(group: click.Group, path: list[str]) -> list[tuple[list[str], click.Command]]:
    out: list[tuple[list[str], click.Command]] = []
    ctx = click.Context(group, info_name=" ".join(path))
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        out.append((path + [name], cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, path + [name]))
    return out


def _help(cmd: click.Command, path: list[str]) -> str:
    parent = None
    for i in range(1, len(path)):
        parent = click.Context(main, info_name=" ".join(path[:i]), parent=parent)
    ctx = click.Context(cmd, info_name=path[-1], parent=parent, terminal_width=100)
    ctx.max_content_width = 100
    return cmd.get_help(ctx)


def render() -> str:
    lines = [
        "# CLI reference",
        "",
        "Generated from the commands' own `--help` by `docs/gen_cli.py`. Every error is one",
        "line on stderr (`koopkit: error: ...`) with exit code 2 (1 for operating-system",
        "errors); set `KOOPKIT_DEBUG=1` for the traceback.",
        "",
        "## koopkit",
        "",
        "```text",
        _help(main, ["koopkit"]),
        "```",
        "",
    ]
    for path, cmd in _commands(main, ["koopkit"]):
        lines += [f"## {' '.join(path)}", "", "```text", _help(cmd, path), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "cli.md"
    target.write_text(render())
    print(f"wrote {target}")
