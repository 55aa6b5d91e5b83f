"""benchlib.py - what the benchmarks in bench/ share: recording figures for
bench/run's table, describing the machine, rendering the table.

Every benchmark prints its own figures for a human and, when bench/run
started it (env KEEPTRACK_BENCH_RESULTS names a file), also appends one
JSON line per headline figure through record(). bench/run then prints all
of them as one markdown table (render_table) under the machine's
description (machine_lines). A benchmark run alone records nothing.

C benchmarks write the same JSON lines themselves (bench/bench_result.h).

Standard library only (Debian's python3).
"""
import json
import os
import platform
import subprocess

RESULTS_ENV = "KEEPTRACK_BENCH_RESULTS"


def record(name, figure, target="", met=None):
    """Appends one row for bench/run: name, the figure as printed (str),
    the target as printed ("" for none) and met (True/False, None = no target)."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    with open(path, "a") as f:
        f.write(json.dumps({"name": name, "figure": figure, "target": target, "met": met}) + "\n")


def _first(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def _compiler():
    for cc in (os.environ.get("CC") or "cc", "gcc"):
        try:
            out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout:
                return out.stdout.splitlines()[0]
        except OSError:
            continue
    return "?"


def machine_lines(load=None):
    """The machine's description as markdown list lines. load: the load
    average string to report (default: now)."""
    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    try:
        mem = f"{int(mem_kb) / 1024 / 1024:.1f} GiB"
    except ValueError:
        mem = "?"
    if load is None:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- CPU: {_first('/proc/cpuinfo', 'model name')}, {os.cpu_count()} logical cores",
        f"- memory: {mem}",
        f"- kernel: {platform.system()} {platform.release()}",
        f"- compiler: {_compiler()}",
        f"- load average (1, 5, 15 min) at start: {load}",
    ]


def render_table(rows):
    """rows: dicts as record() writes them -> markdown table lines."""
    out = ["| benchmark | figure | target | met? |", "|---|---|---|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "-"}[r.get("met")]
        out.append(f"| {r['name']} | {r['figure']} | {r.get('target') or '-'} | {met} |")
    return out


def load_rows(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    except OSError:
        pass
    return rows


def main(argv):
    """benchlib.py table RESULTS_FILE LOAD [FAILED...] - bench/run's report."""
    if len(argv) < 3 or argv[0] != "table":
        raise SystemExit("usage: benchlib.py table RESULTS_FILE LOAD [FAILED_BENCHMARK...]")
    rows = load_rows(argv[1])
    print("### keeptrack benchmarks")
    print()
    print("\n".join(machine_lines(argv[2])))
    print()
    print("\n".join(render_table(rows)))
    for name in argv[3:]:
        print(f"\n**{name} did not run to the end** (its log is named below).")


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
