"""Run the FreqTrade check over a compiled fleet: group bots by image, pick a judge, locate findings.

Called by the CLI (validate, render), ``engine.offline`` (plan --against), ``engine.flow``
(plan, apply) and the watcher, after the specs validated and compiled. See the package
docstring for which FreqTrade judges and why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.check.loads import LoadRequest, load_problem, load_request, to_load
from engine.check.locate import locate
from engine.check.request import BotRequest, bot_request
from engine.check.runners import DockerDown, ImageJudge, Judgement, Loads, LocalJudge, Requests, Unavailable, cache_dir
from engine.compile.desired import DesiredFleet
from engine.compile.essence import BotEssence
from engine.errors import CheckError, FleetopsError, Problem, SpecError
from engine.spec.fleetspec import FleetSpec

__all__ = ["MODES", "CheckReport", "CheckSettings", "check_fleet", "require_accepted"]

MODES = ("auto", "image", "local", "off")
SETTING = "FLEETOPS_FREQTRADE_CHECK"
LOAD_SECONDS = "FLEETOPS_STRATEGY_LOAD_SECONDS"
"""How long one strategy may take to load (seconds; default 20): then it is stopped and named."""


def _ignore(_message: str) -> None:
    return None


@dataclass(frozen=True)
class CheckSettings:
    """Where the check may look: the state dir (its cache), the Docker engine, the environment
    (``FLEETOPS_FREQTRADE_CHECK``, ``FLEETOPS_FREQTRADE_PYTHON``), and where warnings go."""

    state_dir: Path | None = None
    docker_host: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    warn: Callable[[str], None] = _ignore
    docker_problem: str | None = None
    """Why the Docker address cannot be used (a malformed ``DOCKER_HOST``): the image's FreqTrade is
    then unavailable, as with no engine at all, and offline commands still run."""


@dataclass(frozen=True)
class CheckReport:
    problems: list[Problem]
    judges: list[dict[str, object]]
    """One row per image: ``{"image", "bots", "judge", "freqtrade"}``, or ``{"image", "bots", "skipped"}``."""

    def summary(self) -> str:
        """What judged, for the validate line ("FreqTrade 2026.9 (image x) accepts every bot's config"); empty when nothing was."""
        judged = sorted({f"{row['freqtrade']} ({row['judge']})" for row in self.judges if "judge" in row})
        if not judged:
            return ""
        checked, total = sum(int(str(r["bots"])) for r in self.judges if "judge" in r), sum(int(str(r["bots"])) for r in self.judges)
        whom = "every bot's config" if checked == total else f"the configs of the {checked} of {total} bots it checked"
        return f"FreqTrade {', '.join(judged)} accepts {whom}"


def check_fleet(spec: FleetSpec, desired: DesiredFleet, settings: CheckSettings, baseline: Mapping[str, BotEssence] | None = None
                ) -> CheckReport:
    """Every bot's rendered config judged by FreqTrade, and the strategies to load loaded by it
    (``engine.check.loads.to_load``: against ``baseline``, the bots' essences in the base the
    command plans against, only what changed; without, every bot's); findings located in the spec.

    Raises CheckError when ``FLEETOPS_FREQTRADE_CHECK`` is ``image`` or ``local`` and that judge
    cannot run, or the setting is not one of MODES; in ``auto`` a bot no judge could check is a
    warning (``settings.warn``), never silent.
    """
    mode = (settings.environ.get(SETTING) or "auto").strip().lower()
    if mode not in MODES:
        raise CheckError(f"{SETTING} must be one of {', '.join(MODES)} (it is {mode!r})")
    try:
        load_seconds = float(settings.environ.get(LOAD_SECONDS) or 20)
        if not 0 < load_seconds <= 600:
            raise ValueError(load_seconds)
    except ValueError:
        raise CheckError(f"{LOAD_SECONDS} must be a number of seconds above 0, at most 600 (it is {settings.environ[LOAD_SECONDS]!r})") from None
    if mode == "off":
        settings.warn(f"the FreqTrade check is off ({SETTING}=off): a config FreqTrade would refuse to start is not caught before apply")
        return CheckReport([], [])
    by_image: dict[str, list[str]] = {}
    for name, bot in sorted(desired.bots.items()):
        by_image.setdefault(desired.containers[bot.container].essence.image, []).append(name)
    judges = _Judges(settings, mode, load_seconds)
    loading = set(to_load(desired.bots, baseline))
    problems: list[Problem] = []
    rows: list[dict[str, object]] = []
    for image, names in sorted(by_image.items()):
        requests: dict[str, BotRequest] = {}
        loads: dict[str, LoadRequest] = {}

        def make_requests(names: list[str] = names, requests: dict[str, BotRequest] = requests) -> dict[str, BotRequest]:
            if not requests:
                requests.update({name: bot_request(desired, desired.bots[name]) for name in names})
            return requests

        def make_loads(names: list[str] = names, loads: dict[str, LoadRequest] = loads) -> dict[str, LoadRequest]:
            if not loads:
                loads.update({n: load_request(desired.bots[n], spec.pin_of(spec.bots[n]).siblings) for n in names if n in loading})
            first: dict[str, LoadRequest] = {}
            for request in loads.values():
                first.setdefault(request.digest, request)  # loaded with the first such bot's settings
            return first

        judgement, why = judges.judge(image, make_requests, make_loads)
        if judgement is None:
            text = f"the FreqTrade check of {len(names)} bot(s) on image {image} could not run: {', and '.join(why)}"
            if mode != "auto":
                raise CheckError(f"{text} ({SETTING}={mode})")
            settings.warn(f"{text}; it was skipped. To run it, make the image available to Docker or set FLEETOPS_FREQTRADE_PYTHON "
                          "to a Python that has freqtrade")
            rows.append({"image": image, "bots": len(names), "skipped": ", and ".join(why)})
            continue
        if why:
            settings.warn(f"the {len(names)} bot(s) on image {image} were checked with FreqTrade {judgement.version} from "
                          f"{judgement.judge}, not the image's own: {', and '.join(why)}")
        rows.append({"image": image, "bots": len(names), "judge": judgement.judge, "freqtrade": judgement.version})
        for bot_name, findings in sorted(judgement.findings.items()):
            problems += [locate(spec, bot_name, finding, judgement.version, requests[bot_name].strategy) for finding in findings]
        for bot_name, load in sorted(loads.items()):
            said = [str(f.get("message", "")).rstrip(".") for f in judgement.findings.get(bot_name, [])]
            problems += [load_problem(spec, bot_name, finding, judgement.version, judgement.judge) for finding in judgement.loads.get(load.digest, [])
                         if not any(str(finding.get("message", "")).startswith(s) for s in said if s)]  # said once, by the config check
    return CheckReport(problems, rows)


def require_accepted(spec: FleetSpec, desired: DesiredFleet, settings: CheckSettings, baseline: Mapping[str, BotEssence] | None = None
                     ) -> CheckReport:
    """check_fleet, raising SpecError with every finding when FreqTrade would refuse a bot or cannot load its strategy."""
    report = check_fleet(spec, desired, settings, baseline)
    if report.problems:
        raise SpecError(report.problems)
    return report


class _Judges:
    """The judges of one run: the image's FreqTrade through Docker, else a local one."""

    def __init__(self, settings: CheckSettings, mode: str, load_seconds: float) -> None:
        self.settings = settings
        self.mode = mode
        self.load_seconds = load_seconds
        self.docker_down: str | None = settings.docker_problem
        self.cache = cache_dir(settings.state_dir, settings.environ)
        self._image: ImageJudge | None = None
        self._local: LocalJudge | None = None

    def judge(self, image: str, requests: Requests, loads: Loads) -> tuple[Judgement | None, list[str]]:
        why: list[str] = []
        if self.mode in ("auto", "image"):
            if self.docker_down is not None:
                why.append(self.docker_down)
            else:
                try:
                    if self._image is None:
                        self._image = ImageJudge(self.settings.docker_host)
                    return self._image.judge(image, requests, self.cache, loads, self.load_seconds), why
                except (FleetopsError, DockerDown) as exc:
                    self.docker_down = str(exc)
                    why.append(self.docker_down)
                except Unavailable as exc:
                    why.append(str(exc))
        if self.mode in ("auto", "local"):
            if self._local is None:
                self._local = LocalJudge(self.settings.environ)
            try:
                return self._local.judge(requests, self.cache, loads, self.load_seconds), why
            except Unavailable as exc:
                why.append(str(exc))
        return None, why
