"""One compose service's FreqTrade bot → a fleetops Bot document, its strategy and its secrets.

Called by ``engine.adopt.setup`` for each service that runs ``freqtrade trade``, on its config as
FreqTrade would hold it (``engine.adopt.sources``: files, FREQTRADE__ variables, command line).

Every key of the merged config ends in exactly one place, so nothing is dropped silently:
- a Bot spec key (``SET_BY_SPEC`` of ``engine.spec.managed``: pairs, stake, stoploss, ROI, trailing
  stop, order types, pricing, timeframe, exchange; ccxt's ``urls`` become ``exchange_url``);
- a ``secrets:`` reference (``env:<BOT>_<SECRET>``, or the variable a ``${VAR}`` in the compose
  file named): the value itself is never written anywhere, the user is told what to provide;
- the bot's ``freqtrade:`` block, for FreqTrade settings the spec has no key for;
- a warning that names the key and why fleetops sets it itself (paths, the API server, internals);
- an error, when carrying the bot would change how it trades (a dynamic pairlist without pairs,
  ccxt URLs that cannot be one ``exchange_url``, a missing strategy).
Settings the config leaves to the strategy (timeframe, stoploss, ROI, trailing stop) are read
from the strategy file's literal class attributes, because fleetops always renders them into the
config and the bot must keep trading the way it did.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.adopt.compose import FREQTRADE_WORKDIR, VARIABLE, Service
from engine.adopt.sources import ConfigSources, load_configs, shown_path
from engine.compile.strategy_settings import NotLiteral, declared_attributes
from engine.errors import Problem
from engine.spec.exchanges import SUPPORTED
from engine.spec.fields import SECRET_TARGETS
from engine.spec.managed import FLEETOPS_OWN
from engine.spec.models import Bot, EntryPricing, ExitPricing, OrderTypes

__all__ = ["AdoptedBot", "SecretNeed", "adopt_service", "bot_name"]

_SECRET_AT = {where: name for name, where in SECRET_TARGETS.items()} | {("exchange", "api_key"): "exchange_key"}
_REPORTED_OWN = {**FLEETOPS_OWN, "bot_name": "the bot is named by its spec (the compose service's name)",
                 "initial_state": "fleetops starts every enabled bot running (enabled: false stops it)",
                 "$schema": "an editor hint, not a setting", "pairlists": "", "api_server": FLEETOPS_OWN["api_server"]}
_SPEC_BLOCKS: dict[str, frozenset[str]] = {key: frozenset(model.model_fields) for key, model in
                                           (("order_types", OrderTypes), ("entry_pricing", EntryPricing), ("exit_pricing", ExitPricing))}


@dataclass(frozen=True)
class SecretNeed:
    """A credential the adopted bot needs: where fleetops will read it, and where it was."""

    bot: str
    secret: str
    reference: str
    was: str


@dataclass
class AdoptedBot:
    name: str
    service: str
    spec: dict[str, Any]
    """The Bot document (``strategy`` is the class alone: ``engine.adopt.setup`` adds the pin)."""
    currency: str
    allocation: float
    strategy_class: str
    strategy_text: bytes
    strategy_shown: str
    database: str
    """The trade database's path inside the old container (``db_url``, made absolute)."""
    secrets: list[SecretNeed] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)


def bot_name(service: str) -> str | None:
    """The fleetops name for a compose service (``Bot_1`` → ``bot-1``); None when none can be made."""
    name = re.sub(r"[^a-z0-9-]+", "-", service.lower().replace("_", "-")).strip("-")
    name = re.sub(r"-{2,}", "-", name)[:40].rstrip("-")
    return name if re.fullmatch(r"[a-z][a-z0-9-]{0,39}", name) else None


def adopt_service(service: Service, compose_path: str, shown_root: Path) -> tuple[AdoptedBot | None, list[Problem]]:
    """The bot ``service`` runs as a Bot document with its strategy and needs, or None and its problems."""
    name = bot_name(service.name)
    if name is None:
        line, col = service.position
        return None, [Problem(compose_path, line, col, f"service '{service.name}' cannot be made a bot name (lowercase letters, digits "
                              "and '-', starting with a letter); rename the service")]
    sources, problems = load_configs(service, compose_path, shown_root)
    if problems:
        return None, problems
    return _Converter(name, service, sources, shown_root).run()


class _Converter:
    def __init__(self, name: str, service: Service, sources: ConfigSources, shown_root: Path) -> None:
        self.name, self.service, self.sources, self.root = name, service, sources, shown_root
        self.rest = copy.deepcopy(sources.data)
        self.problems: list[Problem] = []
        self.notes: list[Problem] = []
        self.spec: dict[str, Any] = {"kind": "Bot", "name": name}
        self.origin: dict[str, tuple[str | int, ...]] = {}
        self.secrets: list[SecretNeed] = []

    def error(self, loc: tuple[str | int, ...], message: str) -> None:
        self.problems.append(self.sources.problem(loc, f"bot '{self.name}': {message}"))

    def note(self, loc: tuple[str | int, ...], message: str) -> None:
        self.notes.append(self.sources.problem(loc, f"bot '{self.name}': {message}", "warning"))

    def take(self, *path: str) -> Any:
        node: Any = self.rest
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        return node.pop(path[-1], None) if isinstance(node, dict) else None

    def put(self, key: str, value: Any, loc: tuple[str | int, ...]) -> None:
        self.spec[key] = value
        self.origin[key] = loc

    def run(self) -> tuple[AdoptedBot | None, list[Problem]]:
        dry_run = self.take("dry_run")
        if not isinstance(dry_run, bool):
            self.error(("dry_run",), "dry_run must be set to true or false (FreqTrade refuses a config without it)")
        currency = self.take("stake_currency")
        if not isinstance(currency, str) or not currency:
            self.error(("stake_currency",), "stake_currency is not set")
            currency = ""
        allocation = self._allocation(currency, dry_run)
        strategy = self._strategy()
        self._exchange()
        self._money(strategy)
        self._secrets()
        self._rest()
        self.spec["dry_run"] = dry_run if isinstance(dry_run, bool) else True
        if self.problems:
            return None, self.problems
        self._validate()
        if self.problems or strategy is None:
            return None, self.problems
        cls, text, shown = strategy
        database = self._database(bool(dry_run))
        if self.problems:
            return None, self.problems
        return AdoptedBot(self.name, self.service.name, self.spec, currency, allocation, cls, text, shown, database,
                          self.secrets, self.notes), []

    def _allocation(self, currency: str, dry_run: Any) -> float:
        wallet = self.take("dry_run_wallet")
        if isinstance(wallet, dict):
            rest = {k: v for k, v in wallet.items() if k != currency}
            if rest:
                self.note(("dry_run_wallet",), f"dry_run_wallet also holds {', '.join(sorted(rest))}; only the {currency} "
                          "balance becomes the bot's allocation")
            wallet = wallet.get(currency)
        if wallet is None:
            wallet = 1000.0  # FreqTrade's default dry_run_wallet
        if isinstance(wallet, bool) or not isinstance(wallet, (int, float)) or wallet <= 0:
            self.error(("dry_run_wallet",), f"dry_run_wallet must be a positive number of {currency}")
            return 0.0
        if dry_run is False:
            self.note(("dry_run",), f"trades live: its allocation is taken from dry_run_wallet ({wallet:g} {currency}); "
                      "set it to the capital the bot may use")
        self.spec["allocation"] = float(wallet)
        self.origin["allocation"] = ("dry_run_wallet",)
        return float(wallet)

    def _strategy(self) -> tuple[str, bytes, str] | None:
        cls = self.take("strategy")
        if not isinstance(cls, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,79}", cls):
            self.error(("strategy",), "names no strategy class (--strategy or the config's strategy)")
            return None
        service = self.service
        userdir = self.take("user_data_dir")
        userdir = userdir if isinstance(userdir, str) else "user_data"
        searched = []
        path = self.take("strategy_path")
        for directory in ([path] if isinstance(path, str) else []) + [f"{userdir.rstrip('/')}/strategies"]:
            host = service.host_path(directory)
            searched.append(service.container_path(directory))
            if host is None or not host.is_dir():
                continue
            for file in sorted(host.glob("*.py")):
                try:
                    text = file.read_bytes()
                except OSError:
                    continue
                if f"class {cls}(".encode() in text:  # FreqTrade's resolver looks for exactly this text
                    return cls, text, shown_path(file, self.root)
        self.error(("strategy",), f"strategy {cls} is in no file adopt can read (searched {', '.join(searched)} "
                   f"through the service's bind mounts)")
        return None

    def _exchange(self) -> None:
        exchange = self.rest.get("exchange")
        if not isinstance(exchange, dict) or not isinstance(exchange.get("name"), str):
            self.error(("exchange", "name"), "exchange.name is not set")
            return
        self.put("exchange", self.take("exchange", "name"), ("exchange", "name"))
        pairs = self.take("exchange", "pair_whitelist")
        blacklist = self.take("exchange", "pair_blacklist")
        pairlists = self.take("pairlists")
        methods = [p.get("method") for p in pairlists if isinstance(p, dict)] if isinstance(pairlists, list) else []
        if methods and methods != ["StaticPairList"]:
            if not pairs:
                self.error(("pairlists",), f"picks its pairs with {', '.join(map(str, methods))} and lists none in pair_whitelist; "
                           "fleetops bots trade a fixed list: write the pairs into exchange.pair_whitelist")
            else:
                self.note(("pairlists",), f"pairlists {', '.join(map(str, methods))} are not carried: the bot trades exactly its "
                          "pair_whitelist under fleetops")
        if blacklist:
            self.note(("exchange", "pair_blacklist"), "pair_blacklist is not carried: the bot trades exactly its pairs")
        if pairs is not None:
            self.put("pairs", pairs, ("exchange", "pair_whitelist"))
        elif not methods or methods == ["StaticPairList"]:
            self.error(("exchange",), "exchange.pair_whitelist is not set")
        self._exchange_url(self.spec["exchange"])

    def _exchange_url(self, exchange: str) -> None:
        ccxt = self.rest.get("exchange", {}).get("ccxt_config")
        urls = ccxt.get("urls") if isinstance(ccxt, dict) else None
        if urls is None:
            return
        api = urls.get("api") if isinstance(urls, dict) and set(urls) == {"api"} else None
        bases = {m.group(0) for u in api.values() if isinstance(u, str) and (m := re.match(r"https?://[^/]+", u))} \
            if isinstance(api, dict) else set()
        if exchange not in SUPPORTED or len(bases) != 1 or not all(isinstance(u, str) for u in api.values()):  # type: ignore[union-attr]
            self.error(("exchange", "ccxt_config", "urls"), "exchange.ccxt_config.urls sends the bot somewhere fleetops cannot "
                       f"express: exchange_url points every API of {', '.join(SUPPORTED)} at one base URL; adopt this bot once it "
                       "trades on the exchange's own endpoints, or point all its URLs at one base")
            return
        self.put("exchange_url", bases.pop(), ("exchange", "ccxt_config", "urls"))
        del ccxt["urls"]
        options = ccxt.get("options")
        if isinstance(options, dict) and "fetchMarkets" in options:
            del options["fetchMarkets"]  # exchange_url renders spot-only market loading itself
            if not options:
                del ccxt["options"]
        if not ccxt:
            del self.rest["exchange"]["ccxt_config"]
        if self.rest["exchange"].get("enable_ws") is False:
            del self.rest["exchange"]["enable_ws"]  # exchange_url renders it off

    def _money(self, strategy: tuple[str, bytes, str] | None) -> None:
        declared: dict[str, Any] = {}
        if strategy is not None:
            try:
                declared = declared_attributes(strategy[1].decode("utf-8", "replace"), strategy[0])
            except SyntaxError:
                declared = {}

        def setting(key: str) -> tuple[Any, tuple[str | int, ...]] | None:
            value = self.take(key)
            if value is not None:
                return value, (key,)
            value = declared.get(key)
            return (value, ("strategy",)) if value is not None and not isinstance(value, NotLiteral) else None

        for key in ("stake_amount", "max_open_trades"):
            value = self.take(key)
            if value is None:  # max_open_trades: the spec's default (3) could differ from what the bot did
                self.error((key,), f"{key} is not set in its config; write it there (fleetops renders it for every bot)")
            else:
                self.put(key, value, (key,))
        for key in ("timeframe", "stoploss", "minimal_roi"):
            found = setting(key)
            if found is None:
                if key != "timeframe":
                    self.error((key,), f"{key} is set neither in its config nor as a literal in strategy {strategy[0] if strategy else '?'}; "
                               "write it into the config")
                else:
                    self.error((key,), "timeframe is set neither in its config nor as a literal in its strategy")
                continue
            value, loc = found
            if key == "minimal_roi" and isinstance(value, dict):
                value = {str(k): v for k, v in value.items()}
            self.put(key, value, loc)
        trailing = {k: setting(k) for k in ("trailing_stop", "trailing_stop_positive", "trailing_stop_positive_offset",
                                            "trailing_only_offset_is_reached")}
        if any(v is not None for v in trailing.values()):
            block = {"enabled": trailing["trailing_stop"][0] if trailing["trailing_stop"] else False}
            if trailing["trailing_stop_positive"] is not None:
                block["positive"] = trailing["trailing_stop_positive"][0]
            if trailing["trailing_stop_positive_offset"] is not None and trailing["trailing_stop_positive_offset"][0]:
                block["offset"] = trailing["trailing_stop_positive_offset"][0]
            if trailing["trailing_only_offset_is_reached"] is not None:
                block["only_offset_is_reached"] = trailing["trailing_only_offset_is_reached"][0]
            self.put("trailing_stop", block, next(v[1] for v in trailing.values() if v is not None))
        for key, fields in _SPEC_BLOCKS.items():
            value = self.take(key)
            if not isinstance(value, dict):
                if value is not None:
                    self.error((key,), f"{key} must be a mapping")
                continue
            known = {k: v for k, v in value.items() if k in fields}
            for unknown in sorted(set(value) - set(known)):
                self.note((key, unknown), f"{key}.{unknown} has no place in fleetops' {key} and is not carried")
            if known:
                self.put(key, known, (key,))

    def _secrets(self) -> None:
        for (section, key), secret in sorted(_SECRET_AT.items()):
            block = self.rest.get(section)
            if not isinstance(block, dict) or key not in block:
                continue
            value = block.pop(key)
            if value in ("", None, 0) or isinstance(value, bool):
                continue
            match = VARIABLE.fullmatch(value) if isinstance(value, str) else None
            variable = match.group(1) if match else f"{self.name.upper().replace('-', '_')}_{secret.upper()}"
            if variable.upper().startswith("FLEETOPS_"):
                variable = f"FT_{variable}"
            if secret in self.spec.get("secrets", {}):
                continue  # exchange.api_key beside exchange.key: one credential
            self.spec.setdefault("secrets", {})[secret] = f"env:{variable}"
            where = self.sources.problem((section, key), "")
            self.secrets.append(SecretNeed(self.name, secret, f"env:{variable}", f"{section}.{key} at {where.path}:{where.line}:{where.col}"))

    def _rest(self) -> None:
        passthrough: dict[str, Any] = {}
        for key in list(self.rest):
            value = self.rest.pop(key)
            if key in _REPORTED_OWN:
                reason = _REPORTED_OWN[key]
                if key not in ("pairlists", "db_url"):  # both reported where they are read
                    self.note((key,), f"{key} is not carried: {reason}")
            elif not (key == "exchange" and value == {}):
                passthrough[key] = value
        if passthrough:
            self.spec["freqtrade"] = passthrough
            for key in passthrough:
                self.origin.setdefault("freqtrade", (key,))

    def _validate(self) -> None:
        """The Bot document checked as validation will check it (less the relations ``setup`` checks
        on the written fleet), each problem located at the config value it came from."""
        from engine.spec.freqtrade_extras import check_freqtrade_extras

        unresolved = _variables({k: v for k, v in self.spec.items() if k != "secrets"}, ())
        for loc in unresolved:
            source = self.origin.get(str(loc[0]), loc) if loc[0] != "freqtrade" else loc[1:]
            self.error(source, f"{'.'.join(map(str, loc))} is read from a host environment variable through the compose file; "
                       "adopt can carry only secrets that way: write the value out")
        if unresolved:
            return
        try:
            Bot.model_validate({**self.spec, "wallet": "w", "strategy": "X@v"}, strict=False)
        except ValidationError as exc:
            for error in exc.errors():
                key = str(error["loc"][0]) if error["loc"] else ""
                inner = ".".join(str(p) for p in error["loc"])
                self.error(self.origin.get(key, (key,)), f"{inner}: {error['msg']}" if inner else error["msg"])
        for loc, message, _at_key in check_freqtrade_extras(self.spec.get("freqtrade", {})):
            self.error(tuple(loc), f"{message} (adopt carries it in the freqtrade: block, where fleetops refuses it)")

    def _database(self, dry_run: bool) -> str:
        db_url = self.sources.data.get("db_url")
        if not isinstance(db_url, str):
            db_url = "sqlite:///tradesv3.dryrun.sqlite" if dry_run else "sqlite:///tradesv3.sqlite"  # FreqTrade's defaults
        path = db_url.removeprefix("sqlite:///") if db_url.startswith("sqlite:///") else None
        if not path:
            self.error(("db_url",), f"keeps its trades in {db_url.split('://')[0]}://, not in an SQLite file: fleetops cannot carry "
                       "them into the bot's database, and its open trades would be left without a bot; move them to SQLite first (freqtrade convert-db)")
            return ""
        return self.service.container_path(path) if path else FREQTRADE_WORKDIR


def _variables(value: Any, loc: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    """Where ``value`` still holds an unresolved ``${VAR}`` (set through a FREQTRADE__ variable)."""
    if isinstance(value, dict):
        return [found for key, sub in value.items() for found in _variables(sub, (*loc, key))]
    if isinstance(value, list):
        return [found for i, sub in enumerate(value) for found in _variables(sub, (*loc, i))]
    return [loc] if isinstance(value, str) and VARIABLE.fullmatch(value) else []
