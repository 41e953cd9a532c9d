"""The default DuckDB memory limit, chosen from the memory this machine has free.

Setting ``duckdb_memory_limit: auto`` (the default) resolves here; an explicit
size (``3GB``) overrides it. The build keeps its scratch layers in memory, and
DuckDB's own default (80 % of RAM) let a 10M-invoice build grow to 13.8 GB;
measured on 2 cores, a larger limit does not make the build faster (3 GB:
142 s, 12 GB: 118 s, 18 GB: 144 s at 10M), so the limit is half of the
available memory, capped at :data:`CAP_MIB` (the 4 GB peak-RSS target leaves
room for the process itself) and at least :data:`FLOOR_MIB`.
"""

from __future__ import annotations

import os
from pathlib import Path

CAP_MIB = 3 * 1024
FLOOR_MIB = 256
SHARE = 0.5


def available_mib(
    meminfo: Path = Path("/proc/meminfo"),
    cgroup_max: Path = Path("/sys/fs/cgroup/memory.max"),
) -> int | None:
    """Memory available to this process in MiB: MemAvailable, within a cgroup limit.

    Falls back to physical memory where ``/proc/meminfo`` is missing; None when
    nothing is known.
    """
    found: int | None = None
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) // 1024  # kB
                break
    except OSError:
        pass
    if found is None:
        try:
            found = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
        except (ValueError, OSError, AttributeError):
            return None
    try:
        limit = cgroup_max.read_text(encoding="ascii").strip()
        if limit.isdigit():
            found = min(found, int(limit) // 2**20)
    except OSError:
        pass
    return found


def auto_memory_limit(available: int | None = None) -> str:
    """DuckDB ``memory_limit`` for ``available`` MiB (default: measured now), e.g. ``"3072MiB"``."""
    mib = available_mib() if available is None else available
    if mib is None:
        return f"{CAP_MIB}MiB"
    return f"{max(FLOOR_MIB, min(CAP_MIB, int(mib * SHARE)))}MiB"
