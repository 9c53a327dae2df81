"""A small static file server for $PORT: files under /app, index.html for directories, no dotfiles.

Run by the static buildpack's web process; standard library only.
"""

import http.server
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(os.environ.get("STATIC_ROOT", "/app"))


class Handler(http.server.SimpleHTTPRequestHandler):
    server_version = "pyroku-static"
    sys_version = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(ROOT), **kwargs)

    def send_head(self) -> BinaryIO | None:
        if any(part.startswith(".") for part in self.path.split("?", 1)[0].split("/")):
            self.send_error(404, "Not Found")
            return None
        head: BinaryIO | None = super().send_head()
        return head

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(404, "Not Found")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = ROOT / f"{code}.html"
        if code == 404 and page.is_file():
            body = page.read_bytes()
            self.send_response(code, message)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)

    def log_message(self, format: str, *args: Any) -> None:  # the router logs requests
        pass


def main() -> int:
    port = int(os.environ.get("PORT", "5000"))
    print(f"Serving {ROOT} on port {port}", flush=True)
    http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()  # noqa: S104
    return 0


if __name__ == "__main__":
    sys.exit(main())
