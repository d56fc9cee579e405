"""The headless process's log: one JSON object per line on stderr, for a collector to read.

Light on purpose: ``serve`` sets it up before it imports the engine, so even a signal during
start-up is logged.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

# The HTTP request being served (set by the server's middleware): every line logged while
# serving it, the engine's included, names it, so one request's lines can be found together.
request_id: ContextVar[str | None] = ContextVar("deepalpha_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Stamps a record with the request being served as it is logged: a handler that formats
    it later (a queue, a test's capture) would no longer see the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__:
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        stamped = record.__dict__
        rid = stamped["request_id"] if "request_id" in stamped else request_id.get()
        if rid is not None:
            entry["request_id"] = rid
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
