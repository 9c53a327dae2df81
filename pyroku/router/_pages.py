"""The HTML pages the router answers with itself: errors, maintenance, unknown hosts.

Pages are unstyled HTML like Heroku's. When an app sets ``ERROR_PAGE_URL`` or
``MAINTENANCE_PAGE_URL`` the page is a full-window iframe of that URL: the browser loads it, the
router never fetches it.
"""

from __future__ import annotations

import html
from functools import lru_cache
from http import HTTPStatus
from typing import Final

_TEMPLATE: Final = (
    '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n</head>\n'
    "<body>\n<h1>{title}</h1>\n<p>{message}</p>\n</body>\n</html>\n"
)
_IFRAME: Final = (
    '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
    "<style>html,body,iframe{{margin:0;padding:0;border:0;width:100%;height:100%;overflow:hidden}}</style>\n"
    '</head>\n<body>\n<iframe src="{url}" title="{title}"></iframe>\n</body>\n</html>\n'
)

APP_ERROR: Final = ("Application Error",
                    "An error occurred in the application and your page could not be served. "
                    "If you are the application owner, check your logs for details.")
MAINTENANCE: Final = ("Offline for Maintenance",
                      "This application is undergoing maintenance right now. Please check back later.")
BLANK_APP: Final = ("Nothing deployed yet", "This app exists, but no code has been deployed to it yet.")
NO_SUCH_APP: Final = ("No such app", "There is no app configured at this hostname.")
BAD_REQUEST: Final = ("Bad Request", "The router could not understand this request.")
EXPECTATION_FAILED: Final = ("Expectation Failed", "Only Expect: 100-continue is supported.")


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def page_body(title: str, message: str, url: str | None = None) -> bytes:
    if url:
        return _IFRAME.format(title=html.escape(title), url=html.escape(url, quote=True)).encode()
    return _TEMPLATE.format(title=html.escape(title), message=html.escape(message)).encode()


@lru_cache(maxsize=256)
def page_response(status: int, page: tuple[str, str], url: str | None, close: bool, head_only: bool) -> bytes:
    """A complete HTTP/1.1 response carrying an HTML page (cached: pages are few)."""
    body = page_body(page[0], page[1], url)
    head = (
        f"HTTP/1.1 {status} {reason(status)}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-cache, no-store\r\n"
        "Via: 1.1 pyroku\r\n"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    ).encode()
    return head if head_only else head + body


def page_for(code: str | None, status: int) -> tuple[str, str]:
    """The (title, message) of the page the router answers with for an H-code or status."""
    if code == "H80":
        return MAINTENANCE
    if code == "H81":
        return BLANK_APP
    if status == 404:
        return NO_SUCH_APP
    if status == 417:
        return EXPECTATION_FAILED
    if status == 400:
        return BAD_REQUEST
    return APP_ERROR
