"""A preloaded parent for supervised workers: torch, triton and helion imported once per host.

A worker used to be a fresh interpreter (``python -m checker.pool``) that imported torch, triton
and helion itself: seconds of CPU per start (14-20 s on the H200 host, which has no ``.pyc`` for
torch), paid by every case worker, every compile worker and every worker recycled after a crash,
a timeout or a sticky CUDA error. The fork server is such an interpreter started once
(``python -m checker.forkserver``): it imports the modules its first client names (pool's
WARM_MODULES), never touches CUDA, and then forks one child per request, so a new worker is
ready in milliseconds. CUDA is initialized only in the children, by their first job.

One server per *flavour*: Triton decides at import whether ``@triton.jit`` runs under its
interpreter (TRITON_INTERPRET, checker.interpreter), so CPU case workers (interpreted) and
compile workers (not) come from different servers, started on first use. A server is found
through the environment (``KCHECK_FORK_SERVER_<FLAVOUR>``: its fingerprint and address), so the
children of the process that started it (xdist workers, case workers starting their compile
workers) use it too, as long as the variables the imports may have read (:data:`IMPORT_READ`,
less what a child sets for itself) have the same values; otherwise they start their own. A
server lives as long as the process that started it: it exits when its lifeline (its stdin)
closes, and is killed when that process dies (PR_SET_PDEATHSIG); its children are killed when
the server dies, so no worker outlives the run that asked for it.

Each forked child is what ``python -m checker.pool`` was: its own session (so it and everything
it starts form one process group for the supervisor's kill), the supervisor's pipes as its
stdin and stdout, its stderr file, the supervisor's environment and working directory. The
server reaps it and sends its exit status over the request's connection, which the supervisor
reads as from ``subprocess.Popen`` (:class:`ForkedProcess`).

Where fork is unsafe the server still serves, by fork-and-exec of a fresh interpreter per
request (today's spawn; its only saving is none): when the preload initialized CUDA
(``torch.cuda.is_initialized()``), left a Python thread running (a fork copies only the calling
thread, with any lock another one held), or failed. Where no server can run at all
(not Linux, no ``os.pidfd_open``) or ``KCHECK_WORKER_START=spawn`` asks for it, the supervisor
spawns as before. Both are said once per process on stderr. The supervisor's own CUDA state does
not matter: the server is a fresh interpreter, never a fork of the supervisor.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import runpy
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import IO, NoReturn

#: Set to ``spawn`` to start every worker as a fresh interpreter (no fork server).
START_ENV = "KCHECK_WORKER_START"
#: The environment variable naming a flavour's server: ``<fingerprint>@<abstract socket name>``.
ADDRESS_ENV = "KCHECK_FORK_SERVER_{flavour}"
#: Environment variables the preloaded modules (torch, triton, helion, Python itself) may read
#: at import, by prefix: a server serves the clients whose values of these equal its own. The
#: others are read later, in the child, which has its client's whole environment.
IMPORT_READ = ("TRITON_", "HELION_", "TORCH", "PYTORCH_", "PYTHON", "CUDA_", "LD_")
#: Of those, what a forked child sets for itself before anything reads it (CUDA reads
#: CUDA_VISIBLE_DEVICES at its initialization, in the child; the flavour is the server's), or
#: what the imports set themselves (torch's inductor cache directory default).
CHILD_SET = ("CUDA_VISIBLE_DEVICES", "TRITON_INTERPRET", "TORCHINDUCTOR_CACHE_DIR")
#: Seconds a client waits for a forked child's pid before it gives the child up.
PID_TIMEOUT_S = 180.0
#: Exit status reported for a child whose server died before it could say how the child ended.
UNKNOWN_STATUS = 255

_INT = struct.Struct("<q")


@dataclass(frozen=True)
class Request:
    """What a client asks the server for: ``python -m module`` with ``env`` in ``cwd``, on the
    three file descriptors sent with it (stdin, stdout, stderr)."""

    module: str
    env: dict[str, str]
    cwd: str


# ---------------------------------------------------------------------------------------------
# Client side (the supervisor)


class ForkedProcess:
    """A worker the fork server started: the parts of ``subprocess.Popen`` that checker.pool's
    Worker uses (``pid``, ``stdin``, ``stdout``, ``poll``, ``wait``), the exit status coming from
    the server, which is the child's parent. ``returncode`` is negative for a signal, as
    Popen's; UNKNOWN_STATUS when the server died first."""

    def __init__(self, conn: socket.socket, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self._conn = conn
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self._pid: int | None = None
        self.returncode: int | None = None

    def _read_int(self, timeout: float | None) -> int | None:
        """The next integer the server sends; None on timeout; raises EOFError when it closed."""
        self._conn.settimeout(timeout)
        data = b""
        try:
            while len(data) < _INT.size:
                chunk = self._conn.recv(_INT.size - len(data))
                if not chunk:
                    raise EOFError
                data += chunk
        except (TimeoutError, BlockingIOError):
            if data:  # half an integer: the stream is out of step; treat as a dead server
                raise EOFError from None
            return None
        return int(_INT.unpack(data)[0])

    @property
    def pid(self) -> int:
        """The child's pid (waits for the server to fork it; it may still be importing)."""
        self._await_pid(PID_TIMEOUT_S)
        assert self._pid is not None
        return self._pid

    def _await_pid(self, timeout: float) -> bool:
        """Whether the pid is known, waiting at most ``timeout`` seconds for the server's answer.
        A server that died or answered nothing usable gives pid -1 and UNKNOWN_STATUS."""
        if self._pid is not None:
            return True
        try:
            pid = self._read_int(timeout)
        except (EOFError, OSError):
            pid = 0
        if pid is None:
            if timeout < PID_TIMEOUT_S:
                return False
            pid = 0
        if pid <= 1:
            # No child: nothing to signal (pid -1 is never signalled, see pool.Worker.kill).
            self.returncode = UNKNOWN_STATUS
            pid = -1
        else:
            self._said_how()
        self._pid = pid
        return True

    def _said_how(self) -> None:
        """Read the server's note after the pid: why it spawned instead of forking ("": it forked)."""
        with contextlib.suppress(EOFError, OSError):
            size = self._read_int(PID_TIMEOUT_S) or 0
            why = b""
            while len(why) < size:
                chunk = self._conn.recv(size - len(why))
                if not chunk:
                    break
                why += chunk
            if why:
                say_once(f"the fork server starts workers as fresh interpreters: {why.decode()}")

    def poll(self) -> int | None:
        """The exit status if the child has ended, else None (does not wait, not even for a
        server still importing: its child is then starting, not ended)."""
        if self.returncode is None and self._await_pid(0.0):
            self._status(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; its exit status. Raises subprocess.TimeoutExpired."""
        started = time.monotonic()
        if self.returncode is None and self._await_pid(PID_TIMEOUT_S if timeout is None else timeout):
            left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
            self._status(left)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"forked worker {self._pid}", timeout or 0.0)
        return self.returncode

    def _status(self, timeout: float | None) -> None:
        if self._pid is None or self._pid < 0:
            return
        try:
            status = self._read_int(timeout)
        except (EOFError, OSError):
            status = UNKNOWN_STATUS
        if status is not None:
            self.returncode = status
            self._conn.close()


_said: set[str] = set()
_lock = threading.Lock()
#: Servers this process started, by flavour: (fingerprint, address, the server process).
_servers: dict[str, tuple[str, str, subprocess.Popen[bytes]]] = {}


def say_once(message: str) -> None:
    """Print ``message`` on stderr the first time this process says it."""
    if message not in _said:
        _said.add(message)
        print(f"kcheck: {message}", file=sys.stderr, flush=True)


def unavailable() -> str | None:
    """Why this process cannot use a fork server (None: it can)."""
    if os.environ.get(START_ENV, "") == "spawn":
        return f"{START_ENV}=spawn"
    if not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"):
        return f"no fork server on {sys.platform} (it needs Linux's pidfd_open)"
    return None


def _flavour(env: dict[str, str]) -> str:
    return "INTERPRET" if env.get("TRITON_INTERPRET") == "1" else "NATIVE"


def fingerprint(env: dict[str, str]) -> str:
    """What a server's preloaded modules may have read from ``env`` at import (IMPORT_READ, less
    CHILD_SET), and its flavour, hashed."""
    kept = sorted((k, v) for k, v in env.items() if k.startswith(IMPORT_READ) and k not in CHILD_SET)
    return hashlib.sha256(repr((_flavour(env), kept)).encode()).hexdigest()[:16]


def _server_address(env: dict[str, str], preload: tuple[str, ...], lazy: bool = False) -> str:
    """The address of a server for ``env``: the one the environment names if it fits, else one
    this process starts (and names in os.environ, for the processes it starts)."""
    flavour = _flavour(env)
    var = ADDRESS_ENV.format(flavour=flavour)
    fp = fingerprint(env)
    with _lock:
        mine = _servers.get(flavour)
        if mine is not None and mine[0] == fp and mine[2].poll() is None:
            return mine[1]
        named = os.environ.get(var, "")
        if named.startswith(fp + "@") and (mine is None or named != f"{mine[0]}@{mine[1]}"):
            return named.split("@", 1)[1]
        address = f"kcheck-fork-{os.getpid()}-{flavour.lower()}-{fp}-{time.monotonic_ns()}"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Abstract namespace (Linux): no file to clean up, no path length limit.
        listener.bind("\0" + address)
        listener.listen(64)
        server_env = {k: v for k, v in env.items() if not k.startswith("KCHECK_FORK_SERVER_")}
        # torch.cuda.is_available() through NVML does not initialize CUDA in the server.
        server_env["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
        argv = [sys.executable, "-m", "checker.forkserver", str(listener.fileno())]
        proc = subprocess.Popen(
            [*argv, *["--lazy"][:lazy], *preload],
            stdin=subprocess.PIPE,  # the lifeline: the server exits when it closes
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=server_env,
            pass_fds=(listener.fileno(),),
            start_new_session=True,  # Ctrl-C in the terminal stops the run, not the server
        )
        listener.close()
        if mine is not None:
            _stop(mine[2])
        _servers[flavour] = (fp, address, proc)
        os.environ[var] = f"{fp}@{address}"
        return address


def prestart(env: dict[str, str], preload: tuple[str, ...], lazy: bool = False) -> None:
    """Start the server for ``env`` now (if this process can use one), without waiting for its
    imports: they then overlap collection, and processes started later find it. ``lazy``: it
    imports only when its first child is asked for (a flavour the run may not need: a CPU run
    whose compiles are all cached starts no compile worker)."""
    if unavailable() is None:
        _server_address(env, preload, lazy)


def fork(module: str, env: dict[str, str], stderr: int, preload: tuple[str, ...]) -> ForkedProcess | None:
    """Ask the fork server for ``env``'s flavour (started now if there is none) for a child
    running ``python -m module`` with new pipes as its stdin and stdout and ``stderr`` as its
    stderr; None where this process cannot use a fork server (said once; the caller spawns
    instead). Does not wait for the child: the server may still be importing ``preload``."""
    why = unavailable()
    if why is not None:
        say_once(f"workers start as fresh interpreters ({why})")
        return None
    for _ in range(2):
        address = _server_address(env, preload)
        # The child learns of the servers too (a case worker forks its compile worker there).
        named = {k: v for k, v in os.environ.items() if k.startswith("KCHECK_FORK_SERVER_")}
        # JSON, not pickle: the socket is reachable by any local process, and a pickle would
        # also tie the bytes to this module object (pytester's in-process runs re-import it).
        request = json.dumps(dataclasses.asdict(Request(module, {**env, **named}, os.getcwd()))).encode()
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect("\0" + address)
            socket.send_fds(conn, [_INT.pack(len(request)) + request], [child_in, child_out, stderr])
        except OSError:
            conn.close()
            for fd in (to_child, from_child):
                os.close(fd)
            # A server named by a dead process's environment: start this process's own.
            os.environ.pop(ADDRESS_ENV.format(flavour=_flavour(env)), None)
            continue
        finally:
            # The server holds the child's ends now (or nobody does): EOF reaches us when the
            # child, the only other holder, ends.
            os.close(child_in)
            os.close(child_out)
        return ForkedProcess(conn, os.fdopen(to_child, "wb"), os.fdopen(from_child, "rb"))
    say_once("workers start as fresh interpreters (no fork server could be reached)")
    return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5.0)


def shutdown() -> None:
    """Stop the servers this process started (their children live on, with their supervisors)."""
    with _lock:
        servers = list(_servers.values())
        _servers.clear()
    for _, _, proc in servers:
        _stop(proc)


# ---------------------------------------------------------------------------------------------
# Server side (``python -m checker.forkserver LISTEN_FD MODULE...``)


def _unsafe_to_fork(preload_error: str | None) -> str | None:
    """Why forking this (preloaded) process would be unsafe, None if it is not."""
    if preload_error is not None:
        return f"the preload failed: {preload_error}"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return "the preload initialized CUDA"
    # Python threads: a fork copies only the calling thread, with any lock another one held.
    # Native worker pools idle since import (numpy's OpenBLAS, which shuts its pool down around
    # a fork itself) are what every fork of a torch process has (torch's DataLoader workers).
    if threading.active_count() > 1:
        return f"the preload left {threading.active_count()} Python threads running"
    return None


#: The only module a child may run: what the supervisor forks (checker.pool's worker loop).
CHILD_MODULES = frozenset({"checker.pool"})


def _check_peer(conn: socket.socket) -> None:
    """Refuse a client of another user: an abstract socket has no file permissions, so any
    local process can connect, and a fork runs with this user's rights (SO_PEERCRED, Linux).

    Raises:
        PermissionError: the peer's uid is not this process's.
    """
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    if uid != os.getuid():
        raise PermissionError(f"fork request from uid {uid}")


def _receive(conn: socket.socket) -> tuple[Request, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    while len(data) < _INT.size or len(data) < _INT.size + _INT.unpack(data[: _INT.size])[0]:
        chunk = conn.recv(1 << 16)
        if not chunk:
            raise EOFError
        data += chunk
    fields = json.loads(data[_INT.size :])
    if not isinstance(fields, dict) or set(fields) != {"module", "env", "cwd"}:
        raise ValueError("malformed fork request")
    if fields["module"] not in CHILD_MODULES:
        raise ValueError(f"fork request for module {fields['module']!r}")
    env = {str(k): str(v) for k, v in fields["env"].items()}
    return Request(str(fields["module"]), env, str(fields["cwd"])), fds


def _killed_with_parent() -> None:
    """Ask Linux for SIGKILL when this process's parent dies (PR_SET_PDEATHSIG; a fork does not
    inherit it). Elsewhere nothing: the lifeline still ends a server."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _die_with(parent: int) -> None:
    """Be killed when ``parent`` (the server) dies, and exit at once if it already has. A case
    worker whose supervisor died mid-case was orphaned with its server and went on computing:
    one was found at 60% of a core 82 minutes after its run ended (session 12); the supervisor
    that enforces run timeouts was gone."""
    _killed_with_parent()
    if os.getppid() != parent:
        os._exit(1)


def _child(request: Request, fds: list[int], close: list[int], server_path0: str, server: int) -> None:
    """In the forked child: become ``python -m request.module``, as a fresh interpreter would;
    ``close``: the server's descriptors it must not keep (other children's connections);
    ``server``: the server's pid, whose death ends the child."""
    _die_with(server)
    os.setsid()
    for fd in close:
        with contextlib.suppress(OSError):
            os.close(fd)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.clear()
    os.environ.update(request.env)
    os.chdir(request.cwd)
    # `python -m` puts the working directory first on sys.path: the client's, not the server's.
    if sys.path and sys.path[0] == server_path0:
        sys.path[0] = request.cwd
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the worker reads its jobs here
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    runpy.run_module(request.module, run_name="__main__", alter_sys=True)


def _run_child(
    request: Request, fds: list[int], close: list[int], server_path0: str, server: int
) -> NoReturn:
    """The forked child's whole life: :func:`_child`, then exit as an interpreter would (exit
    handlers run: a case worker's stop its compile worker)."""
    code = 1
    try:
        _child(request, fds, close, server_path0, server)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _spawn(request: Request, fds: list[int]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", request.module],
        stdin=fds[0],
        stdout=fds[1],
        stderr=fds[2],
        env=request.env,
        cwd=request.cwd,
        start_new_session=True,
    )


#: prctl option (linux/prctl.h): the signal this process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


class _Server:
    """The server's state: its listening socket, and for each live child (by its pidfd) its pid,
    its client's connection and, where it was spawned, its Popen."""

    def __init__(self, listen_fd: int, modules: list[str]) -> None:
        self.listener = socket.socket(fileno=listen_fd)
        self.modules = modules
        self.unsafe: str | None = None
        self.loaded = False
        self.path0 = sys.path[0] if sys.path else ""
        self.children: dict[int, tuple[int, socket.socket, subprocess.Popen[bytes] | None]] = {}
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(0, selectors.EVENT_READ, "lifeline")

    def preload(self) -> None:
        """Import the modules every child needs, once; then judge whether a fork is safe."""
        error = None
        try:
            for name in self.modules:
                importlib.import_module(name)
        except BaseException:
            error = traceback.format_exc(limit=-3).strip().splitlines()[-1]
        self.unsafe = _unsafe_to_fork(error)
        self.loaded = True

    def accept(self) -> None:
        if not self.loaded:
            self.preload()
        conn, _ = self.listener.accept()
        try:
            _check_peer(conn)
            request, fds = _receive(conn)
        except (EOFError, OSError, ValueError, TypeError, AttributeError):
            conn.close()
            return
        if len(fds) != 3:
            conn.close()
            for fd in fds:
                os.close(fd)
            return
        spawned = None
        try:
            if self.unsafe is None:
                server = os.getpid()
                pid = os.fork()
                if pid == 0:
                    keep = [self.listener.fileno(), conn.fileno(), self.sel.fileno()]
                    others = [c.fileno() for _, c, _ in self.children.values()]
                    _run_child(request, fds, [*keep, *others, *self.children], self.path0, server)
            else:
                spawned = _spawn(request, fds)
                pid = spawned.pid
        except OSError:
            conn.close()
            return
        finally:
            for fd in fds:
                os.close(fd)
        pidfd = os.pidfd_open(pid)
        note = (self.unsafe or "").encode()
        with contextlib.suppress(OSError):
            conn.sendall(_INT.pack(pid) + _INT.pack(len(note)) + note)
        self.children[pidfd] = (pid, conn, spawned)
        self.sel.register(pidfd, selectors.EVENT_READ, "child")

    def reap(self, pidfd: int) -> None:
        pid, conn, spawned = self.children.pop(pidfd)
        self.sel.unregister(pidfd)
        os.close(pidfd)
        status = spawned.wait() if spawned is not None else os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        with contextlib.suppress(OSError):
            conn.sendall(_INT.pack(status))
        conn.close()

    def loop(self) -> None:
        while True:
            for key, _ in self.sel.select():
                if key.data == "lifeline":
                    if not os.read(0, 4096):
                        return
                elif key.data == "accept":
                    self.accept()
                else:
                    self.reap(key.fd)


def serve(listen_fd: int, preload: list[str]) -> None:
    """The server: import ``preload`` (after ``--lazy``: on the first request), then fork (or,
    where that is unsafe, spawn) one child per request on the listening socket ``listen_fd``,
    send each client its child's pid, why it spawned ("" when it forked) and, when the child
    ends, its exit status (negative: the signal); exit when stdin (the lifeline) closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Die with the process that started it even while importing (the lifeline is read only
    # after).
    _killed_with_parent()
    if os.getppid() == 1:
        return
    lazy = preload[:1] == ["--lazy"]
    server = _Server(listen_fd, preload[lazy:])
    if not lazy:
        server.preload()
    server.loop()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
