#!/usr/bin/env python3
"""Keywheel desktop app vs an empty Tauri window: first paint and memory, side by side.

Run by `make bench-app` (through scripts/bench-app.sh, which builds both binaries and provides
Xvfb and a private D-Bus session). For each run it starts one binary on the current DISPLAY with
an isolated environment and `KEYWHEEL_BENCH_READY=1`, waits for the `KEYWHEEL_READY <unix ms>`
line the page sends after its first two animation frames (first paint = that time minus the
spawn time), lets it idle, sums PSS (and RSS, for reference) over the whole process tree (the
app, WebKitWebProcess, WebKitNetworkProcess and any bwrap / xdg-dbus-proxy helpers), then stops
the tree. Runs alternate between the two binaries; the table shows medians.

Where the first paint went: before `KEYWHEEL_READY` both binaries print a `KEYWHEEL_MARKS` line
(src-tauri/src/commands/window.rs): the main process's marks (`main` entered, `setup` reached,
`window` built, `state` opened — the app only) and the page's (`page.origin` = navigation start,
`page.html` = the HTML received, `page.script` = the bundle run, `page.mounted` = the app
mounted, `page.frame` = the second animation frame, when `app_ready` is sent), all as unix ms.
The table prints each as ms after spawn (medians), and `ready` = when the main process heard
`app_ready` (the first paint).

The web process's JavaScript heap: WebKit's JavaScriptCore logs every collection on stderr when
`JSC_logGC=1` is in its environment (the web process inherits the app's); the heap size the
last collection before the measurement left (`… => N kb`) is printed as "JS heap". A run
without a collection in it shows "-".

Targets: the app's PSS at most 1.2x the empty window's, first paint under 1000 ms. A MISS is
reported, not failed (exit 0); the exit status is non-zero only if something could not be
measured. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_APP = ROOT / "target" / "release" / "keywheel-app"
DEFAULT_EMPTY = ROOT / "target" / "release" / "keywheel-empty-window"
READY = "KEYWHEEL_READY"
MARKS = "KEYWHEEL_MARKS"
PSS_RATIO_TARGET = 1.2
FIRST_PAINT_TARGET_MS = 1000.0
TERM_GRACE_S = 3.0


class MeasureError(Exception):
    """Something could not be measured (the script exits non-zero)."""


@dataclass
class Proc:
    """One process of a measured tree."""

    pid: int
    name: str
    pss_kb: int
    rss_kb: int


@dataclass
class Run:
    """One measured run of one binary."""

    first_paint_ms: float
    procs: list[Proc] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # ms after spawn
    js_heap_kb: int | None = None

    @property
    def pss_kb(self) -> int:
        return sum(p.pss_kb for p in self.procs)

    @property
    def rss_kb(self) -> int:
        return sum(p.rss_kb for p in self.procs)


def log(msg: str) -> None:
    print(f"bench-app: {msg}", flush=True)


# ------------------------------------------------------------------------------------ /proc


def stat_fields(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # `pid (comm) state ppid ...`; comm may contain spaces and parentheses.
    rest = raw[raw.rfind(")") + 2 :].split()
    return rest[0], int(rest[1])


def all_ppids() -> dict[int, tuple[str, int]]:
    """Every live process: pid -> (state, ppid)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat_fields(int(entry))
            if fields is not None:
                out[int(entry)] = fields
    return out


def tree(root: int) -> list[int]:
    """The root and all its descendants (through /proc/*/stat ppid), zombies excluded."""
    procs = all_ppids()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in procs and procs[pid][0] != "Z":
            found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def proc_name(pid: int) -> str:
    """The executable's base name (argv[0]), falling back to comm."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        if argv0:
            return os.path.basename(argv0)
    except OSError:
        pass
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def memory(pid: int) -> tuple[int, int] | None:
    """(PSS kB, RSS kB) from /proc/<pid>/smaps_rollup, or None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Pss", "Rss"):
            values[key] = int(rest.split()[0])
    if "Pss" not in values:
        return None  # a kernel thread or a process on its way out: no mappings
    return values["Pss"], values.get("Rss", 0)


def become_subreaper() -> None:
    """Orphaned WebKit helpers get re-parented to us (and reaped here) instead of to PID 1."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap_orphans() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


# ------------------------------------------------------------------------------------ one run


def bench_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "KEYWHEEL_DATA_DIR": str(tmp / "data"),
            "KEYWHEEL_CONFIG": str(tmp / "config.toml"),  # empty (run_once writes it)
            "KEYWHEEL_KEYCHAIN": "off",
            "OPENROUTER_BASE_URL": "http://127.0.0.1:9/api/v1",
            "KEYWHEEL_BENCH_READY": "1",
            # JavaScriptCore logs each collection with the heap size it leaves (see the header).
            "JSC_logGC": "1",
        }
    )
    return env


GC_LINE = re.compile(r"=>\s*(\d+)\s*kb", re.IGNORECASE)


def js_heap_kb(stderr_path: Path) -> int | None:
    """The heap size (kB) the last logged JavaScriptCore collection left, if any."""
    try:
        text = stderr_path.read_text(errors="replace")
    except OSError:
        return None
    sizes = [int(m.group(1)) for line in text.splitlines() if "GC" in line for m in GC_LINE.finditer(line)]
    return sizes[-1] if sizes else None


def read_lines(stream, lines: queue.Queue) -> None:
    """Drains the child's stdout (so it never blocks on a full pipe) into a queue."""
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode(errors="replace").rstrip("\n"))
    lines.put(None)


def stop_tree(child: subprocess.Popen, pids: list[int]) -> None:
    """SIGTERM the whole tree, SIGKILL what is left after the grace period, reap."""
    # Collect again right before signalling: helpers may have been started since.
    pids = list(dict.fromkeys(tree(child.pid) + pids))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            if alive(pid):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + TERM_GRACE_S
        while time.monotonic() < deadline:
            child.poll()
            reap_orphans()
            if not any(alive(pid) for pid in pids):
                break
            time.sleep(0.05)
        else:
            left = [f"{pid} {proc_name(pid)}" for pid in pids if alive(pid)]
            if sig == signal.SIGTERM:
                log(f"  still running after SIGTERM, sending SIGKILL: {', '.join(left)}")
                continue
            raise MeasureError(f"processes survived SIGKILL: {', '.join(left)}")
        break
    try:
        child.wait(timeout=TERM_GRACE_S)
    except subprocess.TimeoutExpired as e:
        raise MeasureError(f"pid {child.pid} could not be reaped") from e
    # Helpers that outlived the main process were re-parented to us (a subreaper): reap them
    # until they are gone, so no <defunct> WebKit process is left behind.
    deadline = time.monotonic() + TERM_GRACE_S
    while time.monotonic() < deadline:
        reap_orphans()
        if all(stat_fields(pid) is None for pid in pids):
            break
        time.sleep(0.05)


def run_once(binary: Path, idle_s: float, timeout_s: float) -> Run:
    tmp = Path(tempfile.mkdtemp(prefix="keywheel-bench-"))
    (tmp / "data").mkdir()
    (tmp / "config.toml").write_text("")  # a named config file must exist
    stderr_path = tmp / "stderr.log"
    child = None
    pids: list[int] = []
    try:
        with open(stderr_path, "wb") as stderr:
            spawn_ms = time.time() * 1000.0
            child = subprocess.Popen(
                [str(binary)],
                env=bench_env(tmp),
                cwd=tmp,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=read_lines, args=(child.stdout, lines), daemon=True).start()

        ready_ms = None
        marks: dict[str, float] = {}
        deadline = time.monotonic() + timeout_s
        while ready_ms is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MeasureError(f"no {READY} line within {timeout_s:.0f} s")
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise MeasureError(f"exited (status {child.wait()}) before {READY}")
            if line.startswith(MARKS + " "):
                for item in line.split()[1:]:
                    name, _, at = item.partition("=")
                    try:
                        marks[name] = float(at) - spawn_ms
                    except ValueError:
                        pass
            if line.startswith(READY + " "):
                ready_ms = float(line.split()[1])
        first_paint = ready_ms - spawn_ms
        marks["ready"] = first_paint
        log(f"  first paint {first_paint:.0f} ms; idling {idle_s:g} s")

        time.sleep(idle_s)
        if child.poll() is not None:
            raise MeasureError(f"exited (status {child.returncode}) while idle")
        pids = tree(child.pid)
        result = Run(first_paint, js_heap_kb=js_heap_kb(stderr_path), marks=marks)
        log("  marks (ms after spawn): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(marks.items(), key=lambda kv: kv[1])))
        for pid in pids:
            mem = memory(pid)
            if mem is not None:
                name = "(main process)" if pid == child.pid else proc_name(pid)
                result.procs.append(Proc(pid, name, *mem))
        if not any(p.pid == child.pid for p in result.procs):
            raise MeasureError(f"could not read /proc/{child.pid}/smaps_rollup")
        for p in result.procs:
            log(
                f"    {p.pid:>7} {p.name:<22} "
                f"PSS {p.pss_kb / 1024:7.1f} MiB   RSS {p.rss_kb / 1024:7.1f} MiB"
            )
        heap = "-" if result.js_heap_kb is None else f"{result.js_heap_kb / 1024:.1f} MiB"
        log(
            f"  total {len(result.procs)} processes: "
            f"PSS {result.pss_kb / 1024:.1f} MiB, RSS {result.rss_kb / 1024:.1f} MiB; JS heap {heap}"
        )
        return result
    except MeasureError as e:
        tail = stderr_path.read_text(errors="replace")[-2000:] if stderr_path.exists() else ""
        if tail.strip():
            e.args = (f"{e.args[0]}\n--- stderr (tail) ---\n{tail}",)
        raise
    finally:
        if child is not None:
            log("  stopping the process tree (SIGTERM, SIGKILL after 3 s)")
            stop_tree(child, pids)
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------ report


def median(values: list[float]) -> float:
    return statistics.median(values)


def by_name(runs: list[Run]) -> dict[str, float]:
    """Median PSS (MiB) per process name over the runs (same-named processes summed per run)."""
    names = sorted({p.name for r in runs for p in r.procs})
    out = {}
    for name in names:
        per_run = [sum(p.pss_kb for p in r.procs if p.name == name) / 1024 for r in runs]
        out[name] = median(per_run)
    return out


def marks_table(app: list[Run], empty: list[Run], w: int) -> None:
    """Medians of each mark (ms after spawn), in the order the app reaches them."""

    def med_mark(runs: list[Run], name: str) -> float | None:
        values = [r.marks[name] for r in runs if name in r.marks]
        return median(values) if values else None

    names = {n for r in app + empty for n in r.marks}
    order = sorted(names, key=lambda n: med_mark(app, n) if med_mark(app, n) is not None else med_mark(empty, n))
    if names == {"ready"}:
        return
    print(f"  {'marks (ms after spawn)':<22} {'':>{w}} {'':>{w}} {'app-empty':>10}")
    for name in order:
        a, e = med_mark(app, name), med_mark(empty, name)
        fa = f"{a:.0f}" if a is not None else "-"
        fe = f"{e:.0f}" if e is not None else "-"
        diff = f"{a - e:+.0f}" if a is not None and e is not None else ""
        print(f"    {name:<20} {fa:>{w}} {fe:>{w}} {diff:>10}")


def report(app: list[Run], empty: list[Run], app_name: str, empty_name: str, idle_s: float) -> None:
    def med(runs: list[Run], f) -> float:
        return median([f(r) for r in runs])

    a_paint, e_paint = med(app, lambda r: r.first_paint_ms), med(empty, lambda r: r.first_paint_ms)
    a_pss, e_pss = med(app, lambda r: r.pss_kb / 1024), med(empty, lambda r: r.pss_kb / 1024)
    a_rss, e_rss = med(app, lambda r: r.rss_kb / 1024), med(empty, lambda r: r.rss_kb / 1024)
    a_n, e_n = med(app, lambda r: len(r.procs)), med(empty, lambda r: len(r.procs))
    ratio = a_pss / e_pss

    w = max(len(app_name), len(empty_name), 12)
    print()
    print(f"Medians over {len(app)} runs each (measured after {idle_s:g} s idle):")
    print(f"  {'':<22} {app_name:>{w}} {empty_name:>{w}} {'app/empty':>10}")
    print(f"  {'first paint (ms)':<22} {a_paint:>{w}.0f} {e_paint:>{w}.0f} {a_paint / e_paint:>10.2f}")
    print(f"  {'PSS, tree (MiB)':<22} {a_pss:>{w}.1f} {e_pss:>{w}.1f} {ratio:>10.2f}")
    print(f"  {'RSS, tree (MiB)':<22} {a_rss:>{w}.1f} {e_rss:>{w}.1f} {a_rss / e_rss:>10.2f}")
    print(f"  {'processes':<22} {a_n:>{w}g} {e_n:>{w}g}")

    def heap(runs: list[Run]) -> str:
        sizes = [r.js_heap_kb for r in runs if r.js_heap_kb is not None]
        return f"{median(sizes) / 1024:.1f}" if sizes else "-"

    print(f"  {'JS heap, web (MiB)':<22} {heap(app):>{w}} {heap(empty):>{w}}")
    marks_table(app, empty, w)
    print(f"  PSS by process (MiB){'':<1} {'':>{w}} {'':>{w}} {'app-empty':>10}")
    a_by, e_by = by_name(app), by_name(empty)
    for name in sorted(set(a_by) | set(e_by), key=lambda n: -a_by.get(n, 0.0)):
        a_v, e_v = a_by.get(name, 0.0), e_by.get(name, 0.0)
        print(f"    {name:<20} {a_v:>{w}.1f} {e_v:>{w}.1f} {a_v - e_v:>+10.1f}")
    print()
    pss_ok = ratio <= PSS_RATIO_TARGET
    paint_ok = a_paint < FIRST_PAINT_TARGET_MS
    print(f"  {'PASS' if pss_ok else 'MISS'}  PSS ratio {ratio:.2f} (target <= {PSS_RATIO_TARGET})")
    print(
        f"  {'PASS' if paint_ok else 'MISS'}  first paint {a_paint:.0f} ms "
        f"(target < {FIRST_PAINT_TARGET_MS:.0f} ms)"
    )


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "app", nargs="?", type=Path, default=DEFAULT_APP, help="the app binary (default: %(default)s)"
    )
    p.add_argument(
        "empty",
        nargs="?",
        type=Path,
        default=DEFAULT_EMPTY,
        help="the empty-window binary (default: %(default)s)",
    )
    p.add_argument("--runs", type=int, default=3, help="runs per binary (default: %(default)s)")
    p.add_argument(
        "--idle", type=float, default=5.0, help="idle seconds before measuring (default: %(default)s)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the first paint (default: %(default)s)",
    )
    args = p.parse_args()
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    for name, path in (("app", args.app), ("empty window", args.empty)):
        if not (path.is_file() and os.access(path, os.X_OK)):
            log(f"error: {name} binary missing or not executable: {path} (scripts/bench-app.sh builds it)")
            return 1
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        log("error: no DISPLAY (run under Xvfb: scripts/bench-app.sh does)")
        return 1
    become_subreaper()
    log(f"display {os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')}, "
        f"D-Bus {os.environ.get('DBUS_SESSION_BUS_ADDRESS', '(none)')}")
    log(f"app:   {args.app}")
    log(f"empty: {args.empty}")
    binaries = (args.app, args.empty)
    results: tuple[list[Run], list[Run]] = ([], [])
    try:
        for i in range(args.runs):
            for which in (0, 1) if i % 2 == 0 else (1, 0):  # alternate who goes first
                log(f"run {i + 1}/{args.runs}: starting {binaries[which].name}")
                results[which].append(run_once(binaries[which], args.idle, args.timeout))
    except MeasureError as e:
        log(f"error: could not measure: {e}")
        return 1
    report(results[0], results[1], args.app.name, args.empty.name, args.idle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
