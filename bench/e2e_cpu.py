"""CPU time and peak memory of the pipeline's processes, read from /proc: where each
conversation's CPU goes, and how much memory each service needs (deploy/k8s's requests).

CPU seconds per conversation hardly depend on how busy the machine is, unlike latencies; with the
machine's own busy fraction (from /proc/stat) they tell whether a run was starved.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu_s(pid: int) -> float:
    """utime + stime of the process, plus those of the children it has reaped; 0 if gone."""
    try:
        fields = _stat(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return sum(int(value) for value in fields[11:15]) * TICK_S


def tree_cpu_s(pid: int) -> float:
    """The process and its live children (a Postgres postmaster and its backends)."""
    total = process_cpu_s(pid)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            total += sum(int(value) for value in fields[11:13]) * TICK_S
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine so far, in ticks."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return total - idle, total


def snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far per named process tree, the bench's reaped children, the machine."""
    cpu = {name: tree_cpu_s(pid) for name, pid in pids.items()}
    cpu["bench sender+poller"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    cpu["bench sender+poller"] += resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
    busy, total = machine_busy()
    return cpu | {"_busy": busy, "_total": total}


def per_conversation(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    """CPU ms per conversation per process tree, and how busy the whole machine was (0..1)."""
    result = {
        name: round((after[name] - before[name]) / max(1, count) * 1000, 3)
        for name in before
        if not name.startswith("_")
    }
    total = after["_total"] - before["_total"]
    result["machine_busy_fraction"] = round((after["_busy"] - before["_busy"]) / max(1, total), 3)
    return result


def peak_rss_mib(pids: dict[str, int]) -> dict[str, float]:
    """Each process's own high-water resident memory (VmHWM) so far, in MiB; 0 if gone."""
    peaks = {}
    for name, pid in pids.items():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            peaks[name] = 0.0
            continue
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        peaks[name] = round(kib / 1024, 1)
    return peaks
