"""Can each image run what fleetops renders? Checked before anything changes, answered once per image ID.

Called by the live plan (so ``plan``, ``apply``, rollback and the watcher all ask). A pool image
needs supervisord on its PATH and the user the bots run as in its /etc/passwd (supervisord's
``user=`` refuses a uid it cannot look up: "Invalid user id 1000 in section 'program:…'", and
every pool container would restart in a loop); every image needs each bot command's executable
(and a preloaded pool's ``python3``); a user *name* must exist for dedicated containers too
(Docker resolves it; a numeric ``uid:gid`` needs no entry). A missing piece is one line naming
the image, the pools or bots that use it and what to change, before any container is touched.

The image's files are read through the Docker adapter without running anything of it
(``Backend.image_facts``; for Docker: a container created and never started, Docker's archive API), so a
distroless image without a shell is judged the same. The answer is cached under
``<state>/images/<image id>.json``: an image ID names its content, so it never goes stale. Read-only
commands write the cache only into a state dir that already exists.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.backend.port import Backend, ImageFacts
from engine.compile.desired import DesiredFleet
from engine.errors import ApplyError
from engine.naming import PRELOAD_PROGRAM

__all__ = ["ImageNeeds", "check_images", "image_needs"]

SUPERVISORD = "supervisord"
CACHE_DIR = "images"


@dataclass
class ImageNeeds:
    """What one image must hold, and who needs it (for the message)."""

    executables: dict[str, set[str]] = field(default_factory=dict)
    """Executable → the pools or bots that run it."""
    users: dict[int | str, set[str]] = field(default_factory=dict)
    """User (uid or name) that must be in /etc/passwd → the pools or bots that run as it."""


def image_needs(fleet: DesiredFleet) -> dict[str, ImageNeeds]:
    """Image → what its containers run: supervisord and a known user for pools, each bot's executable."""
    needs: dict[str, ImageNeeds] = {}
    for container in fleet.containers.values():
        need = needs.setdefault(container.essence.image, ImageNeeds())
        who = f"pool {container.pool}" if container.pool else f"bot {container.bots[0] if container.bots else container.name}"
        if container.pool is not None:
            need.executables.setdefault(SUPERVISORD, set()).add(who)
            need.users.setdefault(container.essence.run_as, set()).add(who)
        elif isinstance(container.essence.run_as, str):
            need.users.setdefault(container.essence.run_as, set()).add(who)
        for bot in container.bots:
            command = fleet.bots[bot].essence.command
            words = [command[0]] if command else []
            if container.essence.preload and "--" in command and command.index("--") + 1 < len(command):  # the launcher, then the bot's own
                words.append(command[command.index("--") + 1])
            for word in words:
                need.executables.setdefault(word, set()).add(who)
        if container.essence.preload:
            need.executables.setdefault("python3", set()).add(f"pool {container.pool} ({PRELOAD_PROGRAM})")
    return needs


def check_images(backend: Backend, state_dir: Path, fleet: DesiredFleet) -> dict[tuple[str, str], int]:
    """Raise ApplyError naming what an image lacks; return (image, user name) → uid for the names used.

    An image that is not on the engine is skipped here: apply refuses it before touching Docker
    ("build or pull it first"), and a plan made before the build must still show.
    """
    problems: list[str] = []
    uids: dict[tuple[str, str], int] = {}
    for image, need in sorted(image_needs(fleet).items()):
        facts = _facts(backend, state_dir, image, need.executables)
        if facts is None:
            continue
        missing = [f"no {name} on its PATH (for {_who(who)})" for name, who in sorted(need.executables.items()) if not facts.found.get(name)]
        for user, who in sorted(need.users.items(), key=lambda item: str(item[0])):
            known = facts.users.get(user) if isinstance(user, str) else (user if user in facts.users.values() else None)
            if known is None:
                shown = f"user {user!r}" if isinstance(user, str) else f"user with uid {user}"
                missing.append(f"no {shown} in /etc/passwd (for {_who(who)}: set run_as to a user the image has, or add it to the image)")
            elif isinstance(user, str):
                uids[(image, user)] = known
        if missing:
            problems.append(f"image {image} cannot run what fleetops renders: " + "; ".join(missing))
    if problems:
        raise ApplyError(" | ".join(problems))
    return uids


def _who(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def _facts(backend: Backend, state_dir: Path, image: str, executables: dict[str, set[str]]) -> ImageFacts | None:
    """The image's facts from the cache, reading the image only for what the cache does not hold."""
    image_id = backend.image_id(image)
    if image_id is None:
        return None
    path = state_dir / CACHE_DIR / (image_id.removeprefix("sha256:")[:64] + ".json")
    cached = _read_cache(path, image_id)
    asked = tuple(sorted(set(executables) - set(cached.found))) if cached is not None else tuple(sorted(executables))
    if cached is not None and not asked:
        return cached
    fresh = backend.image_facts(image, asked)
    facts = ImageFacts(image_id, fresh.users, {**(cached.found if cached is not None else {}), **fresh.found})
    if state_dir.is_dir():  # never create a state dir (plan is read-only until something was applied)
        path.parent.mkdir(exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"id": facts.id, "users": facts.users, "found": facts.found}, sort_keys=True))
        os.replace(partial, path)
    return facts


def _read_cache(path: Path, image_id: str) -> ImageFacts | None:
    try:
        data = json.loads(path.read_text())
        if data["id"] != image_id:
            return None
        users = {str(k): int(v) for k, v in data["users"].items()}
        found = {str(k): (str(v) if v is not None else None) for k, v in data["found"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return ImageFacts(image_id, users, found)
