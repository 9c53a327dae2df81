"""The ``pyroku`` command: talks to the Platform API over HTTP only."""


def main() -> None:
    """Entry point of the ``pyroku`` executable.

    Imported lazily so that importing ``pyroku.cli`` (or its modules, in tests) does not load the
    command table, which pulls in ``pyroku server`` and its dependencies.
    """
    from pyroku.cli._main import main as run

    run()


__all__ = ["main"]
