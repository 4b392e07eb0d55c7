"""fleetops: declarative, Git-driven management of FreqTrade bot fleets on Docker."""

__version__ = "0.1.0"
