"""What cfn-lint costs a CloudFormation deployment: the first lint in a process (cfn-lint's import and rule
set) and later lints of different templates, measured on templates given as paths (rendered CloudFormation,
or any CloudFormation file), as `baryon.render.cfn_lint.lint` runs them in the engine.

    python3 benchmarks/cfn_lint_cost.py FILE.yaml [FILE.yaml ...] [--repeat 20]

Prints the machine, the first lint (cold, in a fresh interpreter: import + rules + lint), and for each file
the median and max of `--repeat` lints of a fresh text each time (the result cache is defeated by a
comment that changes), plus the resident memory the linter adds.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COLD = """
import sys, time
t = time.perf_counter()
from baryon.render.cfn_lint import lint
lint(open(sys.argv[1]).read(), "infrastructure/cloudformation.yaml", "us-east-1")
print(time.perf_counter() - t)
"""


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"# {platform.platform()}, {machine}, Python {platform.python_version()}")
    print(f"# {' '.join(sys.argv)}")
    cold = subprocess.run(
        [sys.executable, "-c", COLD, str(args.files[0])], capture_output=True, text=True, check=True
    )
    first = float(cold.stdout)
    print(f"first lint in a fresh process (import + rules + lint of {args.files[0].name}): {first:.2f} s")
    before = _rss_mib()
    from baryon.render.cfn_lint import lint, warm

    warm()
    print(f"memory added by the loaded linter: {_rss_mib() - before:.0f} MiB (max RSS)")
    for path in args.files:
        text = path.read_text()
        times = []
        for index in range(args.repeat):
            started = time.perf_counter()
            lint(f"{text}\n# {index}\n", "infrastructure/cloudformation.yaml", "us-east-1")
            times.append(time.perf_counter() - started)
        lines = text.count("\n")
        print(
            f"{path}: {lines} lines, median {statistics.median(times) * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms over {args.repeat} lints"
        )
    started = time.perf_counter()
    lint(f"{text}\n# {args.repeat - 1}\n", "infrastructure/cloudformation.yaml", "us-east-1")
    print(f"the same text again (cached): {(time.perf_counter() - started) * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
