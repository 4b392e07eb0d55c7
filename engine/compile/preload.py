"""The files a preloaded pool container gets: the preloader/launcher script and its module list.

Their source is ``engine/container/`` (code that runs inside containers, never imported here);
compile only reads it as bytes, writes it under ``/fleet/etc/preload/`` (read-only in the
container) and names its hash in the preloader's program, so a fleetops upgrade that changes the
preloader restarts that program, and no bot.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

from engine.hashing import short_hash

__all__ = ["MODULE_LIST", "SCRIPT", "preload_files", "preload_hash"]

SCRIPT = "preload.py"
MODULE_LIST = "freqtrade.modules"


@functools.cache
def preload_files() -> dict[str, bytes]:
    """File name → content, for ``etc/preload/``."""
    source = resources.files("engine.container")
    return {name: source.joinpath(name).read_bytes() for name in (SCRIPT, MODULE_LIST)}


@functools.cache
def preload_hash() -> str:
    return short_hash([[name, hashlib.sha256(content).hexdigest()] for name, content in sorted(preload_files().items())])
