"""Request ids the router makes up: UUID v4s, distinct, across the batches they are made in."""

from __future__ import annotations

import uuid

from pyroku.router._headers import RequestIds


def test_request_ids_are_distinct_version_4_uuids_across_batches() -> None:
    ids = RequestIds()
    made = [ids.new() for _ in range(1000)]  # about four batches
    assert len(set(made)) == len(made)
    for raw in made:
        parsed = uuid.UUID(raw.decode())
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == raw.decode()  # canonical form: lowercase, dashes where they belong
