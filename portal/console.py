"""The `portal` console script: the same commands as `flask --app portal …`, without the --app."""

from __future__ import annotations

from flask.cli import FlaskGroup


def main() -> None:
    """Run `portal run`, `portal users create …`, `portal outbox status`: `flask --app portal`."""
    from . import create_app
    from .cli import profile_cli

    # FlaskGroup gives the built-in run, shell and routes commands, the app's own command groups
    # and --version, and loads .flaskenv/.env when python-dotenv is installed, as `flask` does.
    cli = FlaskGroup(
        name="portal",
        create_app=lambda: create_app(),
        help="The practice portal's commands (the same as flask --app portal …).",
    )
    cli.add_command(profile_cli)  # also a flask.commands plugin; here without reinstalling
    cli.main(prog_name="portal")
