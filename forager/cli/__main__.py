from forager.cli.main import app

app(prog_name="forager")
