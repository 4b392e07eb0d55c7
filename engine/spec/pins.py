"""Strategy pins: ``ClassName@ref`` → the exact strategy file a bot will run.

Called by ``engine.spec.validate`` once per distinct pin. A pin resolves through git to a full
commit SHA and the sha256 of ``strategies/<ClassName>.py`` at that commit; the class must be
defined there the way FreqTrade's resolver finds it (``IResolver._search_object``, 2026.9): it
reads the file as UTF-8 text and greps for ``class <Name>(``, then Python's import machinery
compiles the file's *bytes* — so a UTF-8 byte-order mark or a coding cookie is honoured exactly as
``importlib`` honours it. What the bot's strategy dir receives is the pinned blob, byte for byte.
"""

from __future__ import annotations

import ast
import hashlib
from typing import Any

from engine.errors import SourceError
from engine.spec.fleetspec import ResolvedPin
from engine.spec.pyclasses import bound_classes
from engine.spec.source import MAX_FILE_BYTES, STRATEGY_DIR, FleetSource

__all__ = ["PinError", "ResolvedPin", "resolve_pin"]


class PinError(Exception):
    """A pin that cannot be resolved; the message is shown to the user at the pin's location."""


def resolve_pin(source: FleetSource, class_name: str, ref: str) -> ResolvedPin:
    """Resolve one pin or raise PinError saying exactly what is missing."""
    pin = f"{class_name}@{ref}"
    if source.repo is None:
        inside = f" ({source.repo_dir} is inside the git repository {source.enclosing}, but fleetops reads a repository at its top)" \
            if source.enclosing is not None else ""
        raise PinError(f"strategy pin '{pin}' needs a git repository to resolve '{ref}'{inside}")
    commit = source.find_pinned(ref)
    if commit is None:
        tags = source.tag_names()
        hint = f" (tags: {', '.join(tags[-10:])})" if tags else " (the repository has no tags)"
        if source.shallow:  # a CI checkout: one commit, and only the tags that point at it
            hint = (f" in this shallow clone{hint}; fetch the tags and the commits they name (`git fetch --tags --unshallow`), "
                    "or in GitHub Actions set `fetch-depth: 0` on actions/checkout")
        raise PinError(f"strategy pin '{pin}': git ref '{ref}' not found{hint}")
    path = f"{STRATEGY_DIR}/{class_name}.py"
    try:
        blob = source.file_at(commit, path)
    except SourceError as exc:  # a link, a submodule or an LFS pointer: never followed
        raise PinError(f"strategy pin '{pin}': {exc}") from None
    if blob is None:
        raise PinError(f"strategy pin '{pin}': {path} does not exist at {ref} ({commit.hexsha[:7]})")
    if blob.size > MAX_FILE_BYTES:
        raise PinError(f"strategy pin '{pin}': {path} at {ref} is {blob.size} bytes; strategy files are limited to {MAX_FILE_BYTES}")
    try:
        text = blob.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PinError(f"strategy pin '{pin}': {path} at {ref} is not UTF-8 text (byte {exc.start})") from None
    if "\0" in text:
        raise PinError(f"strategy pin '{pin}': {path} at {ref} contains a NUL byte")
    _check_class(pin, path, ref, class_name, blob.data, text)
    return ResolvedPin(class_name=class_name, ref=ref, commit=commit.hexsha, sha256=hashlib.sha256(blob.data).hexdigest(), text=text,
                       siblings=_siblings(commit, class_name))


def _siblings(commit: Any, class_name: str) -> tuple[str, ...]:
    """The module names of the other ``strategies/*.py`` files at ``commit`` (empty when git cannot list them)."""
    try:
        return tuple(sorted(item.name[:-3] for item in commit.tree[STRATEGY_DIR].blobs
                            if item.name.endswith(".py") and item.name != f"{class_name}.py"))
    except Exception:  # noqa: BLE001 - only a hint in an error message depends on it
        return ()


def _check_class(pin: str, path: str, ref: str, class_name: str, data: bytes, text: str) -> None:
    try:
        tree = ast.parse(data, filename=path)  # bytes, as importlib compiles them: BOM and coding cookie honoured
    except SyntaxError as exc:
        column = f", column {exc.offset}" if exc.offset else ""
        raise PinError(f"strategy pin '{pin}': {path} at {ref} has a Python syntax error at line {exc.lineno}{column}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise PinError(f"strategy pin '{pin}': {path} at {ref} cannot be parsed as Python (nested too deeply)") from None
    defined = set(bound_classes(tree))
    if class_name not in defined:
        known = f" (it defines: {', '.join(sorted(defined))})" if defined else ""
        raise PinError(f"strategy pin '{pin}': {path} at {ref} does not define class {class_name}{known}")
    if f"class {class_name}(" not in text:
        raise PinError(
            f"strategy pin '{pin}': FreqTrade finds classes by the literal text 'class {class_name}(' "
            f"which {path} at {ref} does not contain"
        )
