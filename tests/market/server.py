"""The paper exchange's app: ``engine.paper.app`` (moved there: ``fleetops paper-exchange`` ships it)."""

from engine.paper.app import BinanceError, Market, create_app

__all__ = ["BinanceError", "Market", "create_app"]
