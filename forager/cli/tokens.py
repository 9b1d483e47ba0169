"""``forager tokens``: API bearer tokens (create, list, revoke)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from forager.cli.app import console, emit_json, fail, missing
from forager.enums import Scope

app = typer.Typer(no_args_is_help=True, help="API bearer tokens.")


@app.command("create")
def tokens_create(
    name: str,
    scope: Annotated[str, typer.Option(help="read, write or admin")] = Scope.READ,
) -> None:
    """Make a token; it is printed once, on the last line of the output."""
    from forager.store.tokens import create

    try:
        token, info = create(name, scope)
    except ValueError as exc:
        fail(exc, 2)
    console.print(f"token {info.id} ({info.scope}) for {info.name}; it is shown only now:")
    sys.stdout.write(token + "\n")


@app.command("list")
def tokens_list() -> None:
    """List tokens (never the secret)."""
    from forager.store.tokens import list_tokens

    emit_json([t.__dict__ for t in list_tokens()])


@app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token by its id (tok-...)."""
    from forager.store.tokens import revoke

    if not revoke(token_id):
        missing("token", token_id)
