"""The channel's content-addressed blob store: files on their way to a node agent, data on its way back.

Used by ``engine.backend.swarm.channel``: a command names its files by sha256 (a bot's config,
its secrets, its strategy; a pool's conf) and the agent fetches each by that name, checking the
hash; an agent exporting a bot's data uploads it here under its hash for the next node to fetch.
Commands stay small, a file sent to many units travels once per node, and nothing a node
receives can be other than what the controller rendered.

Kept in memory, never on disk: secrets pass through here, and the state dir must not gain a copy
of them. Bounded by ``cap`` bytes in all; when full, the least recently used blob that no open
command needs (``pin``) is dropped. A blob larger than the cap, or a store full of pinned blobs,
is a ``DockerError``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from engine.errors import DockerError

__all__ = ["DEFAULT_CAP", "BlobStore"]

DEFAULT_CAP = 1 << 30
"""Bytes held at most (1 GiB: a few bots' trade databases in flight at once)."""


class BlobStore:
    """sha256 hex → bytes, bounded by ``cap``, thread-safe."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self._blobs: OrderedDict[str, bytes] = OrderedDict()
        self._pins: dict[str, int] = {}
        self._size = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Bytes held now."""
        return self._size

    def put(self, data: bytes) -> str:
        """Keep ``data``; its sha256 in hex (the same bytes are kept once)."""
        sha = hashlib.sha256(data).hexdigest()
        self._keep(sha, data)
        return sha

    def accept(self, sha: str, data: bytes) -> bool:
        """Keep ``data`` an agent uploaded as ``sha`` if it hashes to that; whether it did."""
        if hashlib.sha256(data).hexdigest() != sha:
            return False
        self._keep(sha, data)
        return True

    def get(self, sha: str) -> bytes | None:
        with self._lock:
            data = self._blobs.get(sha)
            if data is not None:
                self._blobs.move_to_end(sha)
            return data

    def pin(self, shas: tuple[str, ...]) -> None:
        """Keep these until ``unpin``: an open command will fetch them."""
        with self._lock:
            for sha in shas:
                self._pins[sha] = self._pins.get(sha, 0) + 1

    def unpin(self, shas: tuple[str, ...]) -> None:
        with self._lock:
            for sha in shas:
                left = self._pins.get(sha, 0) - 1
                if left > 0:
                    self._pins[sha] = left
                else:
                    self._pins.pop(sha, None)

    def drop(self, sha: str) -> None:
        """Forget a blob no command needs any more (a bot's data once imported)."""
        with self._lock:
            if sha not in self._pins and sha in self._blobs:
                self._size -= len(self._blobs.pop(sha))

    def _keep(self, sha: str, data: bytes) -> None:
        if len(data) > self.cap:
            raise DockerError(f"a file of {len(data)} bytes is larger than the agents' blob store ({self.cap} bytes)")
        with self._lock:
            if sha in self._blobs:
                self._blobs.move_to_end(sha)
                return
            for old in list(self._blobs):
                if self._size + len(data) <= self.cap:
                    break
                if old not in self._pins:
                    self._size -= len(self._blobs.pop(old))
            if self._size + len(data) > self.cap:
                raise DockerError(f"the agents' blob store is full ({self._size} of {self.cap} bytes held for open commands); "
                                  "wait for them to finish, or move fewer bots at once")
            self._blobs[sha] = data
            self._size += len(data)
