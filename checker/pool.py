"""Supervised workers: each compile and each case runs in a process we can kill.

A hung Triton compile holds the GIL inside native code, so neither pytest-timeout's thread
method nor a signal handler in the same process can stop it (measured). The supervisor below
owns the timeout instead: the worker is ``python -m checker.pool`` in its own session, so it and
everything it starts (ptxas) form one process group. It is forked by the fork server
(checker.forkserver: an interpreter that imported torch, triton and helion once and never touched
CUDA), so a new worker is ready in milliseconds; never a fork of the supervisor, which may hold
CUDA or interpreter state. Where no fork server can run it is a fresh interpreter, as before. On
timeout: SIGTERM to the group, a short grace, SIGKILL; the worker is replaced on the next job.
The worker's stderr goes to a file, not a pipe, so any amount of output cannot block it; its tail
is kept for crash records.

Jobs and results cross the pipe as length-prefixed pickles; each job travels with the parent's
kernel module names (checker.loader), so generated code can import its kernel's module.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from checker import forkserver

#: Seconds between SIGTERM and SIGKILL of a timed-out worker's process group.
KILL_GRACE_S = 2.0
#: Seconds a fresh worker may take to start and import WARM_MODULES (pool.WarmUp).
STARTUP_TIMEOUT_S = 180.0
#: The wall-clock backstop of a job limited by CPU time (a compile's budget, a CPU case's
#: --run-timeout), in multiples of its CPU limit: on this project's 2-core machine shared with 7
#: other jobs (load average 15), a spinning job got 1.15 CPU s in 6 s of wall time, a fifth of a
#: core. A job that uses no CPU (a deadlock, a wait on a pipe) is killed there.
WALL_BACKSTOP = 10.0
#: What compile and case jobs import (torch and triton through them; helion): imported before any
#: job's clock runs.
WARM_MODULES = (
    "checker.compile",
    "checker.diagnostics",
    "checker.targets",
    "checker.execute",
    "helion.runtime",
)
#: Characters of worker stderr kept in a crash record.
STDERR_TAIL = 4000
#: Seconds between two reads of a job's CPU time while it runs under a CPU limit.
CPU_POLL_S = 0.25
#: Signals that make a compile worker's death a ``compiler-crash`` (any other end: ``worker-died``);
#: the standalone reproducer gets the same set (checker/triage/repro.py).
CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE})


@dataclass(frozen=True)
class CompileJob:
    """One compile: generated ``code``, its host function ``entry`` and described ``args``."""

    code: str
    entry: str
    args: tuple[Any, ...]
    target: Any  # checker.targets.Target
    level: str = "full"  # checker.compile.Level
    # Test hook: "segv", "abort", "exit" or "hang" (waits, ignoring SIGTERM) make the worker
    # misbehave for real; "spin" keeps a CPU busy until killed (a really slow compile);
    # "stall-once:PATH" waits like a starved compile the first time (creating PATH), then compiles.
    fault: str | None = None

    def handle(self) -> JobOutcome:
        """Run in the worker process: compile, or say why not."""
        return _handle(self)


@dataclass(frozen=True)
class WarmUp:
    """The first job of every worker: the imports jobs need (WARM_MODULES), before any job's
    clock runs."""

    def handle(self) -> JobOutcome:
        import importlib

        started = time.perf_counter()
        for name in WARM_MODULES:
            importlib.import_module(name)
        return Ok(seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class Ok:
    """The job finished: ``result`` is what it made (a CompileResult, a Record, None for a
    health check); ``seconds`` its wall time in the worker; ``stderr_tail`` what it printed."""

    result: Any = None
    seconds: float = 0.0
    stderr_tail: str = ""
    #: CPU seconds (user + system, its children included) the worker used for the job; None
    #: where /proc cannot be read or the job was queued by :meth:`Worker.start`.
    cpu_s: float | None = None


@dataclass(frozen=True)
class Error:
    """The job raised and the worker survived: ``diagnosis`` is checker.diagnostics.classify's."""

    diagnosis: Any
    seconds: float = 0.0
    stderr_tail: str = ""
    #: As :attr:`Ok.cpu_s`.
    cpu_s: float | None = None


@dataclass(frozen=True)
class TimedOut:
    """The supervisor killed the worker's process group after ``timeout_s`` seconds of wall time.

    ``cpu_s`` is the CPU time (user + system, seconds) the group used during the job, read from
    /proc when the job was sent and just before the kill (None where /proc is not readable): a
    compile that got far less CPU than wall time was starved by other work, not slow
    (docs/records.md).
    """

    seconds: float
    timeout_s: float
    cpu_s: float | None = None
    #: The step a :class:`Pause` announced when the kill came inside it (it outlived its
    #: allowance), else None.
    step: str | None = None
    #: Seconds of ``seconds`` spent in paused steps, which ``timeout_s`` does not count.
    paused_s: float = 0.0
    #: The wall-time allowance (seconds) of the paused :attr:`step` the kill came in, else None.
    step_allowance_s: float | None = None
    #: The CPU seconds the job was allowed (:meth:`Worker.run`'s ``cpu_limit_s``), None when
    #: only wall time limited it. A kill for CPU time has ``cpu_s >= cpu_limit_s``.
    cpu_limit_s: float | None = None

    @property
    def by_cpu(self) -> bool:
        """Whether the job was killed for its CPU time, not its wall time."""
        return self.cpu_limit_s is not None and self.cpu_s is not None and self.cpu_s >= self.cpu_limit_s


@dataclass(frozen=True)
class Pause:
    """Sent by a running job to its supervisor before a step that has timeouts of its own (a
    case worker's compile, under --compile-timeout): the job's clock stops, and the step may
    take at most ``allowance_s`` seconds of wall time. Not an answer; :class:`Resume` follows.
    Sent with :func:`clock_paused`."""

    step: str
    allowance_s: float


@dataclass(frozen=True)
class Resume:
    """The step the last :class:`Pause` announced is over: the job's clock runs again."""


@dataclass(frozen=True)
class Died:
    """The worker exited without answering: killed by ``signal`` (a name such as ``SIGSEGV``) or
    exited with ``exit_status``; ``crash_signal`` is True for SIGSEGV/SIGABRT/SIGBUS/SIGILL/SIGFPE;
    ``stderr_tail`` is the last STDERR_TAIL bytes it wrote."""

    seconds: float = 0.0
    signal: str | None = None
    exit_status: int | None = None
    stderr_tail: str = ""
    crash_signal: bool = False

    @property
    def how(self) -> str:
        """``signal SIGSEGV`` or ``exit status 3``."""
        return f"signal {self.signal}" if self.signal else f"exit status {self.exit_status}"


#: The worker's answer, or what the supervisor saw happen to it: a closed set of four.
JobOutcome = Ok | Error | TimedOut | Died


def _write_frame(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes | None:
    """Read n bytes from fd; None on EOF; raises TimeoutError past ``deadline``."""
    chunks: list[bytes] = []
    while n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class Worker:
    """One supervised worker process; restarted after a timeout or death.

    A job is any picklable object with a ``handle() -> JobOutcome`` method (CompileJob here,
    checker.exec_worker.CaseJob for whole cases). ``interpret`` starts the worker with
    TRITON_INTERPRET=1 (cases on CPU); otherwise it is removed, as compiling for a GPU needs.
    """

    def __init__(self, interpret: bool = False) -> None:
        self._proc: subprocess.Popen[bytes] | forkserver.ForkedProcess | None = None
        self._stderr: IO[bytes] | None = None
        self._interpret = interpret
        # Jobs sent by :meth:`start` whose answers are not read yet, with their timeouts.
        self._pending: list[tuple[Any, float]] = []
        atexit.register(self.close)

    def _start(self) -> subprocess.Popen[bytes] | forkserver.ForkedProcess:
        env = worker_env(self._interpret)
        # Lives as long as the worker process, across jobs.
        self._stderr = tempfile.TemporaryFile(prefix="kcheck-worker-stderr-")  # noqa: SIM115
        forked = forkserver.fork("checker.pool", env, self._stderr.fileno(), WARM_MODULES)
        if forked is not None:
            self._proc = forked
            return forked
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "checker.pool"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            start_new_session=True,
        )
        return self._proc

    @property
    def alive(self) -> bool:
        """True while a worker process is running (it is started lazily by :meth:`run`)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pending(self) -> bool:
        """True while jobs queued by :meth:`start` have not been answered (see :meth:`settle`)."""
        return bool(self._pending)

    def start(self, *jobs: tuple[Any, float]) -> None:
        """Start the worker process now and queue its warm-up and ``jobs`` (``(job, timeout_s)``
        pairs), without waiting: the worker imports torch, triton and helion (14-20 s on the
        H200 host, docs/benchmarks.md) while the caller does something else, such as collecting.
        The answers are read by :meth:`settle`, or by the next :meth:`run`. A running worker is
        left as it is.
        """
        if self.alive:
            return
        self._start()
        self._pending = [(WarmUp(), STARTUP_TIMEOUT_S), *jobs]
        try:
            for job, _ in self._pending:
                # Without kernel modules: the registry may still name the files of an earlier
                # session in this process (pytester), and a worker keeps what it registers.
                self._send(job, registered=False)
        except BrokenPipeError:
            pass  # died at once: settle() reads no answer and reports how it died

    def settle(self) -> JobOutcome | None:
        """Wait for the answers to the jobs :meth:`start` queued, each within its timeout from
        when the worker could start on it; the last answer, or the first that is not Ok (the
        worker is then stopped); None when nothing was queued."""
        outcome: JobOutcome | None = None
        ready = time.monotonic()
        while self._pending:
            _, timeout_s = self._pending.pop(0)
            outcome = self._receive(ready, timeout_s, None, self._stderr_size())
            ready = time.monotonic()
            if not isinstance(outcome, Ok):
                self._pending.clear()
                self.kill()
                break
        return outcome

    def run(self, job: Any, timeout_s: float, cpu_limit_s: float | None = None) -> JobOutcome:
        """Run ``job`` in the worker, waiting at most ``timeout_s`` seconds for its answer, and
        killing it once its process group used ``cpu_limit_s`` CPU seconds (user + system,
        ptxas included; read from /proc every CPU_POLL_S; None: no CPU limit). A CPU limit
        measures the job, not its neighbours: on a busy host wall time grows, CPU time does not
        (docs/records.md); ``timeout_s`` stays as a backstop.

        A worker started for this job first imports what jobs use (:class:`WarmUp`, up to
        STARTUP_TIMEOUT_S), so that ``timeout_s`` measures the job, not the interpreter's start:
        a compile timeout once counted a fresh worker's imports, which take seconds on a loaded
        machine. A worker that fails to start answers with its own Died or TimedOut, as does one
        whose jobs queued by :meth:`start` did not all succeed.
        """
        if self._proc is None or self._proc.poll() is not None:
            self._pending.clear()
            self.start()
        if self._pending:
            settled = self.settle()
            if not isinstance(settled, Ok):
                assert settled is not None
                return settled
        return self._exchange(job, timeout_s, cpu_limit_s)

    def _send(self, job: Any, registered: bool = True) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        from checker import loader

        # Kernel modules loaded here must be importable there too: generated code may
        # `import` its kernel's module by the name the loader gave it.
        _write_frame(proc.stdin, (loader.registered() if registered else {}, job))

    def _exchange(self, job: Any, timeout_s: float, cpu_limit_s: float | None = None) -> JobOutcome:
        proc = self._proc
        assert proc is not None
        log_start = self._stderr_size()
        # CPU time is cumulative since the worker started (its imports, earlier jobs): a timed-out
        # job is judged by what it used itself. Between jobs the worker has no live children, so
        # its own stat file is the group's total: no scan of /proc on every job.
        cpu_at_start = process_cpu_seconds(proc.pid)
        started = time.monotonic()
        try:
            self._send(job)
        except BrokenPipeError:
            return self._died(started)
        return self._receive(started, timeout_s, cpu_at_start, log_start, cpu_limit_s)

    def _receive(
        self,
        started: float,
        timeout_s: float,
        cpu_at_start: float | None,
        log_start: int,
        cpu_limit_s: float | None = None,
    ) -> JobOutcome:
        """Read the answer to the oldest job sent and not answered, waiting until ``started +
        timeout_s`` plus the time the job spent in steps it paused its clock for (each at most
        its :class:`Pause`'s allowance); ``cpu_at_start``: the worker's CPU seconds when it got
        the job (None: not known, a queued job), ``log_start``: its stderr size then;
        ``cpu_limit_s``: the CPU seconds after which it is killed, outside paused steps."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        deadline = started + timeout_s
        paused: Pause | None = None
        paused_at = left = paused_s = 0.0
        while True:
            if cpu_limit_s is not None and cpu_at_start is not None and paused is None:
                over = self._wait_within_cpu(deadline, cpu_at_start, cpu_limit_s)
                if over is not None:
                    self.kill()
                    now = time.monotonic()
                    return TimedOut(
                        round(now - started, 3),
                        timeout_s,
                        over,
                        paused_s=round(paused_s, 3),
                        cpu_limit_s=cpu_limit_s,
                    )
            try:
                header = _read_exact(proc.stdout.fileno(), 8, deadline)
                body = (
                    None
                    if header is None
                    else _read_exact(proc.stdout.fileno(), struct.unpack("<Q", header)[0], None)
                )
            except TimeoutError:
                cpu_now = group_cpu_seconds(proc.pid)
                cpu_s = None if cpu_now is None or cpu_at_start is None else round(cpu_now - cpu_at_start, 3)
                self.kill()
                now = time.monotonic()
                paused_s += now - paused_at if paused is not None else 0.0
                return TimedOut(
                    round(now - started, 3),
                    timeout_s,
                    cpu_s,
                    step=paused.step if paused is not None else None,
                    paused_s=round(paused_s, 3),
                    step_allowance_s=paused.allowance_s if paused is not None else None,
                )
            except BrokenPipeError:
                body = None
            if body is None:
                return self._died(started)
            message = pickle.loads(body)
            now = time.monotonic()
            if isinstance(message, Pause) and paused is None:
                # The clock stops with ``left`` seconds on it; the step has its allowance.
                paused, paused_at, left = message, now, max(0.0, deadline - now)
                deadline = now + message.allowance_s + left
                continue
            if isinstance(message, Resume) and paused is not None:
                paused, paused_s, deadline = None, paused_s + now - paused_at, now + left
                continue
            if isinstance(message, (Pause, Resume)):
                continue  # unbalanced: a nested pause keeps the outer one's clock
            break
        outcome: JobOutcome = message
        if isinstance(outcome, TimedOut):
            raise TypeError("a worker never answers TimedOut; only its supervisor decides that")
        # What the job printed (MLIR diagnostics name a failing pass; device asserts flood),
        # after what the worker itself reported (the traceback of a job that raised).
        printed = self.log_since(log_start)
        outcome = dataclasses.replace(
            outcome, stderr_tail="\n".join(filter(None, [outcome.stderr_tail, printed]))
        )
        if isinstance(outcome, (Ok, Error)) and cpu_at_start is not None:
            # Between jobs the worker has no live children: its own stat file is the group's.
            cpu_now = process_cpu_seconds(proc.pid)
            if cpu_now is not None:
                outcome = dataclasses.replace(outcome, cpu_s=round(cpu_now - cpu_at_start, 3))
        return outcome

    def _wait_within_cpu(self, deadline: float, cpu_at_start: float, cpu_limit_s: float) -> float | None:
        """Wait until the worker's answer can be read or ``deadline`` passes, reading the
        group's CPU time every CPU_POLL_S: the CPU seconds used since ``cpu_at_start`` once they
        reach ``cpu_limit_s`` (the job is then over its limit), else None."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or select.select([fd], [], [], min(left, CPU_POLL_S))[0]:
                return None
            cpu_now = group_cpu_seconds(proc.pid)
            if cpu_now is not None and cpu_now - cpu_at_start >= cpu_limit_s:
                return round(cpu_now - cpu_at_start, 3)

    def _died(self, started: float) -> JobOutcome:
        assert self._proc is not None
        status = self._proc.wait()
        tail = self._stderr_tail()
        self.kill()
        sig = signal.Signals(-status).name if status < 0 else None
        return Died(
            seconds=round(time.monotonic() - started, 3),
            signal=sig,
            exit_status=status if status >= 0 else None,
            stderr_tail=tail,
            crash_signal=status < 0 and signal.Signals(-status) in CRASH_SIGNALS,
        )

    def _stderr_size(self) -> int:
        if self._stderr is None:
            return 0
        return self._stderr.seek(0, os.SEEK_END)

    def log_since(self, offset: int, head: int = 20, tail: int = 20) -> str:
        """What the worker wrote to stderr (and stdout) after byte ``offset``, capped to the first
        ``head`` and last ``tail`` lines with a count of the lines cut: a device assert fired by
        every thread prints a line per thread."""
        if self._stderr is None:
            return ""
        self._stderr.seek(offset)
        first: list[bytes] = []
        last: list[bytes] = []
        total = 0
        for line in self._stderr:
            total += 1
            if len(first) < head:
                first.append(line)
            else:
                last.append(line)
                if len(last) > tail:
                    last.pop(0)
        cut = total - len(first) - len(last)
        text = b"".join(first).decode("utf-8", "replace")
        if cut:
            text += f"... [{cut} lines cut, {total} in all] ...\n"
        return text + b"".join(last).decode("utf-8", "replace")

    def _stderr_tail(self) -> str:
        """The last STDERR_TAIL bytes the worker wrote to stderr."""
        if self._stderr is None:
            return ""
        size = self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, size - STDERR_TAIL))
        return self._stderr.read().decode("utf-8", "replace")

    def kill(self) -> None:
        """Stop the worker and its whole process group (ptxas included): SIGTERM, grace, SIGKILL."""
        proc, self._proc = self._proc, None
        self._pending.clear()
        # pid -1: a fork server that never forked the worker; there is no group to signal (and
        # killpg(-1) would signal init).
        if proc is not None and proc.pid > 1:
            for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(wait)
                    if sig is signal.SIGTERM:
                        # The leader is gone; children (ptxas) may not be.
                        os.killpg(proc.pid, signal.SIGKILL)
                    break
                except subprocess.TimeoutExpired:
                    continue
                except ProcessLookupError:
                    break
        self._release(proc)

    def close(self) -> None:
        """Stop the worker for good (its process is done with it): SIGKILL to its process group,
        without waiting for the worker to die. A case worker holding a CUDA context took 1.7 s to
        exit on an H100 (2026-12-07, docs/benchmarks.md), and each xdist worker waited for its
        own at its exit, and the run for them; between jobs a worker has nothing to finish, and
        its group (ptxas included) dies with it. (:meth:`kill` waits: a recycled worker's GPU
        memory must be free before the next one starts.)"""
        proc, self._proc = self._proc, None
        self._pending.clear()
        if proc is not None and proc.pid > 1:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self._release(proc)

    def _release(self, proc: subprocess.Popen[bytes] | forkserver.ForkedProcess | None) -> None:
        """Close this side of ``proc``'s pipes and the stderr file."""
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None


def _stat_fields(pid: int | str) -> list[str] | None:
    """Fields 3 onward of /proc/<pid>/stat, None when it cannot be read (gone, not Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ")".
    return stat[stat.rindex(")") + 2 :].split()


def _cpu_ticks(fields: list[str]) -> int:
    return sum(int(v) for v in fields[11:15])  # utime stime cutime cstime


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by process ``pid`` and its reaped children; None
    where /proc cannot be read. For a worker between jobs (no live children) this is its whole
    process group's, read from one file instead of a scan of /proc."""
    fields = _stat_fields(pid)
    return None if fields is None else round(_cpu_ticks(fields) / _TICKS, 3)


def group_cpu_seconds(pgid: int) -> float | None:
    """CPU seconds (user + system) used so far by the live processes of process group ``pgid``,
    from /proc/<pid>/stat; None where /proc cannot be read (not Linux). Children that already
    exited count only once reaped by their parent (cutime/cstime of the parent)."""
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)  # None: gone since listdir
        if fields is not None and int(fields[2]) == pgid:  # field 5, pgrp
            total += _cpu_ticks(fields)
    return round(total / _TICKS, 3)


def worker_env(interpret: bool) -> dict[str, str]:
    """The environment of a worker: this process's, with TRITON_INTERPRET=1 for cases run by
    the Triton interpreter on CPU and without it for anything compiled."""
    env = dict(os.environ)
    env.pop("TRITON_INTERPRET", None)
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    return env


def prestart_fork_servers(interpret: bool) -> None:
    """Start the fork servers of this run's workers now, without waiting for their imports;
    processes started after this (xdist workers, their case workers) use them too
    (checker.forkserver). Case workers (``interpret``: under the Triton interpreter, on CPU) get
    theirs preloading now; on CPU compile workers get a lazy one, which imports only if a compile
    is not cached."""
    forkserver.prestart(worker_env(interpret), WARM_MODULES)
    if interpret:
        forkserver.prestart(worker_env(False), WARM_MODULES, lazy=True)


#: The name the compile stage uses (every Worker can compile).
CompileWorker = Worker


def _handle(job: CompileJob) -> JobOutcome:
    from checker import diagnostics, targets
    from checker.compile import compile_for_target
    from checker.run_options import Level

    targets.use_target_on_cpu(job.target)
    if job.fault == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif job.fault == "abort":
        os.abort()
    elif job.fault == "exit":
        os._exit(3)
    elif job.fault == "hang":
        # Like a compile stuck in native code: ignores SIGTERM, so SIGKILL must follow.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        subprocess.run(["sleep", "600"], check=False)
    elif job.fault == "spin":
        while True:
            pass
    elif job.fault is not None and job.fault.startswith("stall-once:"):
        marker = job.fault.split(":", 1)[1]
        if not os.path.exists(marker):
            open(marker, "w").close()
            time.sleep(600)
    started = time.perf_counter()
    try:
        result = compile_for_target(job.code, job.entry, job.args, job.target, Level(job.level))
    except Exception as exc:
        return Error(diagnostics.classify(exc), seconds=time.perf_counter() - started)
    return Ok(result, seconds=result.seconds)


#: In a worker process: the stream its answers go to (set by :func:`_serve`), for
#: :func:`clock_paused`; None elsewhere.
_answers: IO[bytes] | None = None


@contextlib.contextmanager
def clock_paused(step: str, allowance_s: float) -> Iterator[None]:
    """Stop the supervisor's clock for the job this worker is running while the block runs (a
    step with its own timeouts, such as a compile in the compile worker), allowing it at most
    ``allowance_s`` seconds of wall time. Outside a worker (a job run in-process) it does
    nothing."""
    out = _answers
    if out is None:
        yield
        return
    _write_frame(out, Pause(step, allowance_s))
    try:
        yield
    finally:
        _write_frame(out, Resume())


def _serve() -> None:
    """Worker main loop: read jobs from stdin, answer on the original stdout."""
    global _answers
    out = _answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to the stderr file, never into the protocol
    inp = sys.stdin.buffer.fileno()
    while True:
        header = _read_exact(inp, 8, None)
        if header is None:
            return
        body = _read_exact(inp, struct.unpack("<Q", header)[0], None)
        if body is None:
            return
        try:
            modules, job = pickle.loads(body)
            from checker import loader

            loader.register_all(modules)
            outcome = job.handle()
        except Exception as exc:
            # The job raised outside its own error handling (loading the kernel file, setting
            # up the target): diagnosed, so a kcheck bug here is a checker-error (checker.blame).
            from checker import diagnostics

            outcome = Error(diagnostics.classify(exc), stderr_tail=traceback.format_exc()[-STDERR_TAIL:])
        except BaseException:
            outcome = Died(stderr_tail=traceback.format_exc()[-STDERR_TAIL:])
        _write_frame(out, outcome)


if __name__ == "__main__":
    # Serve from the imported module, not __main__, so pickled classes resolve as checker.pool.*
    from checker import pool

    pool._serve()
