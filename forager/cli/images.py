"""``forager images``: base images (bootstrap) and the catalogue of built images (list, show)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from forager.cli.app import console, emit_json, missing
from forager.redact import redact_url

app = typer.Typer(no_args_is_help=True, help="Base and built images.")


@app.command("bootstrap")
def images_bootstrap(
    suite: Annotated[list[str] | None, typer.Option(help="Debian suite(s): bullseye, bookworm, trixie")] = None,
    force: bool = False,
) -> None:
    """Build base images from Debian suites (debootstrap + docker import), no registry needed."""
    from forager.build.images import bootstrap

    for s in suite or ["bookworm"]:
        tag = bootstrap(s, force=force, log=console.print)
        console.print(f"[green]ready[/] {tag}")


@app.command("list")
def images_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List built images."""
    from forager.build.catalogue import list_images

    rows = [{**r, "source": redact_url(r["source"])} for r in list_images()]
    if as_json:
        emit_json(rows)
        return
    table = Table("image", "source", "commit", "python", "status", "tests", "size MB")
    for r in rows:
        table.add_row(r["id"], r["source"], (r["commit"] or "")[:10], r["python"], r["status"],
                      f"{r['passed']}/{r['total']}", f"{r['size_bytes'] / 1e6:.0f}")
    Console().print(table)


@app.command("show")
def images_show(image: str) -> None:
    """Show an image's recipe, test command and test results."""
    from forager.build.catalogue import show_image

    info = show_image(image)
    if info is None:
        missing("image", image)
    emit_json({**info, "source": redact_url(info["source"])})


@app.command("dockerfile")
def images_dockerfile(image: str) -> None:
    """Print a Dockerfile that rebuilds IMAGE without Forager (from its recorded recipe)."""
    from forager.build.catalogue import show_image
    from forager.build.dockerfile import dockerfile

    info = show_image(image)
    if info is None:
        missing("image", image)
    print(dockerfile(info), end="")
