"""Git refs a user types that git would read as something else are one-line errors, never tracebacks."""

from __future__ import annotations

import os
from collections.abc import Callable

import git
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Run


@pytest.mark.parametrize("ref", ["main@{1.day.ago}", "HEAD@{0}", ":/fleet", "HEAD..main", "-x", "v1^{tree}", "no-such-ref"])
def test_odd_refs_are_clear_errors(ref: str, base_repo: git.Repo, fleetops_in_process: Callable[..., Run]) -> None:
    for args in (["plan", "--against", ref], ["validate", "--ref", ref]):
        result = fleetops_in_process(*args, "--repo", base_repo.working_dir)
        assert result.code == 1, result.out + result.err
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("fleetops: error: git ref") and "not found" in lines[0], result.err


def test_a_registry_image_with_a_port_is_valid(base_repo: git.Repo, fleetops_in_process: Callable[..., Run]) -> None:
    from pathlib import Path

    from tests.support.repos import edit

    edit(Path(base_repo.working_dir) / "fleet/pools.yaml", "memory: 1g", "memory: 1g\nimage: registry.local:5000/team/bot:2026.9")
    result = fleetops_in_process("validate", "--repo", base_repo.working_dir)
    assert result.code == 0, result.err


# -- git environments CI really has (issue 17, item 9) ----------------------------------------------

def one_error(result: Run) -> str:
    """The single error line of a failed run (exit 1, no traceback, no internal error)."""
    lines = result.err.splitlines()
    assert result.code == 1 and len(lines) == 1, (result.code, result.err)
    assert lines[0].startswith("fleetops: error: ") and "internal error" not in lines[0], lines[0]
    return lines[0]


def test_a_shallow_clone_says_to_fetch_the_history_it_lacks(base_repo: git.Repo, fleetops_in_process: Callable[..., Run], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """actions/checkout clones one commit by default: `plan --against HEAD~1` was an internal ValueError."""
    shallow = tmp_path / "shallow"
    git.Repo.clone_from(f"file://{base_repo.working_dir}", shallow, depth=1)
    for args in (["plan", "--against", "HEAD~1"], ["plan", "--against", "HEAD^"], ["validate", "--ref", "HEAD~1"]):
        line = one_error(fleetops_in_process(*args, "--repo", str(shallow)))
        assert f"is older than the history of this shallow clone ({shallow})" in line, line
        assert "git fetch --deepen=1" in line and "fetch-depth: 0" in line, line
    line = one_error(fleetops_in_process("plan", "--against", "origin/feature", "--repo", str(shallow)))
    assert "not found in this shallow clone" in line and "git fetch origin feature" in line and "fetch-depth: 0" in line, line
    pins = fleetops_in_process("validate", "--repo", str(shallow))  # the tag v1 names a commit the clone lacks: it did not come along
    assert pins.code == 1 and "strategy pin 'Alpha@v1': git ref 'v1' not found in this shallow clone (the repository has no tags); " \
        "fetch the tags and the commits they name (`git fetch --tags --unshallow`)" in pins.err, pins.err
    shallow_repo = git.Repo(shallow)
    shallow_repo.git.fetch("--deepen=1")  # what the message says to do
    result = fleetops_in_process("validate", "--ref", "HEAD~1", "--repo", str(shallow))
    assert "shallow clone" not in result.err, result.err


def test_a_repository_owned_by_another_user_says_how_to_mark_it_safe(  # type: ignore[no-untyped-def]
    base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path
) -> None:
    """git's "dubious ownership": before, exit 1 with no output at all (GitPython's pipe to git broke)."""
    import os
    import shutil

    if os.geteuid() != 0:
        pytest.skip("needs root to give the repository to another user")
    other = tmp_path / "theirs"
    shutil.copytree(base_repo.working_dir, other, symlinks=True)
    for directory, _dirs, files in os.walk(other):
        for name in [directory, *(os.path.join(directory, f) for f in files)]:
            os.lchown(name, 12345, 12345)
    config = tmp_path / "gitconfig"
    config.write_text("")
    env = {"GIT_CONFIG_GLOBAL": str(config)}  # whatever this machine's own git config says
    for args in (["validate"], ["validate", "--ref", "HEAD"], ["plan", "--against", "HEAD"], ["render", "--out", str(tmp_path / "r")],
                 ["plan"], ["wallets", "--repo", str(other)]):
        repo_args = [] if "--repo" in args else ["--repo", str(other)]
        line = one_error(fleetops(*args, *repo_args, env=env))
        assert f"git refuses to read {other}: it belongs to another user (uid 12345)" in line, line
        assert f"git config --global --add safe.directory {other}" in line, line
    config.write_text(f"[safe]\n\tdirectory = {other}\n")  # what the message says to do
    assert fleetops("validate", "--repo", str(other), env=env).code == 0


BAD_DOCKER_HOSTS = ["http://[::1", "tcp://host:notaport", "tcp://1.2.3.4:99999", "tcp://[zz]:1", "foo", "tcp://", "unix://var/run/docker.sock",
                    "fd://3", "tcp://h:2375/path?x", "tcp://user:hunter2@h:2375", "http://a b", "ssh://", "tcp://h:0"]


@pytest.mark.parametrize("address", BAD_DOCKER_HOSTS)
def test_a_malformed_docker_address_is_one_line_naming_it_and_the_accepted_forms(
    address: str, base_repo: git.Repo, fleetops_in_process: Callable[..., Run]
) -> None:
    for args, env, source in ((["plan", "--repo", base_repo.working_dir], {"DOCKER_HOST": address}, "DOCKER_HOST"),
                              (["--docker-host", address, "status"], {}, "--docker-host")):
        line = one_error(fleetops_in_process(*args, env=env))
        assert line.startswith(f"fleetops: error: {source} '") and "is not a Docker engine address: " in line, line
        assert line.endswith("use unix:///path/to/docker.sock, tcp://HOST:PORT (or http:// and https://), or ssh://[USER@]HOST[:PORT]"), line
        assert "hunter2" not in line


def test_plan_against_a_ref_needs_no_docker_address(base_repo: git.Repo, fleetops_in_process: Callable[..., Run]) -> None:
    result = fleetops_in_process("plan", "--against", "HEAD", "--repo", base_repo.working_dir, env={"DOCKER_HOST": "http://[::1"})
    assert result.code == 0 and "No changes" in result.out, result.err


# -- the sweep: no internal error for any ref or Docker address -------------------------------------

_SWEEP_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40" if os.environ.get("FLEETOPS_FAST_LANE") else "120"))
SWEEP = settings(max_examples=_SWEEP_EXAMPLES, deadline=5000, derandomize="FUZZ_EXAMPLES" not in os.environ,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_SCHEMES = st.sampled_from(["tcp://", "http://", "https://", "unix://", "ssh://", "npipe://", "fd://", "TCP://", "tcp:/", "", "http+unix://"])
_ADDRESS_TAIL = st.lists(st.sampled_from([*list("[]:@%/?#.-_ 09azAZ~\\ä\n\x00"), "::1", "127.0.0.1", "host", "2375", "65536"]),
                         max_size=12).map("".join)
_REF = st.lists(st.sampled_from([*list("~^@{}:./-_*?[\\ 019\n"), "HEAD", "main", "v1", "origin/", "refs/", "..", "@{-1}"]),
                min_size=1, max_size=10).map("".join)


def run_in_process(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """The CLI's own error boundary (``engine.cli._run``), in this process: hundreds of runs in seconds."""
    import contextlib
    import io
    import sys
    from unittest import mock

    from engine import cli

    err = io.StringIO()
    with mock.patch.dict(os.environ, env), mock.patch.object(sys, "argv", ["fleetops", *args]), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        try:
            cli._run()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue()


@pytest.fixture(scope="module")
def sweep_repo(tmp_path_factory: pytest.TempPathFactory) -> git.Repo:
    from tests.support.repos import make_base_repo

    return make_base_repo(tmp_path_factory.mktemp("sweep") / "repo")


@SWEEP
@given(scheme=_SCHEMES, tail=_ADDRESS_TAIL)
def test_no_docker_address_is_an_internal_error(scheme: str, tail: str, sweep_repo: git.Repo, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    """An address the check refuses is one line through the CLI; one it accepts is one the Docker SDK
    builds a client and a request URL for (no connection is made, so no example waits on the network)."""
    import docker
    import requests

    from engine.backend.docker.address import docker_address
    from engine.errors import DockerError

    address = scheme + tail
    try:
        accepted = docker_address(address)
    except DockerError:
        code, err = run_in_process(["--docker-host", address, "plan", "--repo", sweep_repo.working_dir],
                                   {"FLEETOPS_STATE_DIR": str(tmp_path_factory.getbasetemp() / "sweep-state")})
        assert code == 1 and len(err.splitlines()) == 1 and "is not a Docker engine address" in err, (address, err)
        return
    try:
        client = docker.APIClient(base_url=accepted, version="1.41", timeout=1)
    except docker.errors.DockerException:
        return  # the adapter turns these into DockerError (ssh:// without paramiko, npipe:// off Windows)
    requests.Request("GET", client._url("/containers/json")).prepare()


@SWEEP
@given(ref=_REF)
def test_no_git_ref_is_an_internal_error(ref: str, sweep_repo: git.Repo) -> None:
    for args in (["validate", "--ref", ref], ["plan", "--against", ref]):
        code, err = run_in_process([*args, "--repo", sweep_repo.working_dir], {})
        assert code in (0, 1) and "internal error" not in err and "Traceback" not in err, (ref, err)
        if code == 1:
            assert len(err.splitlines()) == 1 and err.startswith("fleetops: error: "), (ref, err)


# -- where git looks: the repository --repo names, whatever the environment says (issue 17, item 9, variants) --

def test_git_variables_of_a_hook_never_point_fleetops_at_another_repository(  # type: ignore[no-untyped-def]
        base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path) -> None:
    """A server's post-receive hook runs with GIT_DIR=. (a pre-commit hook with GIT_INDEX_FILE): before, every
    command on another --repo failed ("not a git repository: '.'"), and a GIT_DIR of another repository made
    its status the plan's dirty flag (and its index, ignore rules and attributes the working tree's)."""
    from pathlib import Path

    from tests.support.repos import make_base_repo

    other = make_base_repo(tmp_path / "other")
    Path(other.working_dir, "fleet/bots.yaml").unlink()
    other.git.add("-A")
    envs = [{"GIT_DIR": "."}, {"GIT_DIR": f"{other.working_dir}/.git", "GIT_WORK_TREE": other.working_dir,
                              "GIT_INDEX_FILE": f"{other.working_dir}/.git/index"}]
    result = fleetops("init", str(tmp_path / "new-fleet"), env=envs[1])  # before: internal error (InvalidGitRepositoryError)
    assert result.code == 0 and git.Repo(tmp_path / "new-fleet").tags, result.err
    assert len(list(other.iter_commits())) == 2  # the repository GIT_DIR names is left alone
    for env in envs:
        result = fleetops("validate", "--repo", base_repo.working_dir, env=env)  # run from fleetops' checkout: GIT_DIR=. is no repository
        assert result.code == 0 and "5 bots" in result.out, (env, result.err)
        result = fleetops("plan", "--against", "HEAD", "--repo", base_repo.working_dir, env=env)
        assert result.code == 0 and "uncommitted" not in result.out and "No changes" in result.out, (env, result.out, result.err)


def test_a_bare_repository_says_to_read_a_ref(base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path) -> None:  # type: ignore[no-untyped-def]
    bare = tmp_path / "fleet.git"
    git.Repo.clone_from(base_repo.working_dir, bare, bare=True)
    for args in (["validate"], ["plan", "--against", "main"]):
        line = one_error(fleetops(*args, "--repo", str(bare)))
        assert line == (f"fleetops: error: {bare} is a bare git repository: it has no working tree to read; read a commit with --ref "
                        "(for example --ref main), or point --repo at a clone with a working tree"), line
    assert fleetops("validate", "--ref", "main", "--repo", str(bare)).code == 0


def test_a_fleet_in_a_subdirectory_of_a_repository_names_the_repository(  # type: ignore[no-untyped-def]
        base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path) -> None:
    """A monorepo: before, 'deploy is not a git repository, so --ref HEAD cannot be read' (for --against, in a git repository)."""
    import shutil

    mono = tmp_path / "mono"
    shutil.copytree(base_repo.working_dir, mono / "deploy", ignore=shutil.ignore_patterns(".git"))
    repo = git.Repo.init(mono)
    repo.git.add("-A")
    repo.git.execute(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "monorepo"])
    line = one_error(fleetops("plan", "--against", "HEAD", "--repo", str(mono / "deploy")))
    assert line.startswith(f"fleetops: error: {mono / 'deploy'} is not a git repository, so git ref 'HEAD' cannot be read (it is a "
                           f"directory inside the git repository {mono}"), line
    result = fleetops("validate", "--repo", str(mono / "deploy"))
    assert result.code == 1 and f"is inside the git repository {mono}, but fleetops reads a repository at its top" in result.err


@pytest.mark.parametrize("name", ["fé", "feature/ß", "hotfix/€-rate", "@"])
def test_refs_named_with_any_character_git_allows_are_read(name: str, base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    """Before: "git ref 'fé' not found in … (known: fé, main, v1)". '@' is git's own name for HEAD."""
    if name != "@":
        base_repo.git.branch(name)
    result = fleetops("plan", "--against", name, "--repo", base_repo.working_dir)
    assert result.code == 0 and "No changes" in result.out, result.err
    assert fleetops("validate", "--ref", name, "--repo", base_repo.working_dir).code == 0


@pytest.mark.parametrize(("tls", "says"), [
    ({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "{tmp}/nowhere"}, "DOCKER_CERT_PATH '{tmp}/nowhere' is not a directory"),
    ({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "{tmp}/no-ca"}, "has no ca.pem to verify its certificate against"),
    ({"DOCKER_TLS_VERIFY": "0", "DOCKER_CERT_PATH": "{tmp}/no-ca"}, "has no ca.pem"),  # the Docker CLI: any value asks to verify
    ({"DOCKER_CERT_PATH": "{tmp}/half"}, "has cert.pem but no key.pem"),
    ({"DOCKER_TLS_VERIFY": "1", "HOME": "{tmp}/home"}, "{tmp}/home/.docker (DOCKER_CERT_PATH is not set) has no ca.pem"),
], ids=["cert-path-nowhere", "verify-without-ca", "verify-0-still-verifies", "cert-without-key", "default-cert-path-empty"])
def test_half_set_docker_tls_settings_are_one_line_naming_what_is_missing(  # type: ignore[no-untyped-def]
        tls: dict[str, str], says: str, base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path) -> None:
    """Before, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH were ignored: fleetops spoke plain HTTP to the address
    ("cannot reach the Docker engine … is dockerd running?"). tests/integration/test_docker_tls.py: the working case."""
    for name, files in (("no-ca", ["cert.pem", "key.pem"]), ("half", ["cert.pem"])):
        (tmp_path / name).mkdir()
        for file in files:
            (tmp_path / name / file).write_text("not used: the check comes first\n")
    env = {"DOCKER_HOST": "tcp://127.0.0.1:1", **{k: v.format(tmp=tmp_path) for k, v in tls.items()}}
    line = one_error(fleetops("plan", "--repo", base_repo.working_dir, env=env))  # status of an empty state dir asks no engine
    assert says.format(tmp=tmp_path) in line and "without TLS" in line, line


def test_a_sha256_repository_is_one_line_instead_of_every_ref_missing(base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: "git ref 'v1' not found (tags: v1)" for every pin, "git ref 'HEAD' not found (known: master, v1)"."""
    import shutil

    repo = tmp_path / "sha256"
    repo.mkdir()
    identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
    git.Git(repo).execute(["git", "init", "-q", "--object-format=sha256"])
    shutil.copytree(f"{base_repo.working_dir}/strategies", repo / "strategies")
    shutil.copytree(f"{base_repo.working_dir}/fleet", repo / "fleet")
    git.Git(repo).execute(["git", *identity, "add", "-A"])
    git.Git(repo).execute(["git", *identity, "commit", "-qm", "fleet"])
    git.Git(repo).execute(["git", *identity, "tag", "v1"])
    for args in (["validate"], ["plan", "--against", "HEAD"]):
        line = one_error(fleetops(*args, "--repo", str(repo)))
        assert line.startswith(f"fleetops: error: {repo} names its objects with SHA256"), line
