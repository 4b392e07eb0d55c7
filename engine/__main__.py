"""``python -m engine`` runs the fleetops CLI (used by tests to run it as a whole process)."""

from engine.cli import main

main()
