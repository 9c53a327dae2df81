"""``domains``, ``certs`` and ``features``: custom hostnames, their certificates, opt-in behaviours."""

from __future__ import annotations

from typing import TextIO

import click

from pyroku.cli._app_resolution import with_app
from pyroku.cli._client import JSONObject, path
from pyroku.cli._group import ClientCommand
from pyroku.cli._session import current_session

__all__ = [
    "certs",
    "certs_add",
    "certs_remove",
    "domains",
    "domains_add",
    "domains_remove",
    "features",
    "features_disable",
    "features_enable",
]


@click.command("domains", cls=ClientCommand)
@with_app
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def domains(app: str, as_json: bool) -> None:
    """List the app's hostnames."""
    session = current_session()
    out = session.output
    items: list[JSONObject] = session.client().get(path("/apps/{}/domains", app))
    if as_json:
        out.json(items)
        return
    default = [d for d in items if d.get("kind") == "heroku"]
    custom = [d for d in items if d.get("kind") != "heroku"]
    out.header(f"{out.app(app)} Pyroku Domain")
    out.lines([str(d.get("hostname")) for d in default])
    if custom:
        out.echo()
        out.header(f"{out.app(app)} Custom Domains")
        out.table([[str(d.get("hostname")), "CNAME", str(d.get("cname"))] for d in custom],
                  headers=["Domain Name", "DNS Record Type", "DNS Target"])


@click.command("domains:add", cls=ClientCommand)
@with_app
@click.argument("hostname")
def domains_add(app: str, hostname: str) -> None:
    """Route HOSTNAME to the app."""
    session = current_session()
    out = session.output
    with out.action(f"Adding {hostname} to {out.app(app)}"):
        domain = session.client().post(path("/apps/{}/domains", app), {"hostname": hostname})
    out.echo(f"Configure your DNS provider to point {domain.get('hostname')} at {domain.get('cname')} "
             "(a CNAME record).")


@click.command("domains:remove", cls=ClientCommand)
@with_app
@click.argument("hostname")
def domains_remove(app: str, hostname: str) -> None:
    """Stop routing HOSTNAME to the app."""
    session = current_session()
    out = session.output
    with out.action(f"Removing {hostname} from {out.app(app)}"):
        session.client().delete(path("/apps/{}/domains/{}", app, hostname))


@click.command("features", cls=ClientCommand)
@with_app
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def features(app: str, as_json: bool) -> None:
    """List the app's features and whether each is enabled."""
    session = current_session()
    out = session.output
    items: list[JSONObject] = session.client().get(path("/apps/{}/features", app))
    if as_json:
        out.json(items)
        return
    out.header(f"{out.app(app)} Features")
    out.table([["[+]" if f.get("enabled") else "[ ]", str(f.get("name")), str(f.get("description"))]
               for f in items])


def _switch(app: str, feature: str, enabled: bool) -> None:
    session = current_session()
    out = session.output
    verb = "Enabling" if enabled else "Disabling"
    with out.action(f"{verb} {feature} for {out.app(app)}"):
        session.client().patch(path("/apps/{}/features/{}", app, feature), {"enabled": enabled})


@click.command("features:enable", cls=ClientCommand)
@with_app
@click.argument("feature")
def features_enable(app: str, feature: str) -> None:
    """Turn FEATURE on (e.g. preboot)."""
    _switch(app, feature, True)


@click.command("features:disable", cls=ClientCommand)
@with_app
@click.argument("feature")
def features_disable(app: str, feature: str) -> None:
    """Turn FEATURE off."""
    _switch(app, feature, False)


@click.command("certs", cls=ClientCommand)
@with_app
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def certs(app: str, as_json: bool) -> None:
    """List the app's TLS certificates (served by the router's HTTPS listener, chosen by SNI)."""
    session = current_session()
    out = session.output
    items: list[JSONObject] = session.client().get(path("/apps/{}/sni-endpoints", app))
    if as_json:
        out.json(items)
        return
    out.table([[str(c.get("name")), ", ".join(c.get("domains") or []),
                str((c.get("ssl_cert") or {}).get("expires_at") or "")] for c in items],
              headers=["Name", "Common Name(s)", "Expires"])


@click.command("certs:add", cls=ClientCommand)
@with_app
@click.argument("certificate", type=click.File("r"))
@click.argument("key", type=click.File("r"))
@click.option("--domain", "domains", multiple=True, help="Also route this hostname to the app (repeatable).")
def certs_add(app: str, certificate: TextIO, key: TextIO, domains: tuple[str, ...]) -> None:
    """Serve CERTIFICATE (PEM, with its chain) and its KEY for the app's custom domains."""
    session = current_session()
    out = session.output
    client = session.client()
    known = {str(d.get("hostname")) for d in client.get(path("/apps/{}/domains", app))}
    for domain in domains:
        if domain.lower() not in known:
            client.post(path("/apps/{}/domains", app), {"hostname": domain})
    with out.action(f"Adding SSL certificate to {out.app(app)}") as result:
        cert = client.post(path("/apps/{}/sni-endpoints", app),
                           {"certificate_chain": certificate.read(), "private_key": key.read()})
        result.suffix = str(cert.get("name"))
    out.echo(f"Certificate for {', '.join(cert.get('domains') or [])}")


@click.command("certs:remove", cls=ClientCommand)
@with_app
@click.argument("name")
def certs_remove(app: str, name: str) -> None:
    """Stop serving the certificate NAME (see `pyroku certs`)."""
    session = current_session()
    out = session.output
    with out.action(f"Removing SSL certificate {name} from {out.app(app)}"):
        session.client().delete(path("/apps/{}/sni-endpoints/{}", app, name))
