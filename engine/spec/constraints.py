"""Swarm placement constraints as a pool's ``placement:`` writes them (contract §8): their grammar.

Validation parses each one here (a located error when Swarm would refuse it, or accept it and
then never place the service); the swarm backend's placement (``engine.backend.swarm.placement``)
matches the parsed form against nodes. The grammar is swarmkit's (``manager/constraint``,
``Parse``): ``KEY OP VALUE`` with ``==`` tried before ``!=``, the key ``[a-z_][a-z0-9-_.]+`` and the
value letters, digits, whitespace and ``: - _ . * ( ) ? + [ ] \\ ^ $ | /`` (case-insensitive), both
trimmed. Swarm accepts any such key but matches only the node attributes it knows, so an unknown
key (a typo such as ``node.label.zone``) would leave a pool's services pending forever: here it
is an error naming the keys Swarm knows (Docker's ``docker service create --constraint``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.textsafe import one_line

__all__ = ["KEYS", "LABEL_PREFIXES", "Constraint", "parse_constraint"]

KEYS = ("node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch")
"""Node attributes Swarm matches, besides labels (Docker's documentation of ``--constraint``)."""
LABEL_PREFIXES = ("node.labels.", "engine.labels.")
"""A node's labels (``docker node update --label-add``) and its engine's (``dockerd --label``)."""
ROLES = ("manager", "worker")

_KEY = re.compile(r"[a-z_][a-z0-9\-_.]+", re.IGNORECASE)
_VALUE = re.compile(r"[a-z0-9:\-_\s.*()?+\[\]\\^$|/]+", re.IGNORECASE)
_OPERATORS = ("==", "!=")
EXAMPLE = "node.labels.zone == eu"


@dataclass(frozen=True)
class Constraint:
    """One parsed constraint: ``key`` as written (trimmed), ``equal`` for ``==``, the ``value`` (trimmed)."""

    key: str
    equal: bool
    value: str

    def __str__(self) -> str:
        return f"{self.key} {'==' if self.equal else '!='} {self.value}"

    @property
    def label(self) -> tuple[str, str] | None:
        """(prefix, label name) for a label constraint; label names are case-sensitive in Swarm, prefixes not."""
        for prefix in LABEL_PREFIXES:
            if self.key.lower().startswith(prefix) and len(self.key) > len(prefix):
                return prefix, self.key[len(prefix):]
        return None


def parse_constraint(text: str) -> Constraint:
    """``text`` parsed as Swarm parses it; ValueError with a sentence saying what is wrong and what to write."""
    for operator in _OPERATORS:
        if operator not in text:
            continue
        key, _, value = (part.strip() for part in text.partition(operator))
        if not _KEY.fullmatch(key):
            raise ValueError(f"'{one_line(key)}' is not a constraint key Swarm accepts (letters, digits, '-', '_' and '.'; "
                             f"as in {EXAMPLE})")
        if not _VALUE.fullmatch(value):
            raise ValueError(f"'{one_line(value)}' is not a constraint value Swarm accepts (letters, digits, spaces and "
                             ": - _ . * ( ) ? + [ ] \\ ^ $ | /)")
        constraint = Constraint(key, operator == "==", value)
        _check_key(constraint)
        return constraint
    raise ValueError(f"'{one_line(text)}' is not a Swarm constraint: it needs == or != between a node attribute and a value, "
                     f"as in {EXAMPLE}")


def _check_key(constraint: Constraint) -> None:
    lowered = constraint.key.lower()
    if constraint.label is None and lowered not in KEYS:
        raise ValueError(f"Swarm matches no node attribute '{one_line(constraint.key)}', so no node would ever take this pool "
                         f"(known: {', '.join(KEYS)}, node.labels.<label>, engine.labels.<label>)")
    if lowered == "node.role" and constraint.value.lower() not in ROLES:
        raise ValueError(f"node.role is {' or '.join(ROLES)}, never '{one_line(constraint.value)}'")
