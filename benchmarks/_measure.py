"""Reading this process's memory figures (Linux /proc), shared by the benchmarks."""

from __future__ import annotations


def vm_mb(field: str = "VmHWM") -> float:
    """A /proc/self/status figure in MB: VmHWM is the peak RSS, VmRSS the current one.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent process.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
