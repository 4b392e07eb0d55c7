"""``python -m engine`` runs the fleetops CLI as the ``fleetops`` command does (``engine.entry``; tests run it as a whole process)."""

from engine.entry import main

main()
