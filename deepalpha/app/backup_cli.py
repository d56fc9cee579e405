"""``deepalpha backup create | list | verify | restore | prune`` (placeholder until built)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("backup", help="local backups: create, list, verify, restore, prune")
    p.add_argument("action", choices=["create", "list", "verify", "restore", "prune"])


def run(args: argparse.Namespace) -> int:
    raise SystemExit("backups are not built yet")
