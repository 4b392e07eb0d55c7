"""An in-memory backend for unit tests: the port (``engine.backend.port``), with behaviour given by handlers.

Shipped beside the port, as httpx ships ``MockTransport`` beside its transports, so that apply,
drift, rollback, the watcher and their failure paths run in milliseconds against the seam the
engine really uses. Units, files, records and logs are kept in memory, keyed by unit name; a
unit's settings are Docker's (``engine.backend.docker.settings``: the one real backend so far),
and a pool's process manager reads the conf the engine put (``put_unit``/``reconcile``) as
supervisord does: one program per ``[program:…]`` section, ``autostart`` honoured, only changed
sections touched. It keeps the promises the engine relies on: names are unique, only labelled
units are listed, nothing is ever touched that the engine did not create.

What a bot's process does is the test's to say, never a word hidden in its files: ``process``
hears each start (``Started``: which bot, in which unit, with which files) and answers ``Runs()``,
``Exits(log lines)`` (it dies at once, supervisord backs off) or ``Refused(reason)`` (supervisord
cannot start it: FATAL, its reason in supervisord's log); ``boot`` hears each unit start and may
answer ``Fails(output)`` (its main process exits: the unit restarts in a loop). Knobs for the
rest: ``unreachable`` process managers, ``fail_calls`` (the next call of an operation raises),
``crash_after`` (the process dies, ``Killed``, before mutation N), and what a person does by hand
(``stop``, ``kill_program``, ``by_hand`` settings, ``add_unmanaged``). ``log`` lists mutations.
"""

from engine.backend.fake.backend import Exits, Fails, FakeBackend, FakeUnit, Killed, Refused, Runs, Started
from engine.backend.fake.site import FakeSite

__all__ = ["Exits", "Fails", "FakeBackend", "FakeSite", "FakeUnit", "Killed", "Refused", "Runs", "Started"]
