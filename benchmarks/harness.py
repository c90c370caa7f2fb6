"""Process, port and database plumbing shared by the benchmarks in this folder.

Invariants: every child process is started in its own session and stopped by the benchmark that started
it (SIGTERM, then SIGKILL); throwaway PostgreSQL databases are dropped on exit; everything listens on
and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for the shared polling helper
from tests.support.waiting import poll

HOST = "127.0.0.1"


class BenchmarkError(RuntimeError):
    """Something broke: the run cannot produce meaningful numbers."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Processes:
    """Child processes started by the benchmark; each is stopped by its own pid."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
        with log_path.open("wb") as output:
            child = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children.append(child)
        return child

    def stop(self, child: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            with contextlib.suppress(Exception):
                self.stop(child, timeout=10.0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_listening(child: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float = 60.0) -> None:

    def listening() -> bool:
        if child.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise BenchmarkError(f"process exited with code {child.returncode} before listening:\n{tail}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
        except OSError:
            return False
        return True

    poll(listening, timeout=timeout, what=f"a server listening on {HOST}:{port}", error=BenchmarkError)


def baryon_argv() -> list[str]:
    found = shutil.which("baryon")
    if found:
        return [found]
    return [sys.executable, "-c", "from baryon.cli.main import main; main()"]


def run_baryon(args: list[str], env: dict[str, str], what: str, timeout: float = 300) -> str:
    completed = subprocess.run(
        [*baryon_argv(), *args], env=env, capture_output=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise BenchmarkError(f"`baryon {what}` failed:\n{completed.stderr.decode(errors='replace')[-3000:]}")
    return completed.stdout.decode()


def process_cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_reachable(admin_url: str) -> str | None:
    """None when a PostgreSQL server answers at admin_url, else the reason it does not."""
    import sqlalchemy as sa

    url = sa.make_url(admin_url)
    try:
        socket.create_connection((url.host or HOST, url.port or 5432), timeout=1).close()
    except OSError as error:
        return f"{url.host}:{url.port or 5432} unreachable ({error})"
    engine = sa.create_engine(admin_url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:
        return f"cannot connect ({type(error).__name__}: {str(error).splitlines()[0]})"
    finally:
        engine.dispose()
    return None


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    import sqlalchemy as sa

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"baryon_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": name},
            )
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def postgres_version(database_url: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(sa.text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def finite(value: Any) -> Any:
    """A report with NaN (nothing measured) as null, so that it is strict JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {str(key): finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def load_average() -> tuple[float, float, float] | None:
    """The machine's 1, 5 and 15 minute load averages, or None where the system has none."""
    try:
        return os.getloadavg()
    except OSError:
        return None


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def interrupt_on_signals() -> None:
    """Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt, so a run's clean-up (processes, temp dirs,
    databases) happens however it is stopped."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


def aws_clients(exports: dict[str, str], services: tuple[str, ...], pool: int = 32) -> dict[str, Any]:
    """boto3 clients for `services` as a user who sourced `baryon up`'s `baryon.env` (`exports`) has them:
    each at its `AWS_ENDPOINT_URL_<SERVICE>`, else at `AWS_ENDPOINT_URL`, else at the local cloud's
    CloudFormation endpoint; standard retries, `pool` connections each."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=pool)
    common = {
        "region_name": exports["AWS_DEFAULT_REGION"],
        "aws_access_key_id": exports["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": exports["AWS_SECRET_ACCESS_KEY"],
        "config": config,
    }
    cloud = exports.get("AWS_ENDPOINT_URL", exports["AWS_ENDPOINT_URL_CLOUDFORMATION"])
    return {
        service: boto3.client(
            service, endpoint_url=exports.get(f"AWS_ENDPOINT_URL_{service.upper()}", cloud), **common
        )
        for service in services
    }
