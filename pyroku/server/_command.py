"""`pyroku server`: run the platform in the foreground."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pyroku.server._config import BuildSettings, DynoNetwork, ServerConfig, default_data_dir

if TYPE_CHECKING:
    from pyroku.dynos import ManagerConfig


@click.command("server")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="PYROKU_DATA_DIR",
              default=default_data_dir, show_default="/var/lib/pyroku as root", help="Where state lives.")
@click.option("--api-host", envvar="PYROKU_API_HOST", default="127.0.0.1", show_default=True)
@click.option("--api-port", type=click.IntRange(1, 65535), envvar="PYROKU_API_PORT", default=5000,
              show_default=True)
@click.option("--router-port", type=click.IntRange(1, 65535), envvar="PYROKU_ROUTER_PORT", default=8080,
              show_default=True)
@click.option("--router-https-port", type=click.IntRange(0, 65535), envvar="PYROKU_ROUTER_HTTPS_PORT",
              default=8443, show_default=True,
              help="The router's HTTPS listener (0: off): per-domain certificates by SNI, else a self-signed one.")
@click.option("--domain", envvar="PYROKU_DOMAIN", default="localhost", show_default=True,
              help="Apps are served at APP.DOMAIN.")
@click.option("--database-url", envvar="PYROKU_DATABASE_URL", default=None,
              help="sqlite:///PATH or postgresql://... (default: SQLite in the data dir).")
@click.option("--rate-limit", type=click.IntRange(1), envvar="PYROKU_API_RATE_LIMIT", default=4500,
              show_default=True, help="API requests per account per hour.")
@click.option("--runtime", type=click.Choice(["runc", "none"]), envvar="PYROKU_RUNTIME", default="runc",
              show_default=True, help="How dynos run (`none`: API only, no dynos).")
@click.option("--runtime-dir", type=click.Path(file_okay=False, path_type=Path), envvar="PYROKU_RUNTIME_DIR",
              default=Path("/run/pyroku/runtime"), show_default=True,
              help="Dyno bundles and supervisor state (best on a tmpfs).")
@click.option("--rendezvous-port", type=click.IntRange(0, 65535), envvar="PYROKU_RENDEZVOUS_PORT", default=5001,
              show_default=True, help="Where `pyroku run` attaches to one-off dynos (0: any free port).")
@click.option("--build-timeout", type=click.IntRange(1), envvar="PYROKU_BUILD_TIMEOUT", default=900,
              show_default=True, help="Seconds a build may run before it is stopped.")
@click.option("--build-concurrency", type=click.IntRange(1), envvar="PYROKU_BUILD_CONCURRENCY", default=2,
              show_default=True, help="Builds that run at once (one per app at a time).")
@click.option("--slug-max-mb", type=click.IntRange(1), envvar="PYROKU_SLUG_MAX_MB", default=500,
              show_default=True, help="Largest compressed slug a build may produce.")
@click.option("--tls-port", type=click.IntRange(0, 65535), envvar="PYROKU_TLS_PORT", default=0, show_default=True,
              help="Also serve the API and git over HTTPS on this port (0: off); the certificate comes from "
                   "a platform CA made on first start unless --tls-cert/--tls-key are given.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path), envvar="PYROKU_TLS_CERT",
              default=None, help="Your own certificate (PEM, with its chain) for the HTTPS port.")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True, path_type=Path), envvar="PYROKU_TLS_KEY",
              default=None, help="The private key of --tls-cert.")
def server_command(
    data_dir: Path, api_host: str, api_port: int, router_port: int, router_https_port: int, domain: str,
    database_url: str | None, rate_limit: int, runtime: str, runtime_dir: Path, rendezvous_port: int,
    build_timeout: int, build_concurrency: int, slug_max_mb: int, tls_port: int, tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Run the Pyroku platform in the foreground."""
    config = ServerConfig(
        data_dir=data_dir, api_host=api_host, api_port=api_port, router_port=router_port,
        router_https_port=router_https_port, domain=domain, database_url=database_url, rate_limit=rate_limit,
        runtime="none" if runtime == "none" else "runc", runtime_dir=runtime_dir, rendezvous_port=rendezvous_port,
        dyno_network=DynoNetwork.from_env(),
        builds=BuildSettings.from_env(timeout=float(build_timeout), max_concurrent=build_concurrency,
                                      slug_max_mb=slug_max_mb),
        dynos=_manager_config(),
        tls_port=tls_port, tls_cert=tls_cert, tls_key=tls_key,
        admin_email=os.environ.get("PYROKU_ADMIN_EMAIL"),
        admin_password=os.environ.get("PYROKU_ADMIN_PASSWORD"),
    )
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    serve(config)


def _manager_config() -> ManagerConfig:
    from pyroku.dynos import config_from_env

    try:
        return config_from_env(os.environ)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def serve(config: ServerConfig) -> None:
    # Imported here so that every other `pyroku` command starts without the server's libraries.
    from sqlalchemy.exc import SQLAlchemyError

    from pyroku.server._bootstrap import ensure_operator
    from pyroku.server._platform import run_platform
    from pyroku.state import Database, StateError

    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(config.effective_database_url)
        db.migrate()
        operator = ensure_operator(db, config.admin_email, config.admin_password)
    except OSError as exc:
        raise click.ClickException(f"Cannot use data dir {config.data_dir}: {exc.strerror}") from exc
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise click.ClickException(f"Cannot open the database: {exc.__class__.__name__}: {exc}") from exc
    if operator:
        click.echo(f"Created the operator account {operator.email}.")
        if operator.generated_password:
            click.echo(f"Its password (shown only this once): {operator.generated_password}")
    click.echo(f"Pyroku API on http://{config.api_host}:{config.api_port} (data in {config.data_dir}); "
               f"apps at http://APP.{config.domain}:{config.router_port}/")
    run_platform(config, db)
