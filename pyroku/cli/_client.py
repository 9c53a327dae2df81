"""The HTTP client of the Platform API, and the translation of its failures into CLI errors."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from pyroku import __version__
from pyroku.cli._exceptions import APIError, APIUnreachable, CLIError, Unauthorized

ACCEPT = "application/vnd.heroku+json; version=3"
USER_AGENT = f"pyroku-cli/{__version__} python/{platform.python_version()}"

JSONObject = dict[str, Any]


def path(template: str, *segments: str) -> str:
    """Fill ``{}`` placeholders with URL-quoted segments: ``path("/apps/{}", name)``."""
    return template.format(*(quote(segment, safe="@~") for segment in segments))


class APIClient:
    """One ``httpx.Client`` per invocation; every method returns the decoded JSON body.

    ``token`` may be ``None`` only for requests that authenticate otherwise (login uses HTTP Basic).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> Any:
        return self.request("GET", url, headers=headers)

    def post(self, url: str, body: Any = None, *, auth: tuple[str, str] | None = None) -> Any:
        return self.request("POST", url, json=body, auth=auth)

    def patch(self, url: str, body: Any) -> Any:
        return self.request("PATCH", url, json=body)

    def delete(self, url: str) -> Any:
        return self.request("DELETE", url)

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Any:
        try:
            response = self._http.request(
                method, url, json=json, headers=headers, auth=auth if auth else httpx.USE_CLIENT_DEFAULT
            )
        except httpx.TimeoutException as exc:
            raise APIUnreachable(f"Timed out waiting for the Pyroku API at {self.base_url}") from exc
        except httpx.TransportError as exc:
            raise APIUnreachable(f"Cannot reach the Pyroku API at {self.base_url}: {_reason(exc)}") from exc
        except httpx.InvalidURL as exc:
            raise CLIError(f"Invalid API URL {self.base_url}{url}: {exc}") from exc
        if response.is_error:
            raise error_from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise CLIError(f"Unexpected response from the Pyroku API ({method} {url}): not JSON") from exc


def error_from_response(response: httpx.Response) -> APIError:
    """An :class:`APIError` carrying the body's ``{id, message}``, or a description of the status."""
    error_id, message = "", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error_id = str(body.get("id") or "")
        message = str(body.get("message") or "")
    if response.status_code == 401:
        return Unauthorized(401, error_id or "unauthorized", "Invalid credentials provided. Run pyroku login.")
    if not message:
        message = f"The Pyroku API answered {response.status_code} {response.reason_phrase}".rstrip()
        first_line = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        if first_line and body is None:
            message += f": {first_line}"
    return APIError(response.status_code, error_id, message)


def _reason(exc: httpx.TransportError) -> str:
    """A short human reason: the innermost cause's text, e.g. ``[Errno 111] Connection refused``."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        nxt = cause.__cause__ or cause.__context__
        assert nxt is not None
        cause = nxt
    text = str(cause) or str(exc) or type(exc).__name__
    return text.splitlines()[0]
