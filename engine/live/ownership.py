"""Which units carrying a fleet's label are this controller's, and under which name.

Called by ``observe`` (names) and the live plan (owners). A backend finds a fleet's units by
label; what each runs is read from the records kept under the unit's *name*. Two ways a labelled
unit is not what that reading assumes, and both used to start every bot in it a second time:

- renamed by hand (``docker rename``): its name is not the one its labels give (pool and index,
  or the dedicated bot), so no records were found for it, its bots looked absent, and the plan
  created them again in a new unit beside the running copies (same exchange keys, same trade
  databases). Observe lists it under the name fleetops gave it, so its bots are seen where they
  run, and the executor renames it back in place first (no bot restarts).
- applied by another controller (for Docker: another state dir — another checkout, a watcher
  next to a hand-run apply, the same fleet name in another repository): the plan took its files
  for drift and recreated every unit from this state dir's empty files — the bots restarted
  without their trade databases, and each state dir would take the fleet back from the other
  on its next apply. The backend says which units are another's (``Units.foreign``); the plan
  refuses, naming the one that runs them.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.backend.port import ListedUnit
from engine.errors import ApplyError
from engine.naming import Labels, dedicated_container_name, pool_container_name

__all__ = ["own_name", "refuse_foreign", "renamed_by_hand"]


def own_name(fleet: str, labels: Mapping[str, str]) -> str | None:
    """The name fleetops gives a unit with these labels; None when they do not say."""
    if labels.get(Labels.ROLE) == "dedicated":
        bot = labels.get(Labels.BOTS, "")
        return dedicated_container_name(fleet, bot) if bot and "," not in bot else None
    pool, index = labels.get(Labels.POOL, ""), labels.get(Labels.INDEX, "")
    return pool_container_name(fleet, pool, int(index)) if pool and index.isdigit() else None


def renamed_by_hand(fleet: str, listed: Mapping[str, ListedUnit]) -> dict[str, str]:
    """The name fleetops gave it → the name the backend shows, for each listed unit renamed by
    hand whose own name is free (when it is not, the two are left as they are: nothing guessed)."""
    renamed: dict[str, str] = {}
    for name, unit in sorted(listed.items()):
        own = own_name(fleet, unit.labels)
        if own is not None and own != name and own not in listed and own not in renamed:
            renamed[own] = name
    return renamed


def refuse_foreign(fleet: str, foreign: Mapping[str, str], here: str) -> None:
    """ApplyError naming the state dir that runs ``fleet`` when any of its units is another's
    (``foreign``: unit → that state dir, as ``Units.foreign`` found it; ``here``: this one)."""
    if not foreign:
        return
    others = sorted(set(foreign.values()))
    raise ApplyError(
        f"fleet '{fleet}' already runs on this Docker engine from another state dir ({', '.join(others)}: containers "
        f"{', '.join(sorted(foreign))}), not from {here}; plan and apply it with --state-dir {others[0]} "
        "(or FLEETOPS_STATE_DIR), or give this fleet another name")
