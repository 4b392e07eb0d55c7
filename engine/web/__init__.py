"""The status page: one screen for the whole fleet, live, read-only.

``refresher`` keeps one snapshot of the fleet up to date in the background (one Docker list,
one supervisord call per pool container, bot API figures through a bounded, cached fetcher);
``view`` turns it into the data the page shows; ``pages`` serves it (HTML without JavaScript,
Server-Sent Events to keep it live, JSON). Clients only ever read the snapshot, so a hundred open
pages cost what one does.
"""
