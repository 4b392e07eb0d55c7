"""The watcher: a loop around the pipeline that closes the GitOps loop::

    fetch (every interval, or now on a webhook) → newest head → validate → plan → apply → health → applied | quarantined
    between commits: observe (every resync, or now on a Docker event) → repair back to the last applied revision

``daemon`` runs the loop; ``mirror`` is its clone, ``queue`` the commit semantics, ``heal`` the
self-heal with its flap ``guard``, ``journal`` what it records, ``metrics`` what it exports and
``server`` the HTTP side (webhooks, health, metrics, status), which only wakes the loop.
"""
