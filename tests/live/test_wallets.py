"""``fleetops wallets``: capital from the specs or the running revision, figures from each bot, the ledger."""

from __future__ import annotations

from pathlib import Path

import git

from engine.compile.payload import fleet_from_payload
from engine.live.store import RevisionStatus, RevisionStore
from engine.wallets import ledger, wallet_report, wallets_to_text
from tests.live.harness import Harness


def test_wallets_show_capital_allocations_and_live_figures_and_the_ledger(base_repo: git.Repo, tmp_path: Path) -> None:
    h = Harness(base_repo, tmp_path / "state")
    assert h.apply().status is RevisionStatus.APPLIED
    h.edit("fleet/bots.yaml", "allocation: 500", "allocation: 600")  # solo takes more
    h.edit("fleet/bots.yaml", "name: solo\nwallet: main", "name: solo\nwallet: euro")
    h.edit("fleet/bots.yaml", "pairs: [ETH/USDT]", "pairs: [ETH/EUR]")
    assert h.apply().status is RevisionStatus.APPLIED
    h.bots.realised["alpha-1"] = 12.5
    store = RevisionStore(h.state)
    report = wallet_report(h.context(), fleet_from_payload(store.latest(good_only=True).payload))  # type: ignore[union-attr]
    main = next(w for w in report["wallets"] if w["name"] == "main")
    assert (main["balance"], main["reserve"], main["allocated"], main["free"]) == (10000, 1000, 4000, 5000)
    alpha = next(b for b in main["bots"] if b["name"] == "alpha-1")
    assert (alpha["allocation"], alpha["equity"], alpha["realised"], alpha["open_trades"]) == (1000, 1012.5, 12.5, 0)
    entries = ledger(store, "testfleet")
    assert [(e["revision"], e["entry"], e["bot"]) for e in entries if e["revision"] == 2] == [(2, "move", "solo")]
    assert entries[-1] == {**entries[-1], "from": "main", "to": "euro", "amount": 600}
    assert sum(1 for e in entries if e["entry"] == "allocate") == 5
    text = wallets_to_text(report, entries)
    assert "wallet euro (EUR)" in text and "move     solo" in text


def test_figures_a_bot_answers_out_of_type_are_unknown_not_errors(base_repo: git.Repo, tmp_path: Path) -> None:
    """A bot's API is input: a NaN equity, a string count, a bool profit show as unknown (–)."""
    from engine.ftapi import RawAnswer

    h = Harness(base_repo, tmp_path / "state")
    assert h.apply().status is RevisionStatus.APPLIED
    hostile = {"balance": b'{"total": NaN}', "count": b'{"current": "3"}', "profit": b'{"profit_closed_coin": true}'}
    h.bots.handler = lambda call: RawAnswer(200, hostile[call.path]) if call.bot == "alpha-1" else None
    report = wallet_report(h.context(), fleet_from_payload(RevisionStore(h.state).latest(good_only=True).payload))  # type: ignore[union-attr]
    bots = {b["name"]: b for w in report["wallets"] for b in w["bots"]}
    assert (bots["alpha-1"]["equity"], bots["alpha-1"]["open_trades"], bots["alpha-1"]["realised"]) == (None, None, None)
    assert (bots["alpha-2"]["equity"], bots["alpha-2"]["open_trades"]) == (1000.0, 0)
    assert "  alpha-1                         1,000            –     –             –  dry-run" in wallets_to_text(report)
