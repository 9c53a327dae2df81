"""The ``pre-receive`` hook of every app repository: hands the push to the platform, relays the build.

Git runs it (``python -I -S``, standard library only) with the pushed ``<old> <new> <ref>`` lines
on stdin and whatever it prints shown to the pusher as ``remote:`` lines; a non-zero exit rejects
the whole push. It connects to the platform's Unix socket (``PYROKU_GIT_SOCKET``), sends one JSON
line (the push secret the git endpoint gave this request, the updates, git's quarantine
environment), then copies the lines it gets back: ``L<text>`` to print, ``X<status>`` to exit with.
"""

import json
import os
import socket
import sys

_PASSED = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")


def main() -> int:
    updates = [line.split() for line in sys.stdin.read().splitlines() if line.strip()]
    path = os.environ.get("PYROKU_GIT_SOCKET", "")
    secret = os.environ.get("PYROKU_PUSH_SECRET", "")
    if not path or not secret:
        print(" !     This repository only accepts pushes through the Pyroku platform.")
        return 1
    request = {
        "secret": secret,
        "repository": os.path.abspath(os.environ.get("GIT_DIR", ".")),
        "updates": updates,
        "env": {k: os.environ[k] for k in _PASSED if k in os.environ},
    }
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
        conn.sendall(json.dumps(request).encode() + b"\n")
        stream = conn.makefile("rb")
    except OSError as exc:
        print(f" !     The platform cannot take the push right now ({exc}); try again.")
        return 1
    out = sys.stdout.buffer
    for raw in stream:
        kind, text = raw[:1], raw[1:].rstrip(b"\n")
        if kind == b"L":
            out.write(text + b"\n")
            out.flush()
        elif kind == b"X":
            return int(text or b"1")
    print(" !     The platform stopped answering during the build; the push was not deployed.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
