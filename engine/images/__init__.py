"""fleetops' images, built from the package alone: ``fleetops image build`` (and the checkout's build-images script).

Two ways to the pool image (FreqTrade + supervisord, what the example fleet runs):

* ``debian``: offline, the way the checkout always built it — Debian packages (python3,
  supervisor, busybox) unpacked into a root directory, FreqTrade from PyPI installed into it by
  this host's pip, imported with ``docker import``; cached by a content hash of its inputs (the
  ``:h-<hash>`` tag), so a second build costs one ``docker image inspect``. Needs a Debian host
  (apt, dpkg-deb, chroot), root and the Docker CLI.
* ``official``: a Dockerfile ``FROM freqtradeorg/freqtrade:<version>`` (FreqTrade's own image)
  adding supervisord, for machines that can pull from Docker Hub (``docker build``).

``missing_image_hint`` is what every "image not on the engine" error adds, so users are told the
command, never a script of the checkout.
"""

from __future__ import annotations

__all__ = ["FREQTRADE_VERSION", "POOL_IMAGE", "missing_image_hint"]

FREQTRADE_VERSION = "2026.9"
"""The FreqTrade the pool image carries (the one fleetops is checked against, shared/FREQTRADE.md)."""
POOL_IMAGE = f"fleetops/freqtrade:{FREQTRADE_VERSION}"
"""The pool image's tag, as the example fleet's ``defaults.image`` names it."""


def missing_image_hint(image: str) -> str:
    """What to do about ``image`` missing from the engine: the command that builds it, or a pull."""
    if image == POOL_IMAGE:
        return f"`fleetops image build` builds {POOL_IMAGE} (offline, on Debian; `--from official` builds it from FreqTrade's own image)"
    return f"pull or build it (`docker pull {image}`; `fleetops image build` builds fleetops' pool image {POOL_IMAGE})"
