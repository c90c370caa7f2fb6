"""The local cloud's process: moto's server, restored from its snapshot, saving its state as it changes.

Run as `python -m baryon.localcloud.server --host H --port P [--state FILE]` (by `LocalCloud`). Without
`--state` it is moto's plain server. With it:

1. the snapshot at FILE, if any, is restored before the port is opened; one that does not fit the
   installed moto (or is damaged) is set aside beside it and the cloud starts empty;
2. once listening, one line of JSON goes to stdout for the parent — `{"restored": counts, "savedAt": t}`,
   `{"empty": true}` or `{"setAside": path, "reason": text}` — and stdout is then closed;
3. requests run through `persist.Guarded`: a snapshot follows each burst of changes; stack updates
   change what they describe (`updates`);
4. SIGTERM or SIGINT stops serving and writes the last snapshot before the process exits (0).

Invariants: the snapshot is never half-written (see `snapshot.write`); a second signal during the final
save is ignored, so the save completes; moto's request log is kept at WARNING on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from baryon.localcloud import snapshot, updates
from baryon.localcloud.persist import Gate, Guarded, Saver

logger = logging.getLogger("baryon.localcloud")


class _Stop(Exception):
    """Raised in the serving thread by SIGTERM or SIGINT."""


def _stop(signum: int, frame: Any) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    raise _Stop


def restore(path: Path) -> dict[str, Any]:
    """Restore from `path` when it exists; the report line for the parent."""
    if not path.exists():
        return {"empty": True}
    try:
        header = snapshot.load(path)
    except snapshot.SnapshotProblem as problem:
        why = "incompatible" if isinstance(problem, snapshot.Incompatible) else "unreadable"
        moved = snapshot.set_aside(path, why)
        return {"setAside": str(moved), "reason": str(problem)}
    return {"restored": header.counts, "savedAt": header.saved_at}


def _report(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="baryon.localcloud.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, default=None, help="Snapshot file to restore from and save to.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.setdefault("MOTO_PORT", str(args.port))

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    updates.install()
    report = restore(args.state) if args.state is not None else {"empty": True}
    application: Any = DomainDispatcherApplication(create_backend_app)
    application.debug = True
    saver: Saver | None = None
    if args.state is not None:
        state: Path = args.state
        gate = Gate()

        def save() -> None:
            snapshot.save(state)

        saver = Saver(gate, save)
        application = Guarded(application, gate, saver)
    server = make_server(args.host, args.port, application, threaded=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    try:
        _report(report)
        server.serve_forever()
    except _Stop:
        pass
    finally:
        server.server_close()
        if saver is not None:
            saver.close()


if __name__ == "__main__":
    main()
