"""``ahasd reproduce`` against its budgets (issue 5): full matrix < 2 min, ``--quick`` < 20 s.

Run: ``python benchmarks/bench_reproduce.py [--skip-full] [--jobs N]``.
Each command runs as a fresh ``ahasd reproduce`` process into a temporary folder. Printed per
command: wall time, the CPU seconds of the whole process tree (main process, executor workers,
forkserver; sampled from /proc every 0.1 s, so a little is missed at the end), wall / budget, and
the load average while it ran. On a shared machine the wall time grows with other load; the CPU
seconds do not, and CPU / cores is what an idle machine's wall time approaches.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGETS_S = {"--quick": 20.0, "full": 120.0}
_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds so far) for every readable process (Linux /proc)."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(d)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TCK)
    return table


def run(args: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s of the process tree, exit code) of one command."""
    env = {**os.environ, "AHASD_NO_PROGRESS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    cpu: dict[int, float] = {}
    while proc.poll() is None:
        table, tree = _proc_table(), {proc.pid}
        grew = True
        while grew:
            grew = False
            for pid, (ppid, _) in table.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        cpu.update({pid: table[pid][1] for pid in tree if pid in table})
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.stderr.write(proc.stderr.read().decode(errors="replace"))
    return wall, sum(cpu.values()), proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-full", action="store_true", help="only --quick")
    ap.add_argument("--jobs", type=int, default=0, help="passed to reproduce (0 = one per core)")
    opts = ap.parse_args()
    exe = [sys.executable, "-m", "ahasd.cli.main"]
    cores = os.cpu_count() or 1
    print(f"{cores} cores; load average before: {os.getloadavg()[0]:.1f}")
    head = ("command", "wall s", "CPU s", "CPU/cores", "wall/budget", "load")
    print(f"{head[0]:<22}" + "".join(f"{h:>12}" for h in head[1:]))
    for mode in ("--quick", "full"):
        if mode == "full" and opts.skip_full:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            args = [*exe, "reproduce", "--out", tmp, "--jobs", str(opts.jobs)]
            args += [mode] if mode != "full" else []
            wall, cpu, code = run(args)
        name = f"reproduce {mode if mode != 'full' else ''}".strip()
        print(f"{name:<22}{wall:>12.1f}{cpu:>12.1f}{cpu / cores:>12.1f}"
              f"{wall / BUDGETS_S[mode]:>12.2f}{os.getloadavg()[0]:>12.1f}"
              + ("" if code == 0 else f"  (exit {code})"))  # fmt: skip


if __name__ == "__main__":
    main()
