"""The ``forager`` command line, assembled: each command lives in the module of its group (the work
itself lives in that part of the farm; the CLI only parses, calls and prints). Registration order
is the order ``forager --help`` lists them."""

from __future__ import annotations

from forager.cli import build, images, replay, run, serve, tasks, tokens, traces, trajectories
from forager.cli import campaign as campaign_cli
from forager.cli import images_disk as images_disk_cli
from forager.cli.app import app, emit_json

__all__ = ["app", "emit_json"]

app.add_typer(images.app, name="images")
app.command()(build.build)
app.add_typer(tasks.app, name="tasks")
app.add_typer(trajectories.app, name="trajectories")
app.command()(run.run)
app.command("export")(trajectories.export_cmd)
app.add_typer(tokens.app, name="tokens")
app.command()(serve.api)
app.command()(serve.worker)
app.command()(replay.replay)
app.add_typer(traces.app, name="traces")
app.add_typer(campaign_cli.app, name="campaign")
images.app.command("prune")(images_disk_cli.prune_cmd)
images.app.command("disk")(images_disk_cli.disk_cmd)
images.app.command("revalidate")(images_disk_cli.revalidate_cmd)

if __name__ == "__main__":
    app()
