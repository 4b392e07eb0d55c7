"""The FreqTrade check: each rendered bot config judged by FreqTrade's own start-up checks.

Called by ``fleetops validate``, ``render``, ``plan`` (live and ``--against``: the CI plan) and
``apply`` (and so the watcher) once the specs validate and the fleet compiled; a refusal is a
``SpecError`` at the spec's ``file:line:col``, so nothing is rendered or applied that FreqTrade
would refuse to start. ``engine.check.freqtrade`` runs it; ``request`` builds what FreqTrade
reads, ``runners`` decides where it runs, ``locate`` maps FreqTrade's findings back to spec keys.

Which FreqTrade judges — a design decision, argued here. A fleet's bots run the FreqTrade of
their container image, and FreqTrade's schema and checks change between versions (keys become
required, values are deprecated, checks are added), so the judge must be that version, not one
fleetops happens to ship with. In order:

1. **The image's own FreqTrade**, when a Docker engine answers and holds the image: one
   throwaway container per distinct image (``docker run --rm --network none --read-only``,
   capabilities dropped, 1 GiB, a deadline), running ``engine/container/ftcheck.py`` over all of
   that image's bots in one process: FreqTrade's imports (~2 s) are paid once, not per bot.
   fleetops never pulls an image (apply does not either): a missing image falls through.
2. **A local FreqTrade**, when the image has none, is missing, or no Docker engine answers: the
   interpreter named by ``FLEETOPS_FREQTRADE_PYTHON``, else fleetops' own if it can import
   ``freqtrade``, else the one behind a ``freqtrade`` command on ``PATH``. Run as a subprocess,
   time-bounded, with nothing of fleetops' environment. It may be another version than the
   image's: the warning says which.
3. **Neither**: the check is skipped with a warning that says why and how to enable it — never
   silently. ``FLEETOPS_FREQTRADE_CHECK`` chooses: ``auto`` (the order above, the default),
   ``image`` or ``local`` (only that judge; unavailable is an error, for CI that must not skip),
   ``off`` (skipped, still with the warning).

The config check runs no strategy code: a strategy comes with the pull request, and this runs in
CI. The load check (``engine.check.loads``) does run it — FreqTrade's own resolver, in the same
judge's process, each strategy in a forked, limited child with a deadline
(``engine/container/ftload.py``), so inside the image's sandboxed container when that judges. What a
strategy brings into FreqTrade's config is read from its source as literals
(``engine.compile.strategy_settings``); secret values are never sent, placeholders of the same
shape stand in. Results are cached per bot under ``<state>/cache/freqtrade-check/``, keyed by the
judge (image ID, or interpreter and FreqTrade version) and a digest of what it was given, when the
state dir exists (reading commands create nothing in a state dir). Speed at 500 bots:
``benchmarks/freqtrade_check.py``.
"""

from engine.check.freqtrade import CheckSettings, check_fleet, require_accepted

__all__ = ["CheckSettings", "check_fleet", "require_accepted"]
