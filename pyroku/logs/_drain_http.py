"""HTTP(S) drains: batches POSTed as ``application/logplex-1``, the way Heroku's logplex does.

Body: octet-counted frames ``<len> <PRI>1 <ts> host <source> <process> - <msg>`` (literal hostname
``host``, no structured-data field). Headers: ``Logplex-Msg-Count``, ``Logplex-Frame-Id`` (MD5 of the
body, uppercase hex, so a retried batch keeps its id and receivers can dedupe),
``Logplex-Drain-Token``, ``User-Agent: Logplex/…``; basic auth from the URL's userinfo.
2xx: delivered; 4xx other than 429: dropped for good; anything else: retried.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable, Sequence

import httpx

from pyroku import __version__
from pyroku.logs import _syslog
from pyroku.logs._drain_url import DrainTarget
from pyroku.logs._drains import DrainRejected, DrainSettings, DrainUnavailable
from pyroku.logs.types import LogLine

USER_AGENT = f"Logplex/pyroku-{__version__}"


def _certificate_error(exc: BaseException) -> str | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_message or str(current)
        current = current.__cause__ or current.__context__
    text = str(exc)
    return text if "CERTIFICATE_VERIFY_FAILED" in text else None


def new_http_client(settings: DrainSettings, ssl_context: ssl.SSLContext) -> httpx.AsyncClient:
    """One client (connection pool) shared by every HTTP drain of a Logplex."""
    return httpx.AsyncClient(
        verify=ssl_context,
        timeout=httpx.Timeout(settings.http_timeout, connect=settings.http_connect_timeout),
        follow_redirects=False,
        trust_env=False,
    )


class HttpDrain:
    def __init__(
        self,
        target: DrainTarget,
        token: str,
        settings: DrainSettings,
        client: Callable[[], httpx.AsyncClient],
    ) -> None:
        self.batch_bytes = settings.http_batch_bytes
        self.retries: int | None = settings.http_retries
        self._target = target
        self._token = token
        self._client = client
        self._auth = (
            httpx.BasicAuth(target.username, target.password or "") if target.username is not None else None
        )

    async def send(self, lines: Sequence[LogLine]) -> None:
        body = b"".join([_syslog.encode(line, "host", structured_data=False) for line in lines])
        headers = {
            "Content-Type": "application/logplex-1",
            "Logplex-Msg-Count": str(len(lines)),
            "Logplex-Frame-Id": hashlib.md5(body, usedforsecurity=False).hexdigest().upper(),
            "Logplex-Drain-Token": self._token,
            "User-Agent": USER_AGENT,
        }
        try:
            response = await self._client().post(
                self._target.url, content=body, headers=headers, auth=self._auth or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.HTTPError as exc:
            certificate = _certificate_error(exc)
            reason = f"certificate validation failed: {certificate}" if certificate else repr(exc)
            raise DrainUnavailable(reason, certificate_error=certificate) from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        if 400 <= status < 500 and status != 429:
            raise DrainRejected(f"HTTP {status}")
        raise DrainUnavailable(f"HTTP {status}")

    async def aclose(self) -> None:
        pass  # the shared client is closed by the Logplex
