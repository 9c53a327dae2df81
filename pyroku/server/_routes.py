"""Publishes the routing table: apps, hostnames and maintenance from the state, web dynos from the
dyno manager. Changes are coalesced and written atomically for the router processes to pick up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import cast

from sqlalchemy import select

from pyroku.dynos import DynoView
from pyroku.router import AppRoute, CertFiles, DynoRoute, RoutingTable, save_table
from pyroku.router.table import DYNO_STATES, DynoState
from pyroku.state import App, Database, Domain, Formation, Release, SniEndpoint, list_certs

log = logging.getLogger("pyroku.server.routes")

_COALESCE = 0.02  # seconds: changes within this window publish once


class RoutesPublisher:
    def __init__(
        self, db: Database, path: Path, domain: str, dynos: Callable[[], dict[str, list[DynoView]]], cert_dir: Path
    ) -> None:
        self._db = db
        self._path = path
        self._cert_dir = cert_dir
        self._domain = domain
        self._dynos = dynos
        self._version = 0
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.publish()

    def changed(self) -> None:
        """Thread-safe: something routing depends on changed; publish soon."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._schedule)

    def _schedule(self) -> None:
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_later(_COALESCE, lambda: asyncio.ensure_future(self.publish()))

    async def publish(self) -> None:
        self._scheduled = False
        dynos = self._dynos()
        try:
            apps = await asyncio.to_thread(self._apps, dynos)
        except Exception:
            log.exception("building the routing table failed; the router keeps the previous one")
            return
        self._version += 1
        await asyncio.to_thread(save_table, self._path, RoutingTable(self._version, apps))

    def _apps(self, dynos: dict[str, list[DynoView]]) -> dict[str, AppRoute]:
        routes: dict[str, AppRoute] = {}
        with self._db.read() as session:
            domains: dict[str, list[str]] = {}
            for d in session.scalars(select(Domain)):
                domains.setdefault(d.app_id, []).append(d.hostname)
            certs: dict[str, list[CertFiles]] = {}
            rows = list_certs(session)
            for cert in rows:
                certs.setdefault(cert.app_id, []).append(self._cert_files(cert))
            self._forget_certs_except({cert.id for cert in rows})
            webs = {f.app_id: f.quantity for f in session.scalars(select(Formation).where(Formation.type == "web"))}
            heads: dict[str, Release] = {}
            for rel in session.scalars(select(Release).where(Release.status == "succeeded")):
                if rel.app_id not in heads or rel.version > heads[rel.app_id].version:
                    heads[rel.app_id] = rel
            for app in session.scalars(select(App)):
                head = heads.get(app.id)
                config = head.config if head else {}
                routes[app.id] = AppRoute(
                    name=app.name,
                    hostnames=(f"{app.name}.{self._domain}", *domains.get(app.id, [])),
                    maintenance=app.maintenance,
                    released=bool(head and head.slug_id),
                    web_quantity=webs.get(app.id, 0),
                    dynos=tuple(
                        DynoRoute(v.name, v.address[0], v.address[1], cast(DynoState, v.state))
                        for v in dynos.get(app.id, [])
                        if v.address is not None and v.state in DYNO_STATES
                    ),
                    error_page_url=config.get("ERROR_PAGE_URL"),
                    maintenance_page_url=config.get("MAINTENANCE_PAGE_URL"),
                    certs=tuple(certs.get(app.id, [])),
                )
        return routes

    def _forget_certs_except(self, ids: set[str]) -> None:
        if self._cert_dir.is_dir():
            for path in self._cert_dir.iterdir():
                if path.name.split(".", 1)[0] not in ids:
                    path.unlink(missing_ok=True)

    def _cert_files(self, cert: SniEndpoint) -> CertFiles:
        """The certificate as files the router can load (written once; ids are never reused)."""
        self._cert_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        chain, key = self._cert_dir / f"{cert.id}.crt", self._cert_dir / f"{cert.id}.key"
        if not key.exists():
            chain.write_text(cert.certificate_chain)
            tmp = key.with_suffix(".part")
            tmp.touch(mode=0o600)
            tmp.write_text(cert.private_key)
            tmp.rename(key)
        return CertFiles(str(chain), str(key), tuple(cert.domains))
