"""Memory taken by hostile templates: a recursive macro over a string of emoji, rendered at once by
several threads of one process (as a worker's deployment threads would).

Each template is about 150 bytes: it builds the largest emoji string it can (999,999 characters unless
refused), then a macro calls itself with a fresh copy of it until a limit stops the render. The
benchmark prints, for the whole process, the resident set size before and at its peak (`ru_maxrss`) and
the peak of Python allocations (tracemalloc), with the message each render ended with.

Run from the repository root:

    python3 benchmarks/render_memory.py               # 4 renders at once, 999,999 emoji
    python3 benchmarks/render_memory.py --renders 1 --emoji 249999

The address space is capped (`--cap-mb`, default 6144) so that a build without the bounds fails with
MemoryError instead of exhausting the machine.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import threading
import tracemalloc

from baryon.render import RenderError, render_template

EMOJI = "\U0001f600"


def template(count: int) -> str:
    return (
        f'{{% set s = "{EMOJI}" * {count} %}}'
        f'{{% macro f(x) %}}{{% set y = x[1:] ~ "{EMOJI}" %}}{{{{ f(y) }}}}{{% endmacro %}}{{{{ f(s) }}}}'
    )


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--renders", type=int, default=4)
    parser.add_argument("--emoji", type=int, default=999_999)
    parser.add_argument("--cap-mb", type=int, default=6144)
    args = parser.parse_args()
    cap = args.cap_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    print(f"# {platform.python_implementation()} {platform.python_version()}, {' '.join(sys.argv)}")
    source = template(args.emoji)
    print(f"template: {len(source.encode())} bytes")
    before = rss_mb()
    messages: list[str] = []

    def render() -> None:
        try:
            render_template(source, {}, file_name="cloudformation.yaml")
            messages.append("rendered")
        except RenderError as error:
            messages.append(str(error))
        except MemoryError:
            messages.append("MemoryError")

    tracemalloc.start()
    threads = [threading.Thread(target=render) for _ in range(args.renders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"renders: {args.renders} at once, {args.emoji} emoji")
    print(f"RSS before: {before:.0f} MB, peak: {maxrss:.0f} MB; Python allocations peak: {peak / 1e6:.0f} MB")
    for message in sorted(set(messages)):
        print(f"  {messages.count(message)} x {message}")


if __name__ == "__main__":
    main()
