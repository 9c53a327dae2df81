"""Drain URLs: which schemes logplex runs and what each needs."""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

from pyroku.logs._exceptions import InvalidDrain, InvalidDrainURL
from pyroku.logs.types import DrainSpec

SCHEMES: Final = ("syslog", "syslog+tls", "http", "https")
MAX_URL_LENGTH: Final = 2048
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?")
_TOKEN = re.compile(r"[!-~]{1,255}")  # it is the syslog HOSTNAME field: printable ASCII, no spaces


@dataclass(frozen=True, slots=True)
class DrainTarget:
    scheme: str
    host: str
    port: int
    url: str  # for HTTP drains: the URL to POST to, without userinfo
    username: str | None
    password: str | None
    redacted: str  # the URL with any password replaced, for messages and logs

    @property
    def tls(self) -> bool:
        return self.scheme in ("syslog+tls", "https")


def parse_drain_url(url: str) -> DrainTarget:
    """Validate a drain URL; raises :class:`InvalidDrainURL` with a message fit for the user."""
    if not isinstance(url, str) or not url:
        raise InvalidDrainURL("drain URL is required")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidDrainURL(f"drain URL is longer than {MAX_URL_LENGTH} characters")
    if not url.isprintable() or " " in url:
        raise InvalidDrainURL("drain URL must not contain spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = f"'{parts.scheme}'" if parts.scheme else "missing"
        raise InvalidDrainURL(
            f"drain URL scheme {shown} is not supported: use syslog://, syslog+tls://, http:// or https://"
        )
    host = parts.hostname or ""
    if not host:
        raise InvalidDrainURL(f"drain URL {url!r} has no host")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if _HOSTNAME.fullmatch(host) is None:
            raise InvalidDrainURL(f"drain URL host {host!r} is not a valid host name") from None
        netloc_host = host
    else:
        netloc_host = f"[{host}]" if address.version == 6 else host
    try:
        port = parts.port
    except ValueError:
        raise InvalidDrainURL(f"drain URL {url!r} has an invalid port") from None
    if scheme.startswith("syslog") and port is None:
        raise InvalidDrainURL(f"syslog drain URL {url!r} needs a port, e.g. {scheme}://logs.example.com:514")
    if port == 0:
        raise InvalidDrainURL(f"drain URL {url!r} has an invalid port")
    if port is None:
        port = 443 if scheme == "https" else 80
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    netloc = netloc_host if parts.port is None else f"{netloc_host}:{port}"
    plain = urlunsplit((scheme, netloc, parts.path, parts.query, ""))
    shown_netloc = netloc if username is None else f"{parts.username}{':***' if password else ''}@{netloc}"
    redacted = urlunsplit((scheme, shown_netloc, parts.path, parts.query, ""))
    return DrainTarget(scheme, host, port, plain, username, password, redacted)


def validate_drain_url(url: str) -> str:
    """Check that logplex can run a drain to ``url``; returns it unchanged or raises InvalidDrainURL."""
    parse_drain_url(url)
    return url


def check_spec(spec: DrainSpec) -> DrainTarget:
    if not isinstance(spec.id, str) or not spec.id:
        raise InvalidDrain("drain id is required")
    if not isinstance(spec.token, str) or _TOKEN.fullmatch(spec.token) is None:
        raise InvalidDrain(f"drain token {spec.token!r} must be printable ASCII without spaces, e.g. d.<uuid>")
    return parse_drain_url(spec.url)


def new_drain_token() -> str:
    """A token in Heroku's form, ``d.<uuid>``, for the API to store with a new drain."""
    return f"d.{uuid.uuid4()}"
