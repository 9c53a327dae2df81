"""``python -m pyroku.router --table PATH --port P [--https-port P2] [--workers N] [--log-socket PATH]``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pyroku.router._config import RouterConfig
from pyroku.router._exceptions import RouterError
from pyroku.router._server import run_worker
from pyroku.router._supervisor import run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pyroku.router", description="Pyroku's HTTP router.")
    parser.add_argument("--table", type=Path, required=True, help="the routing table JSON file")
    parser.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    parser.add_argument("--https-port", type=int, default=None, help="HTTPS port (off by default)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--workers", type=int, default=1, help="router processes sharing the ports (default 1)")
    parser.add_argument("--log-socket", type=Path, default=None, help="logplex's ingestion socket")
    parser.add_argument("--log-stdout", action="store_true", help="also print request log lines")
    parser.add_argument("--cert-dir", type=Path, default=None,
                        help="where the default certificate lives (default: router-certs next to the table)")
    parser.add_argument("--metrics-dir", type=Path, default=None,
                        help="where router-metrics-N.json is written (default: the table's directory)")
    parser.add_argument("--public-http-port", type=int, default=None, help="X-Forwarded-Port for HTTP")
    parser.add_argument("--public-https-port", type=int, default=None, help="X-Forwarded-Port for HTTPS")
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    parser.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="router[%(process)d] %(levelname)s %(message)s")
    if args.workers < 1:
        print("router: --workers must be at least 1", file=sys.stderr)
        return 2
    config = RouterConfig(
        table_path=args.table, port=args.port, host=args.host, https_port=args.https_port, workers=args.workers,
        log_socket=args.log_socket, log_stdout=args.log_stdout, cert_dir=args.cert_dir,
        metrics_dir=args.metrics_dir, public_http_port=args.public_http_port,
        public_https_port=args.public_https_port, loop=args.loop,
    )
    try:
        if args.worker_index is not None:
            run_worker(config, args.worker_index)
            return 0
        return run(config, argv)
    except RouterError as exc:
        print(f"router: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
