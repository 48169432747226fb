"""Schemathesis hooks for .ci/fuzz."""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def map_headers(ctx, headers):
    # Generated keys repeat ("0", "00") across unrelated requests, and a key
    # reused with another body is rightly refused; a valid key therefore gets a
    # fresh value, while invalid ones stay to test the 400.
    if headers and "Idempotency-Key" in headers and VALID_KEY.match(headers["Idempotency-Key"]):
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return headers


@schemathesis.hook
def map_query(ctx, query):
    # A cursor is opaque and only this API makes one; a made-up cursor is
    # refused (422) however well it fits the schema, so none is generated.
    # (tests/api/abuse.rs sends forged cursors.)
    if query and "cursor" in query:
        del query["cursor"]
    return query
