"""CPU seconds spent by the parts of a benchmark: a server's process group, or this process
with its children (threads, process pools and tools it ran), read before and after a step."""

from __future__ import annotations

import os
import resource
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def group_cpu(group: int) -> float:
    """User + system CPU seconds of every live process in a process group (a server and its
    workers: each Server starts a session of its own)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == group:  # fields[0] is the state: pgrp is the 5th field
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended (a pool, a tool it ran)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    """CPU seconds of this process (every thread) and of its children that have ended."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + children_cpu()
