"""``fleetops adopt``: an existing compose FreqTrade setup → a new fleet repository, and the takeovers
the first apply does.

Called by the CLI. Reading comes first and writes nothing (``read_setup``: every problem of every
service at once, located at file:line:col); then ``write_fleet`` builds the repository in a
scratch directory beside the target, commits and tags the strategies, validates it as every
fleetops command will read it, and only then moves it into place: an error leaves nothing behind.

The fleet it writes: one Wallet per stake currency (its balance the sum of its bots' dry-run
wallets, no reserve), one Pool ``adopted`` holding every bot (supervisord in the fleet's image),
one Bot per compose service running ``freqtrade trade``, and each strategy version copied to
``strategies/<Class>.py``, committed and tagged ``adopted-v1``, ``adopted-v2``… (the n-th tag holds
the n-th distinct version of every class), each bot pinned to the tag of its version.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from engine.adopt.bots import AdoptedBot, SecretNeed, adopt_service, bot_name
from engine.adopt.compose import ComposeFile, read_compose
from engine.backend.port import ForeignContainer
from engine.errors import Problem, SourceError, SpecError
from engine.live.takeover import Takeover

__all__ = ["Adoption", "read_setup", "takeovers_for", "write_fleet"]

POOL = "adopted"
TAG = "adopted-v{}"
DEFAULT_IMAGE = "fleetops/freqtrade:2026.9"
MEMORY_PER_BOT_MB = 768
"""A trade-mode bot's resident memory is 300–600 MB (FREQTRADE.md); the pool's limit leaves headroom."""


@dataclass
class Adoption:
    fleet: str
    compose: ComposeFile
    bots: list[AdoptedBot]
    notes: list[Problem] = field(default_factory=list)
    pins: dict[str, str] = field(default_factory=dict)
    """Bot → its strategy pin (``Class@adopted-vN``), set by ``write_fleet``."""

    @property
    def secrets(self) -> list[SecretNeed]:
        return [need for bot in self.bots for need in bot.secrets]


def read_setup(compose_file: Path, shown: str, fleet: str | None = None) -> Adoption:
    """Read the compose setup and every bot's config and strategy; SpecError with every problem."""
    compose, problems = read_compose(compose_file, shown)
    if compose is None:
        raise SpecError(problems)
    name = fleet or bot_name(compose.project)
    if name is None:
        raise SpecError([Problem(shown, 1, 1, f"the compose project name {compose.project!r} cannot be a fleet name; pass --name")])
    bots, notes = [], []
    for service in compose.services:
        if service.command is None:
            line, col = service.position
            notes.append(Problem(shown, line, col, f"service '{service.name}' does not run 'freqtrade trade'; it is not a bot and "
                                 "is left as it is", "warning"))
            continue
        notes.extend(Problem(shown, *service.position, note, "warning") for note in service.notes)
        bot, found = adopt_service(service, shown, compose.directory)
        problems.extend(found)
        if bot is not None:
            bots.append(bot)
            notes.extend(bot.notes)
    seen: dict[str, str] = {}
    for bot in bots:
        if bot.name in seen:
            service = next(s for s in compose.services if s.name == bot.service)
            problems.append(Problem(shown, *service.position, f"services '{seen[bot.name]}' and '{bot.service}' both become bot "
                                    f"'{bot.name}'; rename one"))
        seen[bot.name] = bot.service
    if not bots and not problems:
        problems.append(Problem(shown, 1, 1, "no service runs 'freqtrade trade'; nothing to adopt"))
    if problems:
        raise SpecError(problems)
    return Adoption(name, compose, bots, notes)


def _yaml_text(documents: list[CommentedMap], header: str) -> str:
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 120
    out = io.StringIO()
    out.write(header)
    yaml.dump_all(documents, out)
    return out.getvalue()


def _flow(value: Any) -> Any:
    if isinstance(value, list):
        seq = CommentedSeq(value)
        seq.fa.set_flow_style()
        return seq
    if isinstance(value, dict):
        mapping = CommentedMap(value)
        mapping.fa.set_flow_style()
        return mapping
    return value


def _versions(bots: list[AdoptedBot]) -> list[dict[str, bytes]]:
    """Commit n's strategy files (class → text): each class's n-th distinct version."""
    by_class: dict[str, list[bytes]] = {}
    for bot in bots:
        texts = by_class.setdefault(bot.strategy_class, [])
        if bot.strategy_text not in texts:
            texts.append(bot.strategy_text)
    depth = max(len(v) for v in by_class.values())
    return [{cls: texts[n] for cls, texts in by_class.items() if n < len(texts)} for n in range(depth)]


def _documents(adoption: Adoption, image: str) -> dict[str, str]:
    source = adoption.compose.path
    fleet = CommentedMap([("kind", "Fleet"), ("name", adoption.fleet),
                          ("defaults", CommentedMap([("image", image), ("exchange", adoption.bots[0].spec["exchange"])])),
                          ("health", CommentedMap([("timeout_seconds", 180)]))])
    totals: dict[str, float] = {}
    for bot in adoption.bots:
        totals[bot.currency] = totals.get(bot.currency, 0.0) + bot.allocation
    wallets = [CommentedMap([("kind", "Wallet"), ("name", _wallet(c)), ("currency", c), ("balance", _number(total)), ("reserve", 0)])
               for c, total in sorted(totals.items())]
    pool = CommentedMap([("kind", "Pool"), ("name", POOL), ("capacity", max(len(adoption.bots), 1)),
                         ("memory", f"{MEMORY_PER_BOT_MB * len(adoption.bots)}m")])
    bots = []
    for bot in adoption.bots:
        spec = dict(bot.spec)
        ordered = CommentedMap([("kind", "Bot"), ("name", bot.name), ("wallet", _wallet(bot.currency)), ("allocation", _number(bot.allocation)),
                                ("pool", POOL), ("strategy", adoption.pins[bot.name])])
        for key in ("exchange", "exchange_url", "pairs", "timeframe", "max_open_trades", "stake_amount", "stoploss", "minimal_roi",
                    "trailing_stop", "order_types", "entry_pricing", "exit_pricing", "dry_run", "secrets", "freqtrade"):
            if key in spec:
                ordered[key] = _flow(spec[key]) if key in ("pairs", "minimal_roi") else spec[key]
        ordered.yaml_set_start_comment(f"adopted from {source}, service '{bot.service}'")
        bots.append(ordered)
    header = f"# Written by `fleetops adopt` from {source}.\n"
    wallet_note = ("# Each balance is the sum of its bots' dry_run_wallet, so the plan rates the wallet 100 % allocated (high risk):\n"
                   "# set the capital the wallet really has (and a reserve).\n")
    return {"fleet/fleet.yaml": _yaml_text([fleet], header), "fleet/wallets.yaml": _yaml_text(wallets, header + wallet_note),
            "fleet/pools.yaml": _yaml_text([pool], header), "fleet/bots.yaml": _yaml_text(bots, header)}


def _number(value: float) -> float | int:
    """1000.0 written as 1000: the spec reads the same number, a reviewer reads what the config had."""
    return int(value) if float(value).is_integer() else value


def _wallet(currency: str) -> str:
    name = currency.lower()
    return name if name[:1].isalpha() else f"w-{name}"


def write_fleet(adoption: Adoption, into: Path, *, image: str = DEFAULT_IMAGE, when: str | None = None) -> list[str]:
    """Create the fleet repository ``into`` (must not exist or be empty); returns the files written.
    Raises SourceError for a target in the way, SpecError when the written fleet would not load."""
    from engine.demo_repo import GITIGNORE, commit_all
    from engine.spec.gitenv import forget_repository_variables
    from engine.spec.load import load_fleet

    if into.exists() and (not into.is_dir() or any(into.iterdir())):
        raise SourceError(f"{into} exists and is not empty; adopt writes a new fleet repository: choose a new directory")
    into.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{into.name}.adopt-", dir=into.parent))
    try:
        import git

        forget_repository_variables()
        repo = git.Repo.init(scratch, initial_branch="main")
        (scratch / ".gitignore").write_text(GITIGNORE)
        strategies = scratch / "strategies"
        strategies.mkdir()
        tags: dict[tuple[str, str], str] = {}
        for n, version in enumerate(_versions(adoption.bots), start=1):
            for cls, text in version.items():
                (strategies / f"{cls}.py").write_bytes(text)
                tags[(cls, hashlib.sha256(text).hexdigest())] = TAG.format(n)
            commit_all(repo, f"Strategies as adopted ({TAG.format(n)})", when=when, tag=TAG.format(n))
        adoption.pins = {bot.name: f"{bot.strategy_class}@{tags[(bot.strategy_class, hashlib.sha256(bot.strategy_text).hexdigest())]}"
                         for bot in adoption.bots}
        files = _documents(adoption, image)
        for path, document in files.items():
            (scratch / path).parent.mkdir(parents=True, exist_ok=True)
            (scratch / path).write_text(document)
        commit_all(repo, f"Fleet '{adoption.fleet}' adopted from {adoption.compose.path}", when=when)
        try:
            load_fleet(scratch, "HEAD")  # what every command will read: a fleet that would not load is not written
        except SpecError as exc:
            raise SpecError([dataclasses.replace(p, message=f"{p.message} (in the fleet adopt would write; nothing was written)")
                             for p in exc.problems]) from None
        repo.close()
        if into.exists():
            into.rmdir()
        scratch.rename(into)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return [".gitignore", *sorted(files), *sorted(f"strategies/{cls}.py" for cls in {b.strategy_class for b in adoption.bots})]


def takeovers_for(adoption: Adoption, find: Callable[[str, str], ForeignContainer | None]) -> tuple[list[Takeover], list[str]]:
    """The takeover of each adopted bot whose compose container ``find(project, service)`` returns,
    and a sentence for each bot without one (it starts fresh: nothing runs to take over)."""
    takeovers, missing = [], []
    for bot in adoption.bots:
        old = find(adoption.compose.project, bot.service)
        if old is None:
            missing.append(f"{bot.name}: no container of compose service '{bot.service}' (project {adoption.compose.project}) was "
                           "found; it starts with a new trade database")
            continue
        dry_run = bool(bot.spec.get("dry_run", True))
        takeovers.append(Takeover(bot.name, old.id, old.name, f"{adoption.compose.project}/{bot.service}", bot.database,
                                  "tradesv3.dryrun.sqlite" if dry_run else "tradesv3.sqlite"))
    return takeovers, missing


def labels_match(labels: Mapping[str, str], project: str, service: str) -> bool:
    """Whether a container's labels are Compose's for ``project``'s ``service``."""
    return labels.get("com.docker.compose.project") == project and labels.get("com.docker.compose.service") == service
