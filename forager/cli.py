"""The ``forager`` command line. Each section belongs to one part of the farm; the work itself
lives in that part's module, the CLI only parses, calls and prints."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Forager: a repository-environment farm.")
images_app = typer.Typer(no_args_is_help=True, help="Base and built images.")
app.add_typer(images_app, name="images")
console = Console(stderr=True)


def emit_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------- builder (issue 2)
@app.command()
def build(
    source: Annotated[str, typer.Argument(help="git URL, local directory, or pypi:NAME[==VERSION]")],
    commit: Annotated[str | None, typer.Option(help="git commit to pin")] = None,
    python: Annotated[str | None, typer.Option(help="Python X.Y (default: detected)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Build a Docker image for SOURCE whose tests run, and validate it."""
    from forager.builder import build as do_build

    result = do_build(source, commit=commit, python=python, progress=None if as_json else console)
    if as_json:
        emit_json(result.summary())
    else:
        t = result.summary()
        style = "green" if t["status"] == "validated" else "red"
        console.print(f"[{style}]{t['status']}[/] {t['image'] or ''}  python {t['python']}  "
                      f"tests {t['tests']}  {t['duration_s']:.0f}s")
        if t["error"]:
            console.print(f"[red]error:[/] {t['error']}")
    raise typer.Exit(0 if result.status == "validated" else 1)


@images_app.command("bootstrap")
def images_bootstrap(
    suite: Annotated[list[str] | None, typer.Option(help="Debian suite(s): bullseye, bookworm, trixie")] = None,
    force: bool = False,
) -> None:
    """Build base images from Debian suites (debootstrap + docker import), no registry needed."""
    from forager.images import bootstrap

    for s in suite or ["bookworm"]:
        tag = bootstrap(s, force=force, log=console.print)
        console.print(f"[green]ready[/] {tag}")


@images_app.command("list")
def images_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List built images."""
    from forager.images import list_images

    rows = list_images()
    if as_json:
        emit_json(rows)
        return
    table = Table("image", "source", "commit", "python", "status", "tests", "size MB")
    for r in rows:
        table.add_row(r["id"], r["source"], (r["commit"] or "")[:10], r["python"], r["status"],
                      f"{r['passed']}/{r['total']}", f"{r['size_bytes'] / 1e6:.0f}")
    Console().print(table)


@images_app.command("show")
def images_show(image: str) -> None:
    """Show an image's recipe, test command and test results."""
    from forager.images import show_image

    info = show_image(image)
    if info is None:
        console.print(f"[red]no such image:[/] {image}")
        raise typer.Exit(1)
    emit_json(info)


# ----------------------------------------------------------------------------- tasks (issue 3)

# ----------------------------------------------------------------------------- orchestrator (issue 4)

# ----------------------------------------------------------------------------- api, workers (issue 5)

# ----------------------------------------------------------------------------- replay (issue 6)


if __name__ == "__main__":
    app()
