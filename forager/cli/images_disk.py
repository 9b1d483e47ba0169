"""``forager images prune|disk|revalidate``: disk hygiene and re-validation of built images
(registered on the ``images`` group by ``cli/main``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from forager.cli.app import console, emit_json, fail
from forager.errors import InvalidInput, NotFound


def prune_cmd(
    min_age_hours: Annotated[float, typer.Option(help="leave anything younger alone")] = 1.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only list what would go")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Remove what no validated image, task or campaign needs: failed builds' images, unreferenced
    dependency layers, stopped Forager containers; report the disk freed."""
    from forager.campaign.disk import prune

    try:
        out = prune(min_age_hours, dry_run).summary()
    except InvalidInput as exc:
        fail(exc, 2)
    if as_json:
        emit_json(out)
        return
    for name in out["images_removed"]:
        console.print(f"{'would remove' if dry_run else 'removed'} image {name}")
    for name in out["containers_removed"]:
        console.print(f"{'would remove' if dry_run else 'removed'} container {name}")
    console.print(f"[green]freed[/] {out['bytes_freed'] / 1e6:.0f} MB")


def disk_cmd(
    campaign: Annotated[str | None, typer.Option(help="only this campaign's images")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Disk used per image (own layers, and with shared layers) and per campaign."""
    from forager.campaign.disk import campaign_disk, image_sizes
    from forager.store.campaigns import campaign_images, image_rows

    try:
        sizes = image_sizes()
        wanted = (set(campaign_images(campaign_disk_id(campaign))) if campaign
                  else {i for i, _s, _b in image_rows()})
        per_image = {tag: v for tag, v in sizes.items() if tag in wanted}
        out = {"images": per_image, "campaign": campaign_disk(campaign) if campaign else None}
    except (InvalidInput, NotFound) as exc:
        fail(exc, 2)
    if as_json:
        emit_json(out)
        return
    table = Table("image", "own MB", "with shared MB")
    for tag, v in sorted(per_image.items()):
        table.add_row(tag, f"{v['unique'] / 1e6:.0f}", f"{v['size'] / 1e6:.0f}")
    Console().print(table)
    if out["campaign"]:
        console.print(f"campaign {campaign}: {out['campaign']}")


def campaign_disk_id(ref: str) -> str:
    from forager.store.campaigns import get_campaign

    return get_campaign(ref).id


def revalidate_cmd(
    older_than: Annotated[float | None, typer.Option("--older-than", help="only images older than DAYS")] = None,
    campaign: Annotated[str | None, typer.Option(help="only this campaign's images")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run validation of existing images again; mark the ones that no longer hold (and their
    tasks) ``drifted``. Exit 1 when any drifted."""
    from forager.campaign.revalidate import revalidate

    def show(r: object) -> None:
        if not as_json:
            s = r.summary()  # type: ignore[attr-defined]
            mark = "[green]holds[/]" if s["held"] else "[red]drifted[/]"
            console.print(f"{mark} {s['image']} pass rate {s['pass_rate']} {s['error']}"
                          + (f" newly failing: {', '.join(s['newly_failing'])}" if s["newly_failing"] else ""))

    try:
        results = revalidate(older_than, campaign, progress=show)
    except NotFound as exc:
        fail(exc, 2)
    if as_json:
        emit_json([r.summary() for r in results])
    if any(not r.held for r in results):
        raise typer.Exit(1)
