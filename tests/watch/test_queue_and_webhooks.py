"""The commit queue's rules and the webhook's verdicts, as tables."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from engine.watch.guard import FlapGuard
from engine.watch.queue import CommitQueue
from engine.watch.webhook import MAX_BODY, Deliveries, judge

# Each step: ("offer", sha) → expected superseded; ("take",) → expected sha; ("finish", sha, how).
QUEUE_CASES = {
    "a new head is taken": [("offer", "b", None), ("take", "b")],
    "applied, running, waiting and quarantined heads are ignored": [
        ("offer", "a", None), ("take", None),  # "a" is applied
        ("offer", "b", None), ("take", "b"), ("offer", "b", None), ("take", None),
        ("finish", "b", "quarantine"), ("offer", "b", None), ("take", None),
    ],
    "a head arriving during an apply waits, and is taken right after": [
        ("offer", "b", None), ("take", "b"), ("offer", "c", None), ("take", None), ("finish", "b", "applied"), ("take", "c"),
    ],
    "only the newest of several waiting heads is applied": [
        ("offer", "b", None), ("take", "b"), ("offer", "c", None), ("offer", "d", "c"), ("offer", "e", "d"),
        ("finish", "b", "applied"), ("take", "e"), ("take", None),
    ],
    "a quarantined commit is not retried, a newer one is applied": [
        ("offer", "b", None), ("take", "b"), ("finish", "b", "quarantine"), ("offer", "b", None), ("offer", "c", None), ("take", "c"),
    ],
    "a failed apply is retried after its backoff, unless a newer head came": [
        ("offer", "b", None), ("take", "b"), ("finish", "b", "retry"), ("take", None), ("offer", "c", "b"), ("take", "c"),
    ],
}


@pytest.mark.parametrize("steps", QUEUE_CASES.values(), ids=QUEUE_CASES.keys())
def test_queue(steps: list[tuple[str, ...]]) -> None:
    queue = CommitQueue(applied="a", clock=lambda: 0.0)
    for step in steps:
        if step[0] == "offer":
            assert queue.offer(step[1]) == step[2], step
        elif step[0] == "take":
            assert queue.take() == step[1], step
        else:
            how = step[2]
            queue.finish(step[1], applied=how == "applied", quarantine="bad" if how == "quarantine" else None,
                         retry_in=10.0 if how == "retry" else None)


SECRET = b"s3cret"
PUSH = json.dumps({"ref": "refs/heads/main", "after": "f" * 40}).encode()


def signed(body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


WEBHOOK_CASES = {
    "signed GitHub push": ({"x-github-event": "push", "x-hub-signature-256": signed(PUSH)}, PUSH, SECRET, 202, True),
    "bad signature": ({"x-github-event": "push", "x-hub-signature-256": signed(PUSH, b"other")}, PUSH, SECRET, 401, False),
    "missing signature": ({"x-github-event": "push"}, PUSH, SECRET, 401, False),
    "signature of another body": ({"x-hub-signature-256": signed(b"{}")}, PUSH, SECRET, 401, False),
    "GitLab token": ({"x-gitlab-event": "Push Hook", "x-gitlab-token": "s3cret"}, PUSH, SECRET, 202, True),
    "wrong GitLab token": ({"x-gitlab-token": "s3cre"}, PUSH, SECRET, 401, False),
    "no secret configured": ({}, PUSH, None, 202, True),
    "another branch": ({"x-hub-signature-256": signed(b'{"ref": "refs/heads/dev"}')}, b'{"ref": "refs/heads/dev"}', SECRET, 202, False),
    "oversized": ({}, b"x" * (MAX_BODY + 1), SECRET, 413, False),
    "not JSON": ({"x-hub-signature-256": signed(b"<xml/>")}, b"<xml/>", SECRET, 400, False),
    "GitHub ping": ({"x-github-event": "ping", "x-hub-signature-256": signed(b"{}")}, b"{}", SECRET, 200, False),
}


@pytest.mark.parametrize("case", WEBHOOK_CASES.values(), ids=WEBHOOK_CASES.keys())
def test_webhook_verdicts(case: tuple[dict[str, str], bytes, bytes | None, int, bool]) -> None:
    headers, body, secret, status, fetch = case
    verdict = judge(headers, body, secret, "main", Deliveries())
    assert (verdict.status, verdict.fetch) == (status, fetch), verdict.message


def test_a_redelivered_webhook_is_acted_on_once() -> None:
    deliveries = Deliveries()
    headers = {"x-github-delivery": "id-1", "x-hub-signature-256": signed(PUSH)}
    assert judge(headers, PUSH, SECRET, "main", deliveries).fetch
    assert not judge(headers, PUSH, SECRET, "main", deliveries).fetch


def test_flap_guard_marks_a_bot_failing_after_the_limit_within_the_window() -> None:
    now = [0.0]
    guard = FlapGuard(limit=3, window=300, clock=lambda: now[0])
    assert not guard.count("b", "died") and not guard.count("b", "died")
    now[0] = 400.0  # the first two fall out of the window
    assert not guard.count("b", "died") and not guard.count("b", "died")
    assert guard.count("b", "died") and guard.blocked("b")
    assert "3 restarts within 300 s" in guard.failing["b"]
    assert guard.observe_pids({"x": 10}) == [] and guard.observe_pids({"x": 11}) == ["x"]
