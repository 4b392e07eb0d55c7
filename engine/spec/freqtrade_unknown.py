"""Warnings for keys of a bot's ``freqtrade:`` block that FreqTrade's own config schema does not know.

Called by ``engine.spec.load`` on the raw documents, before validation, so the warnings show even
beside errors. FreqTrade ignores a key its schema lacks (its schema allows any other key), so a typo
there — ``stoplos``, ``telegram.enabeld`` — would be accepted silently: it is a ``warning:`` (one line,
``file:line:col`` at the key), never a failure, since a newer FreqTrade than the list may know it.

The known keys are ``engine.spec.freqtrade_keys``, generated from FreqTrade's ``CONF_SCHEMA`` by
``scripts/gen-freqtrade-keys`` (the engine never imports FreqTrade): the top level, and one level
below for each section whose keys the schema lists. Keys fleetops manages are known to FreqTrade,
so they are not warned about here: ``engine.spec.freqtrade_extras`` refuses them with an error.
"""

from __future__ import annotations

import difflib

from engine.errors import Problem
from engine.spec.freqtrade_keys import FREQTRADE_VERSION, SECTION_KEYS, TOP_LEVEL_KEYS
from engine.spec.rawdoc import RawDocument

__all__ = ["unknown_freqtrade_keys"]


def unknown_freqtrade_keys(docs: list[RawDocument]) -> list[Problem]:
    """One warning per key under a Bot document's ``freqtrade:`` (and under its known sections)
    that FreqTrade's schema does not list, located at the key, with the closest known key."""
    warnings: list[Problem] = []
    for doc in docs:
        block = doc.data.get("freqtrade") if doc.kind == "Bot" else None
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            if not isinstance(key, str):
                continue  # validation reports keys that are not text
            if key not in TOP_LEVEL_KEYS:
                warnings.append(_warning(doc, ("freqtrade", key), key, TOP_LEVEL_KEYS))
            elif key in SECTION_KEYS and isinstance(value, dict):
                for sub in value:
                    if isinstance(sub, str) and sub not in SECTION_KEYS[key]:
                        warnings.append(_warning(doc, ("freqtrade", key, sub), f"{key}.{sub}", SECTION_KEYS[key]))
    return warnings


def _warning(doc: RawDocument, loc: tuple[str, ...], dotted: str, known: frozenset[str]) -> Problem:
    line, col = doc.position(loc, at_key=True)
    close = difflib.get_close_matches(loc[-1], sorted(known), n=1, cutoff=0.75)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    who = f"bot '{doc.name}': " if doc.name else ""
    return Problem(doc.path, line, col, f"{who}freqtrade.{dotted} is not a key FreqTrade {FREQTRADE_VERSION}'s config schema knows, "
                                        f"so FreqTrade would ignore it{hint}", "warning")
