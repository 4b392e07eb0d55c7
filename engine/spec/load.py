"""The loading stage of the pipeline: a repository snapshot → a validated ``FleetSpec``.

Called by the flow for every command. Parsed files are kept in a ``ParseCache`` keyed by
(path, blob SHA): the two sides of a plan share one, so a file they have in common is parsed
once; a watcher keeps one for its whole life, bounded, so it never grows without end.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from engine.errors import Problem
from engine.spec.fleetspec import FleetSpec
from engine.spec.freqtrade_unknown import unknown_freqtrade_keys
from engine.spec.rawdoc import RawDocument, parse_documents
from engine.spec.source import SPEC_DIR, Blob, FleetSource, open_source
from engine.spec.validate import validate_documents

__all__ = ["LoadedFleet", "ParseCache", "load_fleet"]


class ParseCache:
    """Parsed spec files, least recently used first out beyond ``limit`` files.

    The limit follows the fleet: twice the files of the last snapshot read (at least ``floor``),
    enough for both sides of a plan and for a watcher's next commit to find what it shares with
    the last one, and never more, however many commits a watcher reads in its life.
    """

    def __init__(self, floor: int = 64) -> None:
        self.floor = floor
        self.limit = floor
        self._parsed: OrderedDict[tuple[str, str], tuple[list[RawDocument], list[Problem]]] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, file: Blob) -> tuple[list[RawDocument], list[Problem]]:
        key = (file.path, file.blob_sha)
        with self._lock:
            if key in self._parsed:
                self._parsed.move_to_end(key)
                return self._parsed[key]
        parsed = parse_documents(file.path, file.data, file.size)
        with self._lock:
            self._parsed[key] = parsed
            while len(self._parsed) > self.limit:
                self._parsed.popitem(last=False)
        return parsed

    def fit(self, files: int) -> None:
        """Size the cache for snapshots of ``files`` files."""
        self.limit = max(self.floor, 2 * files)

    def __len__(self) -> int:
        return len(self._parsed)


class LoadedFleet:
    """A validated fleet and the snapshot it was read from (ref, commit, dirty flag)."""

    def __init__(self, spec: FleetSpec, source: FleetSource, files: tuple[tuple[str, str], ...] = (),
                 warnings: tuple[Problem, ...] = ()) -> None:
        self.spec = spec
        self.source = source
        self.files = files
        """Every spec file read, as (path, blob SHA): what a no-op proof digests."""
        self.warnings = warnings
        """Files under fleet/ that look like specs but are not read, and ``freqtrade:`` keys FreqTrade
        does not know (``engine.spec.freqtrade_unknown``): they never fail a run."""


def load_fleet(repo_dir: str | Path, ref: str | None = None, *, cache: ParseCache | None = None,
               warn: Callable[[Problem], None] | None = None) -> LoadedFleet:
    """Read and validate the fleet at ``ref`` (None: the working tree); SpecError lists all problems.

    Entries that are not regular files (links, submodules, LFS pointers) are problems like any
    other; ``warn`` hears each warning as soon as the snapshot is listed (files) or parsed (``freqtrade:``
    keys FreqTrade's schema does not know), before validation.
    """
    cache = cache if cache is not None else ParseCache()
    source = open_source(repo_dir, ref)
    docs: list[RawDocument] = []
    listing = source.listing()
    for warning in listing.warnings:
        if warn is not None:
            warn(warning)
    problems: list[Problem] = list(listing.problems)
    files = listing.spec_files
    cache.fit(len(files))
    parsed: list[RawDocument] = []
    for file in files:
        file_docs, file_problems = cache.parse(file)
        docs.extend(file_docs)
        problems.extend(file_problems)
        if not file_problems:
            parsed.extend(file_docs)
    unknown = unknown_freqtrade_keys(parsed)  # typos FreqTrade would ignore (in files that parse): warnings, never failures
    for warning in unknown:
        if warn is not None:
            warn(warning)
    unread = any(p.path == SPEC_DIR or p.path.startswith(f"{SPEC_DIR}/") for p in listing.problems)
    spec = validate_documents(docs, problems, source, incomplete=unread)
    return LoadedFleet(spec, source, tuple((f.path, f.blob_sha) for f in files), (*listing.warnings, *unknown))
