"""Progress lines: the one way ragdistill's CLIs tell a user what they are doing.

Progress goes to stderr so that stdout stays for results (tables, JSON). A headline names a stage
(`==> stage index`); a detail line is indented under it. Simplified on purpose: no levels, no handlers;
third-party chatter is kept out of the terminal where it is produced (see `retrieval.compat`).
"""

from __future__ import annotations

import click


def say(message: str, *, detail: bool = False) -> None:
    """Print one progress line on stderr: a headline (`==> message`), or with `detail` an indented line."""
    prefix = "    " if detail else click.style("==> ", fg="cyan")
    click.echo(prefix + message, err=True)
