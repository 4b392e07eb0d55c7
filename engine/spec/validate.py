"""Raw documents → a validated ``FleetSpec``, or every problem at once.

Called by ``engine.spec.load``. Checks run in two passes: each document against its pydantic model
(``engine.spec``), then the invariants that relate documents (references, wallet allocation,
currencies, live-trading secrets, strategy pins). Nothing downstream runs unless both pass, so
nothing is ever rendered or applied from an invalid fleet.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from engine.errors import Problem, SpecError
from engine.spec.exchanges import SUPPORTED as EXCHANGE_URL_SUPPORT
from engine.spec.fleetspec import FleetSpec
from engine.spec.freqtrade_extras import check_freqtrade_extras
from engine.spec.models import KIND_MODELS, Bot, Fleet, FleetDefaults
from engine.spec.pins import PinError, resolve_pin
from engine.spec.rawdoc import Loc, RawDocument
from engine.spec.source import FleetSource

__all__ = ["validate_documents"]


def did_you_mean(value: str, known: list[str]) -> str:
    """A hint for a misspelt name, or the list of known names when nothing is close."""
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (known: {', '.join(sorted(known))})" if known else " (none are defined)"


def validate_documents(docs: list[RawDocument], problems: list[Problem], source: FleetSource, *, incomplete: bool = False) -> FleetSpec:
    """Check every document and every relation between them; raise SpecError listing all problems.

    ``incomplete``: some entries of the snapshot were refused unread (a link, a submodule), so
    the documents may lack ones they refer to — checks across documents would be false alarms.
    """
    models: dict[str, list[tuple[Any, RawDocument]]] = defaultdict(list)
    for doc in docs:
        model = _validate_one(doc, problems)
        if model is not None:
            models[doc.kind].append((model, doc))
    by_name = {kind: _unique(models[kind], problems) for kind in KIND_MODELS}
    fleets = list(by_name["Fleet"].values())
    unreadable = incomplete or any(p.message.startswith("YAML syntax error") for p in problems)
    if not any(doc.kind == "Fleet" for doc in docs) and not unreadable:
        problems.append(Problem("fleet", 1, 1, "no 'kind: Fleet' document found under fleet/ (exactly one is required)"))
    for extra_fleet, doc in models["Fleet"][1:]:
        problems.append(doc.problem(("kind",), f"a second Fleet document ('{extra_fleet.name}'); exactly one is allowed"))
    spec = FleetSpec(
        fleet=fleets[0][0] if fleets else Fleet(kind="Fleet", name="invalid"),
        wallets={n: m for n, (m, _) in sorted(by_name["Wallet"].items())},
        pools={n: m for n, (m, _) in sorted(by_name["Pool"].items())},
        bots={n: m for n, (m, _) in sorted(by_name["Bot"].items())},
        pins={},
        documents={(kind, n): d for kind in KIND_MODELS for n, (_, d) in by_name[kind].items()},
    )
    if not unreadable:  # with a file unread, every reference into it would be a false alarm
        _check_wallets(spec, problems)
        _check_bots(spec, problems)
    _resolve_pins(spec, source, problems)
    if problems:
        raise SpecError(problems)
    return spec


def _validate_one(doc: RawDocument, problems: list[Problem]) -> Any:
    kind = doc.data.get("kind")
    if kind is None:
        problems.append(doc.problem((), f"document has no 'kind' (one of {', '.join(KIND_MODELS)})"))
        return None
    if not isinstance(kind, str) or kind not in KIND_MODELS:
        shown = repr(kind) if isinstance(kind, str) else f"of type {type(kind).__name__}"
        problems.append(doc.problem(("kind",), f"unknown kind {shown}{did_you_mean(kind, list(KIND_MODELS)) if isinstance(kind, str) else ''}"
                                    + ("" if isinstance(kind, str) else f" (one of {', '.join(KIND_MODELS)})")))
        return None
    model = KIND_MODELS[kind]
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems.extend(_problem_from_pydantic(doc, model, error) for error in errors if tuple(error["loc"]) not in doc.reported)
    # Keep the fields that did validate, so relations are still checked and every problem of
    # the run is reported at once; the run fails anyway, so this partial model is never used.
    failed = {error["loc"][0] for error in errors if error["loc"]}
    if "name" in failed or "name" not in doc.data:
        return None
    return Partial(model.model_construct(**{k: v for k, v in doc.data.items() if k in model.model_fields and k not in failed}),
                   frozenset(k for k in doc.data if k in model.model_fields and k not in failed))


def _problem_from_pydantic(doc: RawDocument, model: type, error: Any) -> Problem:
    loc: Loc = tuple(error["loc"])
    what = f"{doc.kind} '{doc.name}'" if doc.name else doc.kind
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        hint = did_you_mean(str(loc[-1]), allowed) if allowed else ""
        return doc.problem(loc, f"unknown key '{_dotted(loc)}' in {what}{hint}", at_key=True)
    if error["type"] == "missing":
        return doc.problem(loc[:-1], f"{what} is missing required key '{_dotted(loc)}'")
    on_key = bool(loc) and loc[-1] == "[key]"
    if on_key:
        loc = loc[:-1]
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] != "value_error":
        message = message[0].lower() + message[1:]
        if not _is_sensitive(loc) and isinstance(error.get("input"), (str, int, float, bool)):
            message += f", got {error['input']!r}"
    return doc.problem(loc, f"{_dotted(loc)}: {message}", at_key=on_key)


def _is_sensitive(loc: Loc) -> bool:
    return bool(loc) and loc[0] in ("secrets", "freqtrade")


def _allowed_keys(model: type, loc: Loc) -> list[str]:
    """The keys the model accepts at ``loc`` (nested models followed through their annotations)."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        annotation = fields[part].annotation
        current = next((a for a in getattr(annotation, "__args__", (annotation,)) if hasattr(a, "model_fields")), None)
    return list(getattr(current, "model_fields", {}))


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unique(entries: list[tuple[Any, RawDocument]], problems: list[Problem]) -> dict[str, tuple[Any, RawDocument]]:
    seen: dict[str, tuple[Any, RawDocument]] = {}
    for model, doc in entries:
        if model.name in seen:
            first = seen[model.name][1]
            line, col = first.position(("name",))
            problems.append(
                doc.problem(("name",), f"duplicate {doc.kind} name '{model.name}' (first defined at {first.path}:{line}:{col})")
            )
            continue
        seen[model.name] = (model, doc)
    return seen


def _check_wallets(spec: FleetSpec, problems: list[Problem]) -> None:
    by_wallet: dict[str, list[Bot]] = defaultdict(list)
    for bot in spec.bots.values():
        if _complete(bot, "wallet", "allocation"):
            by_wallet[bot.wallet].append(bot)
    for name, wallet in spec.wallets.items():
        doc = spec.documents[("Wallet", name)]
        if not _complete(wallet, "balance", "reserve", "currency"):
            continue
        if wallet.reserve > wallet.balance:
            problems.append(doc.problem(("reserve",), f"wallet '{name}' reserve {wallet.reserve:g} exceeds its balance {wallet.balance:g}"))
            continue
        bots = by_wallet[name]
        total = sum(b.allocation for b in bots)
        if total > wallet.free + 1e-9:
            shares = ", ".join(f"{b.name} {b.allocation:g}" for b in sorted(bots, key=lambda b: (-b.allocation, b.name)))
            problems.append(
                doc.problem(
                    ("balance",),
                    f"wallet '{name}' is over-allocated: its bots take {total:g} {wallet.currency} but only "
                    f"{wallet.free:g} is free (balance {wallet.balance:g} - reserve {wallet.reserve:g}); shares: {shares}",
                )
            )


def _check_bots(spec: FleetSpec, problems: list[Problem]) -> None:
    for name, bot in spec.bots.items():
        doc = spec.documents[("Bot", name)]
        wallet = spec.wallets.get(bot.wallet) if _complete(bot, "wallet") else None
        if _complete(bot, "wallet") and wallet is None:
            problems.append(doc.problem(("wallet",), f"wallet '{bot.wallet}' is not defined{did_you_mean(bot.wallet, list(spec.wallets))}"))
        elif wallet is not None and _complete(bot, "pairs") and _complete(wallet, "currency"):
            for i, pair in enumerate(bot.pairs):
                quote = pair.split("/", 1)[1].split(":", 1)[0]
                if quote != wallet.currency:
                    problems.append(
                        doc.problem(("pairs", i), f"pair {pair} is quoted in {quote} but wallet '{wallet.name}' holds {wallet.currency}")
                    )
        exchange = bot.exchange or _defaults(spec).exchange
        if (getattr(bot, "exchange_url", None) or _defaults(spec).exchange_url) and exchange not in EXCHANGE_URL_SUPPORT:
            where = ("exchange_url",) if getattr(bot, "exchange_url", None) else ("exchange",)
            problems.append(doc.problem(where, f"bot '{name}' points exchange {exchange} at another URL (exchange_url), which "
                                        f"fleetops can do for {', '.join(sorted(EXCHANGE_URL_SUPPORT))} only"))
        _check_live_url(spec, name, bot, doc, problems)
        _check_live_ccxt_urls(name, bot, doc, problems)
        pool = getattr(bot, "pool", None)
        if pool is not None and pool not in spec.pools:
            problems.append(doc.problem(("pool",), f"pool '{pool}' is not defined{did_you_mean(pool, list(spec.pools))}"))
        if getattr(bot, "dry_run", True) is False:
            missing = [k for k in ("exchange_key", "exchange_secret") if k not in bot.secrets]
            if missing:
                problems.append(
                    doc.problem(("dry_run",), f"bot '{name}' trades live (dry_run: false) but has no {' / '.join('secrets.' + m for m in missing)}")
                )
        for loc, message, at_key in check_freqtrade_extras(getattr(bot, "freqtrade", {})):
            problems.append(doc.problem(("freqtrade", *loc), message, at_key=at_key))


def _defaults(spec: FleetSpec) -> FleetDefaults:
    """The Fleet's defaults, also when another of its fields failed: a Partial keeps its valid
    fields unparsed (``model_construct``), and a bad ``health`` must not make ``defaults`` a dict."""
    defaults = spec.fleet.defaults
    return defaults if isinstance(defaults, FleetDefaults) else FleetDefaults.model_validate(defaults)


def _check_live_url(spec: FleetSpec, name: str, bot: Bot, doc: RawDocument, problems: list[Problem]) -> None:
    """A live bot signs every private request with its API key: over plain http, whoever sits on
    the path reads the key and can replay or alter orders. Dry-run bots (a sandbox, the local
    market of the tests) may use http; live ones only https."""
    if getattr(bot, "dry_run", True) is not False or ("exchange_url" in doc.data and not _complete(bot, "exchange_url")):
        return
    own = getattr(bot, "exchange_url", None)
    url = own or _defaults(spec).exchange_url
    if url is None or not url.lower().startswith("http://"):
        return
    whose = "its exchange_url" if own else "the fleet's defaults.exchange_url"
    problems.append(doc.problem(("exchange_url",) if own else ("dry_run",),
                                f"bot '{name}' trades live (dry_run: false) but {whose} {url} is plain http: its signed "
                                "requests and API key would cross the network unencrypted; use an https:// URL"))


_TUNNELLING_PROXIES = frozenset({"httpproxy", "http_proxy", "httpsproxy", "https_proxy", "aiohttp_proxy", "socksproxy", "socks_proxy",
                                 "wsproxy", "ws_proxy", "wssproxy", "wss_proxy", "wssocksproxy", "ws_socks_proxy"})
"""ccxt options naming a proxy that requests reach through a tunnel (HTTP CONNECT, SOCKS): TLS runs end to end
to the exchange, so the proxy's own address may be http://. Any other URL option (``proxyUrl``, the legacy
``proxy``) prefixes the request's URL: the whole request, signed, goes to that address as written."""


def _check_live_ccxt_urls(name: str, bot: Bot, doc: RawDocument, problems: list[Problem]) -> None:
    """The plain-http rule of ``exchange_url`` for the URLs in a live bot's ccxt options."""
    if not _complete(bot, "freqtrade") or not isinstance(getattr(bot, "freqtrade", None), dict):
        return
    exchange = bot.freqtrade.get("exchange")
    if getattr(bot, "dry_run", True) is not False or not isinstance(exchange, dict):
        return
    for block in ("ccxt_config", "ccxt_async_config", "ccxt_sync_config"):
        for loc, value in _strings(exchange.get(block), ()):
            if value.strip().lower().startswith("http://") and str(loc[-1]).lower() not in _TUNNELLING_PROXIES:
                problems.append(doc.problem(("freqtrade", "exchange", block, *loc),
                                            f"bot '{name}' trades live (dry_run: false) but freqtrade.exchange.{block}."
                                            f"{'.'.join(map(str, loc))} sends its requests to {value.strip()}, plain http: its signed "
                                            "requests and API key would cross the network unencrypted; use an https:// URL"))


def _strings(value: Any, loc: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    if isinstance(value, dict):
        return [found for key, sub in value.items() for found in _strings(sub, (*loc, key))]
    if isinstance(value, list):
        return [found for i, sub in enumerate(value) for found in _strings(sub, (*loc, i))]
    return [(loc, value)] if isinstance(value, str) and loc else []


@dataclass(frozen=True)
class Partial:
    """A document that failed validation, with the fields that did validate: enough to check the
    relations those fields take part in, so one bad field does not hide every other problem. The
    run fails anyway (there is a problem), so a Partial is never compiled."""

    model: Any
    valid: frozenset[str]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def _complete(model: Any, *names: str) -> bool:
    """Whether a (possibly partial) model has valid values for all ``names``."""
    return not isinstance(model, Partial) or all(name in model.valid for name in names)


def _resolve_pins(spec: FleetSpec, source: FleetSource, problems: list[Problem]) -> None:
    users: dict[str, list[Bot]] = defaultdict(list)
    for bot in spec.bots.values():
        if _complete(bot, "strategy"):
            users[bot.strategy].append(bot)
    for pin, bots in sorted(users.items()):
        try:
            spec.pins[pin] = resolve_pin(source, bots[0].strategy_class, bots[0].strategy_ref)
        except PinError as exc:
            for bot in bots:
                problems.append(spec.documents[("Bot", bot.name)].problem(("strategy",), str(exc)))
