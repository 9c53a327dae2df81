"""The rendezvous wire protocol `pyroku run` and the platform share (see pyroku.dynos.Rendezvous):
the client sends the secret and CRLF, the platform answers GREETING, then the connection is the
dyno's terminal; after the dyno exits the platform sends EXIT_MARKER, the status and CRLF."""

GREETING = b"rendezvous\r\n"
EXIT_MARKER = "\ufffd pyroku-command-exit-status:".encode()
