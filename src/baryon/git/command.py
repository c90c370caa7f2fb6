"""Running the real `git` command for one remote, with its credential kept out of argv, URLs and errors.

Invariants: git runs without a shell, with a small fixed environment (no system or global git config,
no terminal prompts, C locale), in its own process group that is killed on timeout; a remote's token
reaches git only through `GIT_CONFIG_*` environment variables as an `http.<origin>.extraHeader` for that
one origin (never on the command line, never in a URL or a `.git/config`), and every error text is
scrubbed of the token and of its encoded forms before it leaves this module.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 300.0
REDACTED = "***"

#: Variables of the calling process that git may need to reach a remote (ssh agent, proxies, CAs).
_PASSED_THROUGH = (
    "PATH",
    "HOME",
    "SSH_AUTH_SOCK",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
    "TMPDIR",
)


class GitError(Exception):
    """A git command failed; the message is already free of secrets."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Remote:
    """A git remote: a URL without credentials, and the token (if any) that authenticates over http(s).

    `username` is the Basic-auth user paired with a token that holds no `user:` part of its own.
    """

    url: str
    token: str | None = field(default=None, repr=False)
    username: str = "x-access-token"

    def __post_init__(self) -> None:
        if "://" in self.url:
            parts = urlsplit(self.url)
            if parts.password is not None:
                raise ValueError("a remote URL must not carry a password; give the token separately")

    @property
    def is_http(self) -> bool:
        return self.url.startswith(("https://", "http://"))

    def _basic(self) -> str | None:
        if not self.token:
            return None
        pair = self.token if ":" in self.token else f"{self.username}:{self.token}"
        return base64.b64encode(pair.encode()).decode()

    def config(self) -> list[tuple[str, str]]:
        """git configuration that authenticates requests to this remote's origin (empty without a token)."""
        basic = self._basic()
        if basic is None or not self.is_http:
            return []
        parts = urlsplit(self.url)
        return [(f"http.{parts.scheme}://{parts.netloc}/.extraHeader", f"Authorization: Basic {basic}")]

    def secrets(self) -> list[str]:
        """Every form in which the token could show up in output."""
        if not self.token:
            return []
        found = [self.token]
        basic = self._basic()
        if basic:
            found.append(basic)
            found.append(base64.b64decode(basic).decode())
        return sorted(set(found), key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, REDACTED)
        return text


def environment(
    config: Sequence[tuple[str, str]] = (), extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment git runs with: isolated from the host's git configuration."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.update(
        LC_ALL="C",
        LANG="C",
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_ASKPASS="",
        SSH_ASKPASS="",
    )
    items = [("commit.gpgSign", "false"), ("credential.helper", ""), ("core.hooksPath", os.devnull)]
    items.extend(config)
    env["GIT_CONFIG_COUNT"] = str(len(items))
    for index, (key, value) in enumerate(items):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def _communicate(
    args: Sequence[str], cwd: Path | None, env: dict[str, str], timeout: float
) -> tuple[int, bytes, bytes]:
    """Run `git <args>` in its own process group; (exit status, stdout, stderr). GitError when git cannot
    start or does not finish within `timeout` (its whole group is killed)."""
    try:
        process = subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        raise GitError(f"git could not be started: {error.strerror}") from None
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise GitError(f"git {args[0]} did not finish within {timeout:g} seconds") from None
    return process.returncode, out, err


def run(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    remote: Remote | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
) -> Result:
    """Run `git <args>`; on failure (when `check`) raise GitError with scrubbed output."""
    env = environment(remote.config() if remote else (), extra_env)
    scrub = remote.scrub if remote else (lambda text: text)
    status, out, err = _communicate(args, cwd, env, timeout)
    result = Result(status, scrub(out.decode("utf-8", "replace")), scrub(err.decode("utf-8", "replace")))
    if check and result.returncode != 0:
        raise GitError(describe(args, result))
    return result


def output(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    remote: Remote | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    limit: int | None = None,
) -> bytes:
    """The raw standard output of `git <args>` (for binary content); GitError on failure, or when the
    output is longer than `limit` bytes."""
    env = environment(remote.config() if remote else (), extra_env)
    scrub = remote.scrub if remote else (lambda text: text)
    status, out, err = _communicate(args, cwd, env, timeout)
    if status != 0:
        raise GitError(describe(args, Result(status, "", scrub(err.decode("utf-8", "replace")))))
    if limit is not None and len(out) > limit:
        raise GitError(f"git {args[0]} wrote more than {limit} bytes")
    return out


def describe(args: Sequence[str], result: Result) -> str:
    detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
    lines = [line for line in detail if line.strip() and not line.startswith("hint:")]
    tail = "; ".join(lines[-5:]) if lines else f"exit status {result.returncode}"
    return f"git {args[0]} failed: {tail}"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
