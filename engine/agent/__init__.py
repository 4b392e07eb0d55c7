"""The node agent of the Swarm backend: one per node, connecting out to the controller.

Swarm has no exec (swarmkit #1895) and its configs and secrets are immutable (changing one
replaces every task of a service), so a bot's files cannot travel in the service spec: a bot's
change would restart its whole pool. Instead one agent per node (a service pinned to it, run by
the fleet image's own ``python3``: **standard library only**, no new image) keeps the node's bot
files under ``/var/lib/fleetops/<fleet>/<unit>/{etc,data}`` (bind-mounted into the tasks, the
Docker backend's runtime layout) and drives the supervisord of each pool task through its socket
in ``data/``. The controller (``engine.backend.swarm.channel``) never reaches a node: the agent
connects **out** with the node's credential (a Swarm secret, a file under ``/run/secrets``)::

    GET  <controller>/agent/v1/<fleet>/<node>/commands?wait=S&got=ID,…   long poll → {"commands": [{id, op, args}]}
    POST <controller>/agent/v1/<fleet>/<node>/results                     {id, ok, value} | {id, ok: false, kind, message}
    POST <controller>/agent/v1/<fleet>/<node>/heartbeat                   {at, started, units: {unit: table | {error}}}
    GET  <controller>/agent/v1/<fleet>/<node>/blobs/<sha256>              bytes, verified against the name
    PUT  <controller>/agent/v1/<fleet>/<node>/blobs/<sha256>              bytes the agent made (a bot's data, a tar)

Modules: ``link`` (HTTP to the controller, bounded, with backoff), ``ops`` (the commands, see its
table), ``files`` (the node's directories, never following a link: ``engine.backend.docker.safefs``),
``supervisord`` (XML-RPC over a unix socket), ``relay`` (a bot's own API, for the controller),
``main`` (the loop). ``engine.backend.swarm.agent_spec`` ships these files (and the few stdlib-only
engine modules they import) as one zip application in a Swarm config; ``python3 agent.pyz --help``.
"""
