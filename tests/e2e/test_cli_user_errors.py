"""The `baryon` command answers a user's mistake with one line and a non-zero status, never a traceback:
a garbled or wrong secret key, a database that cannot be reached or does not exist, taken ports, a data
dir already used by another `baryon up`; Alembic's INFO lines appear only with --verbose."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SECRET_KEY, free_port
from tests.support.databases import postgres_available
from tests.support.processes import Process, baryon_env, run, wait_for_port

pytestmark = pytest.mark.e2e

DATABASE_HINT = (
    "; check --database-url (BARYON_DATABASE_URL), that the database server is running and reachable, and "
    "that the database exists."
)
MAKE_KEY = 'python3 -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a refused command printed (on stderr, nothing on stdout)."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _env(tmp_path: Path, database_url: str | None = None, key: str = SECRET_KEY) -> dict[str, str]:
    url = database_url or f"sqlite:///{tmp_path / 'data' / 'baryon.db'}"
    return baryon_env(tmp_path / "data", url, key)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_garbled_secret_key(tmp_path: Path) -> None:
    result = run(["credentials", "list"], _env(tmp_path, key="not-a-key"))
    assert _one_line(result) == (
        "Error: BARYON_SECRET_KEY is not a Baryon secret key (32 bytes in urlsafe base64); use the key this "
        f"deployment was set up with, or make a new one with: {MAKE_KEY}"
    )


def test_another_secret_key_than_the_database_was_set_up_with(tmp_path: Path) -> None:
    assert run(["credentials", "list"], _env(tmp_path)).returncode == 0
    other = base64.urlsafe_b64encode(b"o" * 32).decode()
    result = run(["credentials", "list"], _env(tmp_path, key=other))
    assert _one_line(result) == (
        "Error: This database was set up with another secret key. Give every Baryon process of one "
        "deployment the same BARYON_SECRET_KEY (or the same data dir)."
    )


def test_an_unreachable_database(tmp_path: Path) -> None:
    port = free_port()
    result = run(["credentials", "list"], _env(tmp_path, f"postgresql://postgres:pw@127.0.0.1:{port}/test"))
    assert _one_line(result) == (
        f"Error: Cannot use the database postgresql://postgres:***@127.0.0.1:{port}/test: connection failed: "
        f'connection to server at "127.0.0.1", port {port} failed: Connection refused{DATABASE_HINT}'
    )


@pytest.mark.postgres
def test_a_database_that_does_not_exist(tmp_path: Path) -> None:
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    url = "postgresql://postgres@127.0.0.1:5432/baryon_no_such_database"
    result = run(["server", "--port", str(free_port())], _env(tmp_path, url))
    assert _one_line(result) == (
        f"Error: Cannot use the database {url}: connection failed: connection to server at "
        '"127.0.0.1", port 5432 failed: FATAL:  database "baryon_no_such_database" does not exist'
        f"{DATABASE_HINT}"
    )


def test_an_sqlite_database_in_a_missing_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'baryon.db'}"
    result = run(["worker"], _env(tmp_path, url))
    assert _one_line(result) == (
        f"Error: Cannot use the database {url}: No such file or directory; the directory of an SQLite "
        "database must exist and be writable (check --database-url)."
    )


def test_server_on_a_taken_port(tmp_path: Path, taken_port: int) -> None:
    result = run(["server", "--port", str(taken_port)], _env(tmp_path))
    assert _one_line(result) == (
        f"Error: Port {taken_port} on 127.0.0.1 for the Proton API is in use by another program; stop that "
        "program or choose another port with --port."
    )


def test_up_checks_both_ports_before_it_prints_anything(tmp_path: Path, taken_port: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
    data = ["--data-dir", str(tmp_path / "data")]
    cloud_taken = run(["up", "--port", str(free_port()), "--cloud-port", str(taken_port), *data], env)
    assert _one_line(cloud_taken) == (
        f"Error: Port {taken_port} on 127.0.0.1 for the local cloud is in use by another program; stop that "
        "program or choose another port with --cloud-port."
    )
    api_taken = run(["up", "--port", str(taken_port), "--cloud-port", str(free_port()), *data], env)
    assert _one_line(api_taken) == (
        f"Error: Port {taken_port} on 127.0.0.1 for the Proton API is in use by another program; stop that "
        "program or choose another port with --port."
    )
    assert not (tmp_path / "data" / "baryon.env").exists()


@pytest.mark.parametrize(
    ("variable", "value", "meaning"),
    [
        ("BARYON_LEASE_SECONDS", "abc", "above 0"),
        ("BARYON_LEASE_SECONDS", "0", "above 0"),
        ("BARYON_PULL_REQUEST_POLL_SECONDS", "soon", "above 0"),
        ("BARYON_RUN_TIMEOUT", "1h", "above 0 (0: no limit)"),
        ("BARYON_DEADLINE_CLOUDFORMATION_SECONDS", "abc", "above 0 (0: no limit)"),
        ("BARYON_DEADLINE_CLOUDFORMATION_SECONDS", "-5", "above 0 (0: no limit)"),
    ],
)
def test_a_bad_number_of_seconds_is_one_line(tmp_path: Path, variable: str, value: str, meaning: str) -> None:
    env = _env(tmp_path) | {variable: value}
    result = run(["credentials", "list"], env)
    assert _one_line(result) == f"Error: {variable} must be a number of seconds {meaning}, not {value!r}."


def test_up_refuses_a_port_out_of_range_and_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
    data = ["--data-dir", str(tmp_path / "data")]
    cloud_out = run(["up", "--port", str(free_port()), "--cloud-port", "99999", *data], env)
    assert _one_line(cloud_out) == (
        "Error: Port 99999 for the local cloud is not a port number (1-65535); choose another with "
        "--cloud-port."
    )
    next_out = run(["up", "--port", "65535", *data], env)
    assert _one_line(next_out) == (
        "Error: Port 65536 for the local cloud is not a port number (1-65535); choose another with "
        "--cloud-port."
    )
    (tmp_path / "a-file").write_text("")
    a_file = run(["up", "--port", str(free_port()), "--data-dir", str(tmp_path / "a-file")], env)
    assert _one_line(a_file) == (
        f"Error: File exists: {tmp_path / 'a-file'}; check the data dir (--data-dir, BARYON_DATA_DIR)."
    )


def test_a_second_up_on_one_data_dir_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
    data_dir = tmp_path / "data"

    def start(name: str) -> tuple[Process, int]:
        port = free_port()
        args = ["up", "--port", str(port), "--cloud-port", str(free_port()), "--data-dir", str(data_dir)]
        process = Process(args, env, tmp_path / f"{name}.log")
        wait_for_port(port, process=process.popen)
        return process, port

    first, _ = start("first")
    try:
        ports = ["--port", str(free_port()), "--cloud-port", str(free_port())]
        second = run(["up", *ports, "--data-dir", str(data_dir)], env)
        assert _one_line(second) == (
            f"Error: Another baryon up (pid {first.popen.pid}) is already using the data dir {data_dir}; "
            "stop it first, or give this one another --data-dir."
        )
    finally:
        first.stop(signal.SIGKILL)  # a crash: the OS releases the lock
    assert "Traceback" not in first.output()
    third, _ = start("third")
    third.stop()
    assert "Baryon is up" in third.output()
    assert "Traceback" not in third.output()


def test_alembic_speaks_only_when_asked(tmp_path: Path) -> None:
    quiet = run(["db", "upgrade"], _env(tmp_path))
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert quiet.stdout.startswith("database at revision ")
    verbose = run(["db", "upgrade", "--verbose"], {**_env(tmp_path / "again"), "BARYON_LOG_FORMAT": "text"})
    assert verbose.returncode == 0
    assert "INFO alembic.runtime.migration: Running upgrade  -> 0001" in verbose.stderr
    # Not a terminal, no BARYON_LOG_FORMAT: one JSON object a line.
    as_json = run(["db", "upgrade", "--verbose"], _env(tmp_path / "third"))
    lines = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert any(
        line["logger"] == "alembic.runtime.migration"
        and line["level"] == "INFO"
        and line["message"].startswith("Running upgrade  -> 0001")
        for line in lines
    )


@pytest.fixture
def port_below_a_taken_one() -> Iterator[tuple[int, int]]:
    """A free port P (from this worker's range) with P + 1 held open by the test."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as taken:
            try:
                taken.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            taken.listen()
            yield port, port + 1
            return
    raise RuntimeError("no free pair of adjacent ports")


def test_up_takes_another_cloud_port_when_the_derived_one_is_taken(
    tmp_path: Path, port_below_a_taken_one: tuple[int, int]
) -> None:
    """Only a port the user did not choose moves: with --port P and P + 1 taken, the local cloud listens on
    a free port and the exports say which."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
    port, taken_port = port_below_a_taken_one
    data_dir = tmp_path / "data"
    process = Process(["up", "--port", str(port), "--data-dir", str(data_dir)], env, tmp_path / "up.log")
    try:
        wait_for_port(port, process=process.popen)
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in (data_dir / "baryon.env").read_text().splitlines()
        )
        cloud = exports["AWS_ENDPOINT_URL_S3"]
        assert cloud.startswith("http://127.0.0.1:") and cloud != f"http://127.0.0.1:{taken_port}"
        wait_for_port(int(cloud.rsplit(":", 1)[1]), process=process.popen)
    finally:
        process.stop()
    assert "Traceback" not in process.output()
