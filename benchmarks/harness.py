"""Measure one benchmark step in a fresh Python process: wall time and peak memory, with a time limit.

Every measurement runs in its own subprocess (``run_task``), so one step's memory and caches do not
contaminate the next, and a step that runs too long is killed and reported as "did not finish".
Inside the subprocess (``python benchmarks/harness.py module:function '{"param": ...}'``) the task
function prepares its inputs (not timed) and calls ``measure`` on the step:

* time: ``time.perf_counter`` around the call, best of a few runs (fewer when a run is slow);
* peak resident memory: the process's high-water mark (``VmHWM``, reset before each run by writing
  5 to ``/proc/self/clear_refs``) minus its resident size just before the run, after ``gc.collect()``
  and ``malloc_trim(0)``: the memory the step adds, as the operating system sees it;
* peak traced memory: ``tracemalloc``'s peak during one more run (every Python and numpy allocation,
  to the byte; tracing slows Python-heavy code, so this run is timed separately and skipped when the
  untraced run took longer than ``trace_limit`` seconds).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import platform
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run_task(task: str, params: dict, timeout: float) -> dict:
    """Run ``task`` ("module:function" in benchmarks/) with ``params`` in a new process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), str(HERE), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, str(HERE / "harness.py"), task, json.dumps(params)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:  # subprocess.run kills the child before raising
        return {"status": "timeout", "timeout_s": timeout, "params": params}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"status": "error", "error": tail, "params": params, "returncode": proc.returncode}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(status="ok", process_wall_s=time.perf_counter() - start, params=params)
    return result


# --- inside the measuring process ------------------------------------------------------------------


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M).group(1))


def _release_free_memory() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(
    step,
    *,
    setup=None,
    repeats: int = 3,
    budget_s: float = 30.0,
    trace: bool = True,
    trace_limit: float = 120.0,
) -> dict:
    """Time ``step(*setup())`` (setup not timed), best of up to ``repeats`` runs within ``budget_s``.

    Returns best/all times (s), the peak resident memory the step added (MiB, largest over the runs),
    the tracemalloc peak (MiB) of one extra run, and the value of the last run (``value``, not JSON).
    """
    times, rss_peaks, value = [], [], None
    for _ in range(repeats):
        args = setup() if setup else ()
        value = None
        _release_free_memory()
        exact = _reset_peak()
        before = _status_kib("VmRSS")
        t0 = time.perf_counter()
        value = step(*args)
        times.append(time.perf_counter() - t0)
        peak = _status_kib("VmHWM") if exact else None
        rss_peaks.append(None if peak is None else (peak - before) / 1024)
        del args
        if sum(times) >= budget_s:
            break
    out = {
        "best_s": min(times),
        "times_s": times,
        "runs": len(times),
        "peak_rss_mib": max(rss_peaks) if rss_peaks[0] is not None else None,
        "value": value,
    }
    if trace and min(times) <= trace_limit:
        args = setup() if setup else ()
        value = None
        _release_free_memory()
        tracemalloc.start()
        tracemalloc.reset_peak()
        step(*args)
        out["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    else:
        out["traced_peak_mib"] = None
    return out


def machine_facts() -> dict:
    """CPU, cores, memory, software versions and thread settings of this machine."""
    import numpy
    import pandas

    cpu = "unknown"
    flags = ""
    try:
        text = open("/proc/cpuinfo").read()
        cpu = re.search(r"^model name\s*:\s*(.+)$", text, re.M).group(1).strip()
        mhz = re.search(r"^cpu MHz\s*:\s*(.+)$", text, re.M)
        cpu += f" ({float(mhz.group(1)):.0f} MHz)" if mhz else ""
        flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M).group(1)
    except (OSError, AttributeError):
        pass
    mem_total = _meminfo("MemTotal")
    versions = {"python": platform.python_version(), "numpy": numpy.__version__, "pandas": pandas.__version__}
    for name in ("scipy", "statsmodels", "lifelines", "sklearn", "psmpy"):
        try:
            from importlib.metadata import version

            versions[name] = version("scikit-learn" if name == "sklearn" else name)
        except Exception:  # noqa: BLE001 - a missing package is reported as such
            versions[name] = "not installed"
    threads = {k: os.environ.get(k, "unset") for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    blas = "unknown"
    try:
        config = numpy.show_config(mode="dicts")
        blas_info = config.get("Build Dependencies", {}).get("blas", {})
        blas = f"{blas_info.get('name', '?')} {blas_info.get('version', '')}".strip()
    except Exception:  # noqa: BLE001
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_total / 2**20, 1) if mem_total else None,
        "cgroup_memory_limit": _cgroup_limit(),
        "kernel": platform.release(),
        "simd": " ".join(f for f in ("avx2", "avx512f", "fma") if f in flags.split()),
        "versions": versions,
        "threads": threads,
        "blas": blas,
        "load_average": os.getloadavg(),
    }


def reference_seconds(repeats: int = 3) -> float:
    """Seconds of a fixed workload that does not depend on the book's code (a pure-Python loop of four million
    multiplications and 80 numpy Cholesky factorisations of one 300 x 300 matrix), best of `repeats`: read beside a
    benchmark's times, it tells a slower machine from slower code (this virtual machine's speed varies by a
    third within a day)."""
    import numpy

    a = numpy.random.default_rng(0).standard_normal((300, 300))
    a = a @ a.T + 300 * numpy.eye(300)
    best = float("inf")
    for _ in range(repeats):
        tick, total = time.perf_counter(), 0
        for i in range(4_000_000):
            total += i * i
        for _ in range(80):
            numpy.linalg.cholesky(a)
        best = min(best, time.perf_counter() - tick)
    return best


def _meminfo(key: str) -> int | None:
    try:
        return int(re.search(rf"^{key}:\s+(\d+) kB", open("/proc/meminfo").read(), re.M).group(1))
    except (OSError, AttributeError):
        return None


def _cgroup_limit() -> str:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            value = open(path).read().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < 2**60:
            return f"{int(value) / 2**30:.1f} GiB"
        return "none"
    return "none"


def _worker(task: str, params_json: str) -> None:
    module, function = task.split(":")
    result = getattr(importlib.import_module(module), function)(**json.loads(params_json))
    print(json.dumps(result, default=float))


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "src"), str(HERE)]
    _worker(sys.argv[1], sys.argv[2])
