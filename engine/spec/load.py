"""The loading stage of the pipeline: a repository snapshot → a validated ``FleetSpec``.

Called by every CLI command. Parsed files are memoised by (path, blob SHA): when two refs
share most of their files, as the two sides of a plan do, each file is parsed once.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from engine.errors import Problem
from engine.spec.rawdoc import RawDocument, parse_documents
from engine.spec.source import BlobText, FleetSource, open_source
from engine.spec.validate import FleetSpec, validate_documents

__all__ = ["LoadedFleet", "load_fleet"]

_PARSED_LIMIT = 64
_parsed: OrderedDict[tuple[str, str], tuple[list[RawDocument], list[Problem]]] = OrderedDict()
"""Bounded (least recently used goes first): a long-running watcher sees new blobs every commit."""


class LoadedFleet:
    """A validated fleet and the snapshot it was read from (ref, commit, dirty flag)."""

    def __init__(self, spec: FleetSpec, source: FleetSource) -> None:
        self.spec = spec
        self.source = source


def load_fleet(repo_dir: str | Path, ref: str | None = None) -> LoadedFleet:
    """Read and validate the fleet at ``ref`` (None: the working tree); SpecError lists all problems."""
    source = open_source(repo_dir, ref)
    docs: list[RawDocument] = []
    problems: list[Problem] = []
    for file in source.spec_files():
        file_docs, file_problems = _parse(file)
        docs.extend(file_docs)
        problems.extend(file_problems)
    return LoadedFleet(validate_documents(docs, problems, source), source)


def _parse(file: BlobText) -> tuple[list[RawDocument], list[Problem]]:
    key = (file.path, file.blob_sha)
    if key in _parsed:
        _parsed.move_to_end(key)
    else:
        _parsed[key] = parse_documents(file.path, file.text)
        while len(_parsed) > _PARSED_LIMIT:
            _parsed.popitem(last=False)
    return _parsed[key]
