"""Heroku's router log line, byte for byte, and the router error codes it reports.

``[sock=client|backend ]at=<level> [code=Hnn desc="<text>" ][cause="<text>" ]method=<M>
path="<path>" host=<host> request_id=<id> fwd="<xff>" dyno=<web.N> connect=<n>ms service=<n>ms
status=<nnn> bytes=<n> protocol=<http|https>``. When no dyno was used, ``dyno= connect= service=``
(and ``bytes=``) are present but empty.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Code(NamedTuple):
    level: str
    desc: str
    status: int
    sock: str  # "" or "client"/"backend"


CODES: Final = {
    "H10": Code("error", "App crashed", 503, ""),
    "H11": Code("error", "Backlog too deep", 503, ""),
    "H12": Code("error", "Request timeout", 503, ""),
    "H13": Code("error", "Connection closed without response", 503, ""),
    "H14": Code("error", "No web processes running", 503, ""),
    "H15": Code("error", "Idle connection", 503, ""),
    "H17": Code("error", "Poorly formatted HTTP response", 503, ""),
    "H18": Code("error", "Server Request Interrupted", 503, "backend"),
    "H19": Code("error", "Backend connection timeout", 503, ""),
    "H20": Code("error", "App boot timeout", 503, ""),
    "H21": Code("error", "Backend connection refused", 503, ""),
    "H25": Code("error", "HTTP Restriction", 502, ""),
    "H26": Code("error", "Request Error", 400, ""),
    "H27": Code("warning", "Client Request Interrupted", 499, "client"),
    "H28": Code("warning", "Client Connection Idle", 499, "client"),
    "H80": Code("info", "Maintenance mode", 503, ""),
    "H81": Code("info", "Blank app", 502, ""),
}


_SMALL_DECIMALS: Final[tuple[bytes, ...]] = tuple(str(n).encode() for n in range(1000))


def decimal(n: int) -> bytes:
    """``n`` in ASCII digits; cached below 1,000 (statuses and most millisecond figures)."""
    return _SMALL_DECIMALS[n] if 0 <= n < 1000 else str(n).encode()


def format_line(
    method: str,
    path: str,
    host: str,
    request_id: str,
    fwd: str,
    dyno: str,
    connect_ms: int,
    service_ms: int,
    status: int,
    bytes_out: int,
    protocol: str,
    code: str | None = None,
    cause: str | None = None,
) -> str:
    """One router log line. Negative numbers (and an empty ``dyno``) leave their field empty."""
    if '"' in path:
        path = path.replace('"', "%22")
    connect = f"{connect_ms}ms" if connect_ms >= 0 else ""
    service = f"{service_ms}ms" if service_ms >= 0 else ""
    sent = str(bytes_out) if bytes_out >= 0 else ""
    tail = f"dyno={dyno} connect={connect} service={service} status={status} bytes={sent} protocol={protocol}"
    if code is None:
        return f'at=info method={method} path="{path}" host={host} request_id={request_id} fwd="{fwd}" {tail}'
    info = CODES[code]
    prefix = f"sock={info.sock} at={info.level}" if info.sock else f"at={info.level}"
    cause_part = f' cause="{cause.replace(chr(34), "%22")}"' if cause else ""
    return (f'{prefix} code={code} desc="{info.desc}"{cause_part} method={method} path="{path}" host={host} '
            f'request_id={request_id} fwd="{fwd}" {tail}')
