"""The storage errors the start-up path must be able to catch before SQLAlchemy is imported."""

from __future__ import annotations


class DatabaseError(RuntimeError):
    """The database cannot be used; the message names it and says what to do."""


class EngineBusy(RuntimeError):
    """Another engine holds the data directory or the database; the message names it."""
