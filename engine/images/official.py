"""The pool image from FreqTrade's own image: a Dockerfile ``FROM freqtradeorg/freqtrade:<version>``.

Called by ``fleetops image dockerfile`` (prints it) and ``fleetops image build --from official``
(``docker build`` with it). For machines that can pull from Docker Hub; the offline build
(``engine.images.debian``) is for those that cannot. What it adds to FreqTrade's image, and why:

* supervisord (from PyPI, as root): a pool container runs its bots as supervisord programs.
* setproctitle: a preloaded pool's forked bots are named by bot in ``ps``.
* ``PYTHONUSERBASE=/home/ftuser/.local``: FreqTrade's image installs FreqTrade into ftuser's user
  site (``pip install --user``); supervisord runs as root and the preloader imports FreqTrade
  before forking bots, so the packages must be found whoever runs Python.
* ``ENTRYPOINT []``: FreqTrade's image runs ``freqtrade`` as its entrypoint; fleetops sets the
  command of every container it creates, and a throwaway check container runs ``python3``.

Bots run as uid 1000, FreqTrade's ``ftuser`` (fleetops' default ``run_as``). No network is used
by the build beyond Docker Hub and PyPI.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable

from engine.errors import ImageBuildError
from engine.images import FREQTRADE_VERSION, POOL_IMAGE

__all__ = ["BASE", "SUPERVISOR_VERSION", "build_official", "dockerfile"]

BASE = f"freqtradeorg/freqtrade:{FREQTRADE_VERSION}"
SUPERVISOR_VERSION = "4.3.0"
SETPROCTITLE_VERSION = "1.3.8"


def dockerfile(base: str = BASE) -> str:
    """The Dockerfile text (``base``: FreqTrade's image to start from, at fleetops' FreqTrade version)."""
    return f"""\
# fleetops' pool image from FreqTrade's own image, for machines that can pull from Docker Hub.
# `fleetops image build --from official` builds it as {POOL_IMAGE}; `fleetops image dockerfile` prints it.
FROM {base}
USER root
# supervisord runs each bot of a pool container as its own program; setproctitle names preloaded bots.
RUN pip install --no-cache-dir supervisor=={SUPERVISOR_VERSION} setproctitle=={SETPROCTITLE_VERSION} \\
 && mkdir -p /fleet
# FreqTrade lives in ftuser's user site: found by root (supervisord, the preloader) and by uid 1000 (bots).
ENV PYTHONUSERBASE=/home/ftuser/.local PYTHONUNBUFFERED=1
WORKDIR /fleet
ENTRYPOINT []
CMD ["supervisord", "-n", "-c", "/fleet/supervisord.conf"]
LABEL io.fleetops.image="pool" io.fleetops.freqtrade="{FREQTRADE_VERSION}"
"""


def build_official(*, tag: str = POOL_IMAGE, say: Callable[[str], None]) -> None:
    """``docker build -t tag -`` with ``dockerfile()`` on stdin (no context needed); raises ImageBuildError."""
    if shutil.which("docker") is None:
        raise ImageBuildError("`fleetops image build --from official` needs the Docker CLI (docker) on this host")
    start = time.monotonic()
    say(f"{tag}: docker build FROM {BASE} (pulls it from Docker Hub)")
    proc = subprocess.run(["docker", "build", "--pull", "-t", tag, "-"], input=dockerfile(), text=True, capture_output=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise ImageBuildError(f"docker build of {tag} from {BASE} failed: {tail[0]}")
    say(f"{tag}: built in {time.monotonic() - start:.1f} s")
