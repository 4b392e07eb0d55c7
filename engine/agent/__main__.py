"""``python -m engine.agent …`` (and the zip application's entry): the node agent's command line."""

from engine.agent.main import main

raise SystemExit(main())
