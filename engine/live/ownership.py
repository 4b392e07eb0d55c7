"""Which containers carrying a fleet's label are this state dir's, and under which name.

Called by ``observe`` (names) and the flow's live plan (owners). Docker's list call finds a
fleet's containers by label; what each runs is read from the state dir's runtime directory of
the container's *name*. Two ways a labelled container is not what that reading assumes, and
both used to start every bot in it a second time:

- renamed by hand (``docker rename``): its name is not the one its labels give (pool and index,
  or the dedicated bot), so no records were found for it, its bots looked absent, and the plan
  created them again in a new container beside the running copies (same exchange keys, same
  trade databases). Observe lists it under the name fleetops gave it, so its bots are seen
  where they run, and the executor renames it back in place first (no bot restarts).
- applied from another state dir (another checkout, a watcher next to a hand-run apply, the
  same fleet name in another repository): its mounts are that state dir's runtime files, so the
  plan took the mounts for drift and recreated every container from this state dir's empty
  runtime directories — the bots restarted without their trade databases, and each state dir
  would take the fleet back from the other on its next apply. The plan refuses instead, naming
  the state dir that runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.errors import ApplyError
from engine.live.container_inspect import ContainerInspect
from engine.live.ports import ListedContainer
from engine.naming import Labels, dedicated_container_name, pool_container_name

__all__ = ["foreign_state_dirs", "own_name", "refuse_foreign", "renamed_by_hand"]


def own_name(fleet: str, labels: Mapping[str, str]) -> str | None:
    """The name fleetops gives a container with these labels; None when they do not say."""
    if labels.get(Labels.ROLE) == "dedicated":
        bot = labels.get(Labels.BOTS, "")
        return dedicated_container_name(fleet, bot) if bot and "," not in bot else None
    pool, index = labels.get(Labels.POOL, ""), labels.get(Labels.INDEX, "")
    return pool_container_name(fleet, pool, int(index)) if pool and index.isdigit() else None


def renamed_by_hand(fleet: str, listed: Mapping[str, ListedContainer]) -> dict[str, str]:
    """The name fleetops gave it → the name Docker shows, for each listed container renamed by
    hand whose own name is free (when it is not, the two are left as they are: nothing guessed)."""
    renamed: dict[str, str] = {}
    for name, container in sorted(listed.items()):
        own = own_name(fleet, container.labels)
        if own is not None and own != name and own not in listed and own not in renamed:
            renamed[own] = name
    return renamed


def foreign_state_dirs(inspected: Mapping[str, ContainerInspect], records: Mapping[str, object],
                       container_dir: Mapping[str, Path]) -> dict[str, Path]:
    """Container → the state dir whose runtime files it mounts, for each container that mounts none
    of this state dir's (``container_dir``: where this state dir keeps each one's files) and of
    which this state dir has no record (a state dir moved to another path keeps its records, and
    its containers are recreated onto the new path as drift)."""
    foreign: dict[str, Path] = {}
    for name, info in sorted(inspected.items()):
        if records.get(name) is not None or name not in container_dir:
            continue
        mine = container_dir[name].resolve()
        sources = [Path(bind.split(":", 1)[0]) for bind in info.settings.binds]
        if not sources or any(source.resolve().is_relative_to(mine) for source in sources):
            continue
        source = sources[0]  # <state>/runtime/<fleet>/<container>/etc
        foreign[name] = source.parents[3] if len(source.parents) > 3 and source.parents[2].name == "runtime" else source.parent
    return foreign


def refuse_foreign(fleet: str, foreign: Mapping[str, Path], state_dir: Path) -> None:
    """ApplyError naming the state dir that runs ``fleet`` when any of its containers is another's."""
    if not foreign:
        return
    others = sorted({str(p) for p in foreign.values()})
    raise ApplyError(
        f"fleet '{fleet}' already runs on this Docker engine from another state dir ({', '.join(others)}: containers "
        f"{', '.join(sorted(foreign))}), not from {state_dir}; plan and apply it with --state-dir {others[0]} "
        "(or FLEETOPS_STATE_DIR), or give this fleet another name")
