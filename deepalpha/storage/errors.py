"""The storage errors callers catch without importing SQLAlchemy: the start-up path (before
SQLAlchemy loads) and the command line."""

from __future__ import annotations


class DatabaseError(RuntimeError):
    """The database cannot be used; the message names it and says what to do."""


class EngineBusy(RuntimeError):
    """Another engine holds the data directory or the database; the message names it."""


class UsersError(ValueError):
    """A change to the users or to trader ownership that cannot be made; the message names
    the user or trader and says why (never a password or a hash)."""


class UserExists(UsersError):
    pass


class UnknownUser(UsersError, LookupError):
    pass


class UnknownTrader(UsersError, LookupError):
    pass


class InvalidUser(UsersError):
    """A user name or role the users table does not accept."""
