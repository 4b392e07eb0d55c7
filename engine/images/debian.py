"""Images built offline from Debian packages and PyPI wheels: no registry, no Dockerfile, no base image.

Called by ``fleetops image build`` (the pool image) and the checkout's build-images script (the pool image, and
the test images from the checkout: the stand-in bot, the Swarm lab's node and registry). How:
``apt-get download`` the packages and their dependency closure, ``dpkg-deb -x`` them into a root
directory, link busybox's applets, byte-compile with the image's own Python in a chroot (halves
supervisord's start time), then ``tar | docker import``. FreqTrade comes from PyPI through this
host's pip (``pip install --target``): the host's Python is 3.11 like the image's (Debian 12), so
its wheels run there.

Each image is cached by a content hash of its inputs — this module's own text, the exact Debian
package versions, FreqTrade's version and any caller's extra inputs — kept as a second tag
``<repo>:h-<hash>``: when both tags exist the build is skipped (one ``docker image inspect``). A
wheel and a checkout compute the same hash, so either reuses what the other built.

Errors: ``ImageBuildError`` naming the missing tool or the failed step (apt, pip, docker).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.errors import ImageBuildError
from engine.images import FREQTRADE_VERSION, POOL_IMAGE

__all__ = [
    "BASE_IMAGE",
    "EXCLUDED",
    "build_python_image",
    "cache_dir",
    "cached",
    "closure",
    "docker_import",
    "download",
    "ensure_apt_lists",
    "image_exists",
    "input_hash",
    "make_rootfs",
    "pool_image",
    "require_tools",
    "versions",
]

Say = Callable[[str], None]

BASE_IMAGE = "fleetops/base:1"
SETPROCTITLE_VERSION = "1.3.8"  # process titles naming each bot in preloaded pools
BASE_PACKAGES = ["python3", "supervisor", "busybox-static", "ca-certificates"]
FREQTRADE_PACKAGES = ["libstdc++6", "libgomp1"]
EXCLUDED = frozenset({
    "dpkg", "install-info", "perl", "perl-base", "perl-modules-5.36", "libperl5.36", "libgdbm-compat4", "tar",
    "sysvinit-utils", "lsb-base", "debconf", "openssl", "init-system-helpers",
})
BUILD_VERSION = "5"  # bump to force rebuilds when the output changes in a way the hashed inputs do not show
PYTHON_ENV = ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV PYTHONUNBUFFERED=1", "WORKDIR /fleet"]
CMD = 'CMD ["supervisord", "-n", "-c", "/fleet/supervisord.conf"]'


def cache_dir() -> Path:
    """Where downloaded .deb files are kept: ``FLEETOPS_IMAGE_CACHE``, else /var/cache/fleetops-images."""
    return Path(os.environ.get("FLEETOPS_IMAGE_CACHE", "/var/cache/fleetops-images"))


def require_tools() -> None:
    """Raise ImageBuildError unless this host can build offline: Debian's apt and dpkg, chroot as root, docker."""
    missing = [tool for tool in ("apt-get", "apt-cache", "dpkg-deb", "chroot", "tar", "docker") if shutil.which(tool) is None]
    if missing:
        raise ImageBuildError(f"building images offline needs {', '.join(missing)} on this host (a Debian machine with the Docker CLI); "
                              "on a machine that can pull from Docker Hub use `fleetops image build --from official`")
    if os.geteuid() != 0:
        raise ImageBuildError("building images offline needs root (dpkg-deb extracts owners, chroot byte-compiles); run it with sudo, "
                              "or use `fleetops image build --from official` where Docker Hub is reachable")


def _run(*args: str, what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload, no-any-return]
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["(no output)"]
        raise ImageBuildError(f"{what} failed (exit {exc.returncode}): {tail[0]}") from None
    except OSError as exc:
        raise ImageBuildError(f"{what} failed: {exc}") from None


def closure(packages: list[str], excluded: frozenset[str] = EXCLUDED) -> list[str]:
    """``packages`` and everything they depend on (no recommends), minus ``excluded``, sorted."""
    out = _run("apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
               "--no-replaces", "--no-enhances", *packages, what="apt-cache depends").stdout
    names = {line.strip() for line in out.splitlines() if line and not line.startswith((" ", "<"))}
    return sorted(n for n in names if n not in excluded)


def versions(packages: list[str]) -> list[str]:
    """``name=version`` of the candidate apt would install, for each package: part of the content hash."""
    policy = _run("apt-cache", "policy", *packages, what="apt-cache policy").stdout
    result, current = [], None
    for line in policy.splitlines():
        if not line.startswith(" "):
            current = line.rstrip(":")
        elif line.strip().startswith("Candidate:") and current:
            result.append(f"{current}={line.split(':', 1)[1].strip()}")
    return result


def ensure_apt_lists(say: Say) -> None:
    """``apt-get update`` once, when this host has no package lists at all."""
    if not any(Path("/var/lib/apt/lists").glob("*Packages*")):
        say("apt-get update")
        _run("apt-get", "update", "-qq", what="apt-get update")


def download(packages: list[str], say: Say) -> list[Path]:
    """The .deb file of each package, downloaded into the cache when not there yet."""
    debs = cache_dir() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(debs.glob(f"{p.split('=')[0]}_*.deb"))]
    if missing:
        say(f"downloading {len(missing)} Debian packages")
        _run("apt-get", "download", "-qq", *missing, what="apt-get download", cwd=debs)
    return [next(debs.glob(f"{p.split('=')[0]}_*.deb")) for p in packages]


def image_exists(ref: str) -> bool:
    """Whether the Docker engine has ``ref`` (the Docker CLI's view: DOCKER_HOST applies)."""
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0


def make_rootfs(root: Path, debs: list[Path]) -> None:
    """Unpack ``debs`` into ``root``, link busybox's applets, write the users bots run as."""
    for deb in debs:
        _run("dpkg-deb", "-x", str(deb), str(root), what=f"dpkg-deb -x {deb.name}")
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "tmp", "fleet", "proc", "sys", "dev", "etc", "root", "var/tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    if not (root / "bin" / "busybox").exists() and (root / "usr/bin/busybox").exists():
        shutil.copy2(root / "usr" / "bin" / "busybox", root / "bin" / "busybox")
    _run("chroot", str(root), "/bin/busybox", "--install", "-s", "/bin", what="busybox --install")
    target = root / "usr" / "bin" / "python3"
    if not target.exists() and (root / "usr" / "bin" / "python3.11").exists():
        target.symlink_to("python3.11")
    # uid 1000 is the unprivileged user bots run as (FreqTrade's own image calls it ftuser).
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nbot:x:1000:1000:bot:/nonexistent:/bin/false\n"
                                         "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nbot:x:1000:\nnogroup:x:65534:\n")
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")


def compile_all(root: Path, *paths: str) -> None:
    """Byte-compile with the image's own Python; a few test files that never compile are expected."""
    existing = [p for p in paths if (root / p.lstrip("/")).is_dir()]
    subprocess.run(["chroot", str(root), "/usr/bin/python3", "-m", "compileall", "-q", *existing], capture_output=True, check=False)


def docker_import(root: Path, tag: str, build_hash: str, changes: list[str]) -> None:
    """``tar | docker import`` ``root`` as ``tag``, then tag it ``<repo>:h-<build_hash>`` too."""
    args = ["docker", "import"]
    for change in changes:
        args += ["--change", change]
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    _run(*args, "-", tag, what=f"docker import {tag}", stdin=tar.stdout)
    tar.wait()
    _run("docker", "tag", tag, f"{tag.split(':')[0]}:h-{build_hash}", what=f"docker tag {tag}")


def input_hash(*parts: str) -> str:
    """The content hash of an image's inputs (16 hex digits), this module's text and BUILD_VERSION included."""
    digest = hashlib.sha256(BUILD_VERSION.encode())
    for part in (Path(__file__).read_text(), *parts):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def _size(tag: str) -> str:
    size = _run("docker", "image", "inspect", "-f", "{{.Size}}", tag, what="docker image inspect").stdout.strip()
    return f"{int(size) / 1e6:.0f} MB"


def cached(tag: str, build_hash: str, say: Say) -> bool:
    """Whether the image of these inputs was built before (its ``:h-<hash>`` tag exists). ``tag`` is
    pointed at it again when a build from other inputs (another branch or worktree on the same
    engine) moved it since: otherwise the moved tag would run someone else's image as cached."""
    by_hash = f"{tag.split(':')[0]}:h-{build_hash}"
    if not image_exists(by_hash):
        return False
    ids = [subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", ref], capture_output=True, text=True).stdout.strip()
           for ref in (tag, by_hash)]
    if ids[0] != ids[1]:
        _run("docker", "tag", by_hash, tag, what="docker tag")
        say(f"{tag}: pointed back at {by_hash} (another build had moved it)")
    return True


def build_python_image(name: str, tag: str, *, force: bool, say: Say, extra_packages: tuple[str, ...] = (),
                       inputs: tuple[str, ...] = (), prepare: Callable[[Path], None] | None = None) -> bool:
    """Build ``tag`` (Debian's python3 + supervisor + busybox, then ``prepare(root)``) unless cached.

    ``inputs`` are the texts ``prepare`` depends on (hashed). Returns True when it built, False when
    the cached image was kept. Raises ImageBuildError.
    """
    start = time.monotonic()
    packages = sorted(set(closure(BASE_PACKAGES)) | set(closure(list(extra_packages)) if extra_packages else set()))
    build_hash = input_hash(name, *versions(packages), *inputs)
    if not force and cached(tag, build_hash, say):
        say(f"{tag}: cached ({build_hash})")
        return False
    debs = download(packages, say)
    with tempfile.TemporaryDirectory(prefix=f"fleetops-{name}-") as tmp:
        root = Path(tmp) / "rootfs"
        make_rootfs(root, debs)
        if prepare is not None:
            prepare(root)
        say(f"{tag}: byte-compiling")
        compile_all(root, "/usr/lib/python3", "/usr/lib/python3.11", "/usr/local/lib/python3.11")
        say(f"{tag}: importing into Docker")
        docker_import(root, tag, build_hash, [*PYTHON_ENV, CMD])
    say(f"{tag}: built in {time.monotonic() - start:.1f} s, {_size(tag)}")
    return True


def _install_freqtrade(say: Say) -> Callable[[Path], None]:
    def prepare(root: Path) -> None:
        site = root / "usr" / "local" / "lib" / "python3.11" / "dist-packages"
        say(f"pip install freqtrade=={FREQTRADE_VERSION} into the image (about a minute)")
        _run(sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile", "--target", str(site),
             f"freqtrade=={FREQTRADE_VERSION}", f"setproctitle=={SETPROCTITLE_VERSION}", what=f"pip install freqtrade=={FREQTRADE_VERSION}")
        shutil.rmtree(site / "bin", ignore_errors=True)
        wrapper = root / "usr" / "local" / "bin" / "freqtrade"
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        # pip's console-script form (freqtrade.main:main), which a pool's preloader runs in a forked child.
        wrapper.write_text("#!/usr/bin/python3\nimport sys\nfrom freqtrade.main import main\nsys.exit(main())\n")
        wrapper.chmod(0o755)
    return prepare


def pool_image(*, force: bool, say: Say) -> bool:
    """Build the pool image ``fleetops/freqtrade:<version>`` offline (see the module docstring); True when built."""
    if sys.version_info[:2] != (3, 11):
        raise ImageBuildError(f"the offline build installs FreqTrade with this Python's pip for the image's Python 3.11; this is "
                              f"Python {sys.version_info[0]}.{sys.version_info[1]}: run fleetops from a Python 3.11 venv, "
                              "or use `fleetops image build --from official`")
    require_tools()
    ensure_apt_lists(say)
    return build_python_image("freqtrade", POOL_IMAGE, force=force, say=say, extra_packages=tuple(FREQTRADE_PACKAGES),
                              inputs=(FREQTRADE_VERSION,), prepare=_install_freqtrade(say))
