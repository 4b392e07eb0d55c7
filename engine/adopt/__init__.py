"""``fleetops adopt``: existing FreqTrade compose setups → a fleet repository and takeovers.

``compose`` reads the compose file, ``jsonc`` FreqTrade's config files with positions, ``sources``
merges a service's configs as FreqTrade does, ``bots``
turns one service's bot into a Bot document, ``setup`` reads a whole setup and writes the
repository, ``command`` is what the CLI runs. The takeover itself (the first apply stopping the
old container and carrying its trade database) is ``engine.live.takeover``'s.
"""
