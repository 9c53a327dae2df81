"""The HTTP router: Host → app → random web dyno, with Heroku's timeouts, H-codes, headers and log lines.

It runs as its own process(es) and consumes the routing table the controller publishes::

    python -m pyroku.router --table DATA/routes.json --port 8080 [--https-port 8443] [--workers N]
        [--log-socket DATA/logs/logplex.sock] [--metrics-dir DATA] [--cert-dir DIR] [--host 0.0.0.0]

The controller writes the table with :func:`save_table` (atomic; see :mod:`pyroku.router.table` for
the format); every router process notices a new version within ~250 ms and keeps serving the last
good one while the file is missing or broken. Request log lines are shipped to logplex's ingestion
socket; per-app metrics are written to ``router-metrics-<worker>.json`` every 5 s and merged by
:func:`read_metrics`. In-process use (tests, embedding): ``await Router(RouterConfig(...)).start()``.
"""

from pyroku.router._interpreted import install_if_asked

install_if_asked()  # before the request path's modules are imported

from pyroku.router._config import Limits, LoopKind, RouterConfig, Timeouts  # noqa: E402
from pyroku.router._exceptions import CertificateError, RouterError, RoutingTableError  # noqa: E402
from pyroku.router._logline import CODES, format_line  # noqa: E402
from pyroku.router._metrics import read_metrics  # noqa: E402
from pyroku.router._server import Router, run_worker  # noqa: E402
from pyroku.router._sink import BufferedLogSink, ListSink, NullSink, RequestLogSink, SyslogShipper  # noqa: E402
from pyroku.router._supervisor import run  # noqa: E402
from pyroku.router._tls import ensure_default_cert  # noqa: E402
from pyroku.router.table import AppRoute, CertFiles, DynoRoute, RoutingTable  # noqa: E402
from pyroku.router.table import load as load_table  # noqa: E402
from pyroku.router.table import save as save_table  # noqa: E402

__all__ = [
    "CODES",
    "AppRoute",
    "BufferedLogSink",
    "CertFiles",
    "CertificateError",
    "DynoRoute",
    "Limits",
    "ListSink",
    "LoopKind",
    "NullSink",
    "RequestLogSink",
    "Router",
    "RouterConfig",
    "RouterError",
    "RoutingTable",
    "RoutingTableError",
    "SyslogShipper",
    "Timeouts",
    "ensure_default_cert",
    "format_line",
    "load_table",
    "read_metrics",
    "run",
    "run_worker",
    "save_table",
]
