"""The Swarm backend: units are services pinned to nodes, bots' files and processes are driven by a
node agent on each node (``engine.agent``) over a channel the controller serves (``channel``)."""
