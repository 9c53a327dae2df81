"""The top-level ``pyroku`` command group."""

import click

from pyroku.cli._commands import add_client_commands
from pyroku.cli._group import PyrokuGroup
from pyroku.server import server_command


@click.group(cls=PyrokuGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pyroku")
def cli() -> None:
    """Pyroku: git push your apps to your own servers."""


add_client_commands(cli)
cli.add_command(server_command)


def main() -> None:
    cli()
