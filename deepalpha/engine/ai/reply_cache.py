"""Model replies kept on disk, keyed by what was asked, so that a backtest run again with the
same data and settings asks the model nothing and costs nothing.

The key is a SHA-256 of everything that shapes a reply: the endpoint (base URL and model), the
sampling (temperature, max tokens) and the two prompts. The profile's name is not in it — two
names for one endpoint share replies — and neither is the key: replies are not secret, keys are.

Entries are plain JSON files, one per reply, written to a temporary name and renamed into place:
two runs writing the same entry at once leave one whole file, and a killed run leaves no half
entry. (The engine keeps clear of SQL; a directory of small files needs no schema.)

:class:`CachingClient` is a :class:`ChatClient` that looks in the cache first. A cached reply
comes back with its original token counts, a cost of 0 and a latency of 0 (it was not paid for
or waited on this time). In ``offline`` mode it never calls the network: a miss is answered
with a ``wait`` and counted with its estimated prompt size — a dry run that tells how many
calls, and roughly how many tokens, a real run would need.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx

from deepalpha.engine.ai.client import ChatClient, ModelProfile, ModelReply
from deepalpha.engine.ai.prompts import estimate_tokens

FORMAT = 1  # bump when the entry layout changes: old entries are then ignored, not misread
OFFLINE_REPLY = (
    "<reasoning>offline estimate: no cached reply for this prompt</reasoning>"
    '<decision>[{"action": "wait"}]</decision>'
)


def reply_key(profile: ModelProfile, system: str, user: str) -> str:
    """The cache key of one request: hex SHA-256 over endpoint, sampling and prompts."""
    identity = [
        FORMAT,
        profile.base_url.rstrip("/"),
        profile.model,
        repr(float(profile.temperature)),
        profile.max_tokens,
        system,
        user,
    ]
    data = json.dumps(identity, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedReply:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int


class ReplyCache:
    """A directory of replies: ``<root>/<key[:2]>/<key>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        try:
            data = json.loads(self._path(key).read_text("utf-8"))
            if data.get("format") != FORMAT:
                return None
            return CachedReply(
                text=str(data["text"]),
                model=str(data["model"]),
                prompt_tokens=int(data["prompt_tokens"]),
                completion_tokens=int(data["completion_tokens"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # A damaged entry is a miss: the model is asked again and the entry rewritten.
            return None

    def put(self, key: str, reply: CachedReply) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT,
            "text": reply.text,
            "model": reply.model,
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class CachingClient(ChatClient):
    """A chat client that answers from the cache when it can and stores what the model says.

    Counters: ``calls`` (replies fetched from the model), ``hits`` (served from the cache),
    ``misses`` and ``miss_prompt_tokens`` (offline mode: what a real run would have to ask),
    and ``last_cached`` (whether the latest reply came from the cache). Failed calls are not
    cached: the next run asks again.
    """

    def __init__(
        self,
        profile: ModelProfile,
        key: str | None,
        cache: ReplyCache,
        *,
        offline: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(profile, key, transport=transport)
        self.cache = cache
        self.offline = offline
        self.calls = 0
        self.hits = 0
        self.misses = 0
        self.miss_prompt_tokens = 0
        self.last_cached = False

    async def complete(self, system: str, user: str) -> ModelReply:
        key = reply_key(self.profile, system, user)
        hit = self.cache.get(key)
        if hit is not None:
            self.hits += 1
            self.last_cached = True
            return ModelReply(
                text=hit.text,
                prompt_tokens=hit.prompt_tokens,
                completion_tokens=hit.completion_tokens,
                cost=Decimal(0),
                latency_ms=0,
                model=hit.model,
                attempts=0,
            )
        self.last_cached = False
        if self.offline:
            self.misses += 1
            self.miss_prompt_tokens += estimate_tokens(system) + estimate_tokens(user)
            return ModelReply(OFFLINE_REPLY, 0, 0, Decimal(0), 0, self.profile.model, 0)
        reply = await super().complete(system, user)
        self.calls += 1
        self.cache.put(
            key, CachedReply(reply.text, reply.model, reply.prompt_tokens, reply.completion_tokens)
        )
        return reply
