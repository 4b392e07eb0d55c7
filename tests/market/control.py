"""The paper exchange's switchboard: ``engine.paper.control`` (moved there: ``fleetops paper-exchange`` ships it)."""

from engine.paper.control import MODES, PREFIX, ROUTES, Recorder, Switchboard, switchboard

__all__ = ["MODES", "PREFIX", "ROUTES", "Recorder", "Switchboard", "switchboard"]
