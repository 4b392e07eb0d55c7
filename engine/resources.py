"""Where the files fleetops ships beside its code live: templates, the example fleet, strategies.

Used by rendering (templates) and ``fleetops init`` (the example fleet). In a checkout they are
the top-level ``templates/``, ``fleet/``, ``strategies/`` and ``examples/`` directories; a built
wheel carries copies under ``engine/bundled/`` (see ``pyproject.toml``), so both installs find them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_root", "template_dir"]

_PACKAGE = Path(__file__).resolve().parent


def data_root() -> Path:
    """The directory holding ``templates/``, ``fleet/``, ``strategies/`` and ``examples/``."""
    bundled = _PACKAGE / "bundled"
    return bundled if (bundled / "templates").is_dir() else _PACKAGE.parent


def template_dir() -> Path:
    """The jinja2 templates (``FLEETOPS_TEMPLATES`` overrides, for testing a template change)."""
    override = os.environ.get("FLEETOPS_TEMPLATES")
    return Path(override) if override else data_root() / "templates"
