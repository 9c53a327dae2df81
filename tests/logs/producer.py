"""A log producer in its own process: ``producer.py SOCKET APP_ID PREFIX COUNT``.

Writes COUNT lines ``<PREFIX> <i>`` as app[web.1] through SyslogWriter and exits non-zero if any
line was dropped.
"""

import sys

from pyroku.logs import SyslogWriter


def main() -> int:
    path, app_id, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with SyslogWriter(path) as writer:
        for i in range(count):
            writer.write(app_id, "app", "web.1", f"{prefix} {i}")
        writer.flush()
    return 1 if writer.dropped else 0


if __name__ == "__main__":
    sys.exit(main())
