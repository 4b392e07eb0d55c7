"""Strategy pins: ``ClassName@ref`` → the exact strategy file a bot will run.

Called by ``engine.spec.validate`` once per distinct pin. A pin resolves through git to a full
commit SHA and the sha256 of ``strategies/<ClassName>.py`` at that commit; the class must be
defined there the way FreqTrade's resolver finds it (it greps for ``class <Name>(``).
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass

from engine.spec.source import STRATEGY_DIR, FleetSource

__all__ = ["PinError", "ResolvedPin", "resolve_pin"]


@dataclass(frozen=True)
class ResolvedPin:
    """A pin as git resolved it; ``text`` is what gets written into the bot's strategy dir."""

    class_name: str
    ref: str
    commit: str
    sha256: str
    immutable: bool
    text: str

    @property
    def pin(self) -> str:
        return f"{self.class_name}@{self.ref}"

    @property
    def display(self) -> str:
        """How plans show a pin: the ref plus the short commit it resolved to."""
        return f"{self.pin} ({self.commit[:7]})"

    @property
    def file_name(self) -> str:
        return f"{self.class_name}.py"


class PinError(Exception):
    """A pin that cannot be resolved; the message is shown to the user at the pin's location."""


def resolve_pin(source: FleetSource, class_name: str, ref: str) -> ResolvedPin:
    """Resolve one pin or raise PinError saying exactly what is missing."""
    pin = f"{class_name}@{ref}"
    if source.repo is None:
        raise PinError(f"strategy pin '{pin}' needs a git repository to resolve '{ref}'")
    commit = source.find_commit(ref)
    if commit is None:
        tags = source.tag_names()
        hint = f" (tags: {', '.join(tags[-10:])})" if tags else " (the repository has no tags)"
        raise PinError(f"strategy pin '{pin}': git ref '{ref}' not found{hint}")
    path = f"{STRATEGY_DIR}/{class_name}.py"
    blob = source.file_at(commit, path)
    if blob is None:
        raise PinError(f"strategy pin '{pin}': {path} does not exist at {ref} ({commit.hexsha[:7]})")
    _check_class(pin, path, ref, class_name, blob.text)
    return ResolvedPin(
        class_name=class_name,
        ref=ref,
        commit=commit.hexsha,
        sha256=hashlib.sha256(blob.text.encode()).hexdigest(),
        immutable=source.is_immutable_ref(ref),
        text=blob.text,
    )


def _check_class(pin: str, path: str, ref: str, class_name: str, text: str) -> None:
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise PinError(f"strategy pin '{pin}': {path} at {ref} has a Python syntax error at line {exc.lineno}: {exc.msg}") from None
    defined = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    if class_name not in defined:
        known = f" (it defines: {', '.join(sorted(defined))})" if defined else ""
        raise PinError(f"strategy pin '{pin}': {path} at {ref} does not define class {class_name}{known}")
    if not re.search(rf"^class {re.escape(class_name)}\(", text, re.MULTILINE):
        raise PinError(
            f"strategy pin '{pin}': FreqTrade finds classes by the literal text 'class {class_name}(' "
            f"which {path} at {ref} does not contain"
        )
