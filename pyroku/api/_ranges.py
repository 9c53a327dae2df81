"""List pagination with Heroku's `Range` / `Next-Range` headers."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from pyroku.api._errors import ApiError

DEFAULT_MAX = 200
LIMIT_MAX = 1000
_RANGE_RE = re.compile(r"^\s*(?P<field>[a-z_]+)\s*(?P<start>[^.;,]*)\.\.(?P<end>[^;,]*)(?P<params>.*)$")


@dataclass(frozen=True)
class RangeSpec:
    field: str
    start: str | None = None
    start_exclusive: bool = False
    end: str | None = None
    max: int = DEFAULT_MAX
    descending: bool = False


def _bad(header: str) -> ApiError:
    return ApiError(416, "requested_range_not_satisfiable", f"Invalid Range header: {header!r}.")


def parse_range(header: str, fields: Sequence[str]) -> RangeSpec:
    match = _RANGE_RE.match(header)
    if not match:
        raise _bad(header)
    field = match["field"]
    if field not in fields:
        raise ApiError(416, "requested_range_not_satisfiable",
                       f"Cannot sort by {field!r}; the acceptable ranges are: {', '.join(fields)}.")
    start = match["start"].strip()
    exclusive = start.startswith("]")
    start = start.lstrip("[]").strip()
    end = match["end"].strip().rstrip("]").strip()
    limit, descending = DEFAULT_MAX, False
    for param in filter(None, (p.strip() for p in re.split(r"[;,]", match["params"]))):
        key, _, value = param.partition("=")
        key, value = key.strip(), value.strip()
        if key == "max" and value.isdigit() and len(value) < 6:
            limit = max(1, min(int(value), LIMIT_MAX))
        elif key == "order" and value in ("asc", "desc"):
            descending = value == "desc"
        else:
            raise _bad(header)
    return RangeSpec(field, start or None, exclusive, end or None, limit, descending)


def paginate(
    request: Request,
    items: Sequence[Any],
    keys: dict[str, Callable[[Any], Any]],
    render: Callable[[Any], dict[str, Any]],
    default: str = "id",
) -> JSONResponse:
    """Sort, window and render `items` per the request's Range header.
    `keys` maps each sortable field to a function giving the comparable value; a Range bound
    is converted by applying the same type as the first key's values (int versions, strings)."""
    accept = ", ".join(keys)
    header = request.headers.get("range")
    spec = parse_range(header, list(keys)) if header else RangeSpec(default)
    key = keys[spec.field]
    ordered = sorted(items, key=key, reverse=spec.descending)

    def convert(bound: str) -> Any:
        sample = key(ordered[0]) if ordered else ""
        if isinstance(sample, int):
            digits = bound.lstrip("v")
            if not digits.isdigit() or len(digits) > 12:
                raise _bad(header or "")
            return int(digits)
        return bound

    if spec.start is not None:
        lo = convert(spec.start)
        if spec.descending:
            ordered = [i for i in ordered if key(i) < lo or (key(i) == lo and not spec.start_exclusive)]
        else:
            ordered = [i for i in ordered if key(i) > lo or (key(i) == lo and not spec.start_exclusive)]
    if spec.end is not None:
        hi = convert(spec.end)
        ordered = [i for i in ordered if (key(i) >= hi if spec.descending else key(i) <= hi)]
    page = ordered[: spec.max]
    headers = {"Accept-Ranges": accept}
    status = 200
    if page:
        headers["Content-Range"] = f"{spec.field} {key(page[0])}..{key(page[-1])}"
    if len(ordered) > spec.max:
        status = 206
        order = "desc" if spec.descending else "asc"
        headers["Next-Range"] = f"{spec.field} ]{key(page[-1])}..; max={spec.max}, order={order}"
    return JSONResponse([render(i) for i in page], status_code=status, headers=headers)
