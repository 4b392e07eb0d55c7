"""Health: an ordered status, one module per check, one table from a fleet's check kind to its checks.

Pure — nothing here reaches Docker, supervisord or a bot; what a bot shows comes from a
``Subject`` (the gate's is ``engine.live.health``'s). After gitops-engine's ``pkg/health``::

    status.py           HealthStatus (healthy < progressing < degraded < failed < missing), Verdict, worst
    check.py            the protocol: Check (a step the gate waits for, or a guard), Subject, what they see
    process.py          guard  the process and its container can still answer (fails fast when not)
    ping.py             step   GET /api/v1/ping answers pong
    strategy_errors.py  guard  no strategy exception in the log since the start
    loop.py             step   the trading loop ran since the start (LOOP_WINDOW)
    table.py            CHECKS: kind → its checks in order; CheckKind, the kinds a spec may name
    gate.py             run_gate (wait until healthy, failed, or the window passes), look_once, BotHealth

A new check is one module and its place in a row of ``table.CHECKS``; nothing else dispatches
on the kind.
"""

from engine.health.status import HealthStatus, Verdict, worst

__all__ = ["HealthStatus", "Verdict", "worst"]
