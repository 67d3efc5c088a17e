"""The one OpenBLAS-environment policy of every tool that times NumPy.

Some machines set ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` to dodge bugs of old OpenBLAS
builds; a current NumPy's OpenBLAS then runs slower kernels. OpenBLAS reads them once, when NumPy
is imported, so a process that has imported NumPy cannot drop them: it runs itself again without
them (``reexec_without_openblas_vars``), and records what it removed in ``UNSET_MARKER`` so the
report can say so (``openblas_env``). ``python -m fastq bench`` / ``demo`` and the scripts in
bench/ all call this module.
"""

from __future__ import annotations

import os
import sys

__all__ = ["OPENBLAS_VARS", "UNSET_MARKER", "openblas_env", "reexec_without_openblas_vars"]

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Set in the re-executed process: the "NAME=value" pairs (joined by "\n") that were removed.
UNSET_MARKER = "_FASTQ_BENCH_UNSET_OPENBLAS"


def openblas_env() -> dict[str, dict[str, str]]:
    """What this process did about the OpenBLAS variables: ``unset`` (removed before NumPy was
    imported) and ``set`` (still in the environment, so NumPy runs with them)."""
    unset = {}
    for line in os.environ.get(UNSET_MARKER, "").splitlines():
        name, _, value = line.partition("=")
        if name:
            unset[name] = value
    present = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    return {"unset": unset, "set": present}


def reexec_without_openblas_vars(label: str, argv: list[str] | None = None) -> int | None:
    """If the OpenBLAS variables are set, run this process's command again without them.

    ``argv``: the command line to run after ``sys.executable`` and the interpreter's own options;
    default: this process's (``sys.argv``). On POSIX the process is replaced (``os.execve``: same
    pid, exit status, signals); elsewhere a child runs and its exit status is returned. Returns
    None when nothing had to be done (not set, or this is the re-executed process)."""
    present = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    if not present or os.environ.get(UNSET_MARKER):
        return None
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
    env[UNSET_MARKER] = "\n".join(f"{k}={v}" for k, v in present.items())
    orig = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    if argv is None:
        cmd = [sys.executable, *orig[1:]]
    else:  # keep the interpreter's options (-X ..., -I, ...) in front of `-m fastq`
        flags = orig[1 : orig.index("-m", 1)] if "-m" in orig[1:] else []
        cmd = [sys.executable, *flags, *argv]
    print(
        f"{label}: re-running without "
        + ", ".join(f"{k}={v}" for k, v in present.items())
        + " (set to dodge bugs of old OpenBLAS builds, they slow a current NumPy)",
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()
    if os.name == "posix":
        os.execve(sys.executable, cmd, env)  # does not return
    import subprocess

    return subprocess.call(cmd, env=env)
