"""The per-dyno supervisor: a small detached process that owns one container from start to exit.

Run as ``python -I -S _supervisor.py --standby`` by the runtime, it forks away from the
controller (own session, adopted by init), says ``ready`` and waits on stdin for the directory of
the dyno it is to run, so the interpreter's start-up is off the dyno's critical path. Then it

1. becomes a child subreaper and moves into a new mount and network namespace of its own, so
   everything it sets up vanishes with it;
2. mounts a size-capped tmpfs and the dyno's overlay root (slug tree over the stack, tmpfs upper),
   creates the veth pair (host side ``.1``, ``eth0`` = ``.2``) over rtnetlink (``_netlink``,
   compiled next to it) and runs ``<engine> run --detach``;
3. answers ``ok`` or ``error <message>`` on stdout, then closes it;
4. relays the container's merged stdout/stderr lines to the log target, serves commands on
   ``control.sock`` (``stop <grace>``, ``kill``, ``attach``) and watches the container's init
   through a pidfd;
5. on exit reads the memory cgroup's OOM count and peak before ``<engine> delete``, removes the
   veth, releases the address lease, writes ``exit.json`` and exits (the controller's pidfd fires).

One runs per dyno, so it stays small: only C modules of the standard library (``signal``,
``socket``, ``json`` and ``contextlib`` would pull in ``enum`` and ``re``, ~1.5 MB each process).
Its configuration arrives as ``marshal`` (same interpreter as the controller); the records it
writes (``state.json``, ``exit.json``) are JSON.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stub; `signal` would import enum
import _socket
import ctypes
import marshal
import os
import select
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

    from pyroku.runtime._netlink import Netlink

CONFIG: Final = "supervisor.cfg"
STATE: Final = "state.json"
EXIT: Final = "exit.json"
CONTROL: Final = "control.sock"
CONSOLE: Final = "console.sock"
PIDFILE: Final = "container.pid"
ENGINE_LOG: Final = "engine.log"
LOG: Final = "supervisor.log"

_CLONE_NEWNS: Final = 0x00020000
_CLONE_NEWNET: Final = 0x40000000
_MS_NOSUID: Final = 2
_MS_NODEV: Final = 4
_MS_REC: Final = 0x4000
_MS_PRIVATE: Final = 1 << 18
_PR_SET_CHILD_SUBREAPER: Final = 36
_SIGTERM: Final = 15
_SIGKILL: Final = 9
_RESET_SIGNALS: Final = (13, 25)  # SIGPIPE, SIGXFSZ: Python ignores them; its children must not
_MAX_LINE: Final = 10_000  # bytes per log line, as logplex splits them
_INT_SIZE: Final = 4


# -- records shared with the controller ----------------------------------------------------------

def write_config(path: str, config: dict[str, Any]) -> None:
    with open(path, "wb") as f:
        marshal.dump(config, f)


def read_config(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            data = marshal.load(f)  # noqa: S302 - written by the controller into a root-only dir
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def _json_value(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def write_record(path: str, record: dict[str, object]) -> None:
    """A flat JSON object, written atomically (temporary file, then rename)."""
    body = ", ".join(f"{_json_value(k)}: {_json_value(v)}" for k, v in record.items())
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write("{" + body + "}\n")
    os.replace(tmp, path)


def process_start_time(pid: int) -> int | None:
    """The start time (clock ticks since boot) of a live process, or None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def iso_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}+00:00"


# -- small helpers ------------------------------------------------------------------------------

def _netlink() -> type[Netlink]:
    """The netlink helper: compiled next to this file in a supervisor process, else from the package."""
    try:
        import _netlink as standalone  # type: ignore[import-not-found]
    except ImportError:
        from pyroku.runtime import _netlink as packaged

        return packaged.Netlink
    return standalone.Netlink  # type: ignore[no-any-return]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _spawn(argv: list[str], stdin: int, stdout: int, stderr: int) -> int:
    actions = [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, stderr, 2)]
    return os.posix_spawn(argv[0], argv, os.environ, file_actions=actions, setsigdef=_RESET_SIGNALS)


def run(argv: list[str], input_text: str = "") -> tuple[int, str]:
    """Run a helper (ip, <engine> delete) to completion; (exit status, combined output)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        pid = _spawn(argv, in_r, out_w, out_w)
    finally:
        os.close(in_r)
        os.close(out_w)
    try:
        os.write(in_w, input_text.encode())
    except BrokenPipeError:
        input_text = ""
    os.close(in_w)
    chunks = []
    while chunk := os.read(out_r, 65536):
        chunks.append(chunk)
    os.close(out_r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace").strip()


def _kill(pid: int, signum: int) -> bool:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def _read_counter(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        return 0
    return 0


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _unix_socket() -> _socket.socket:
    return _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)


def _accept(sock: _socket.socket) -> _socket.socket:
    fd, _addr = sock._accept()  # type: ignore[attr-defined]  # the C socket's accept
    return _socket.socket(fileno=fd)


def _send_fd(sock: _socket.socket, message: bytes, fd: int) -> None:
    sock.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd.to_bytes(_INT_SIZE, sys.byteorder))])


def _recv_fd(sock: _socket.socket) -> tuple[bytes, int | None]:
    message, ancillary, _flags, _addr = sock.recvmsg(256, _socket.CMSG_SPACE(_INT_SIZE))
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS and len(data) >= _INT_SIZE:
            return message, int.from_bytes(data[:_INT_SIZE], sys.byteorder)
    return message, None


# -- log targets --------------------------------------------------------------------------------

class FileLog:
    def __init__(self, path: str, process: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._prefix = f" {process}: ".encode()

    def line(self, data: bytes) -> None:
        os.write(self._fd, iso_now().encode() + self._prefix + data + b"\n")

    def close(self) -> None:
        os.close(self._fd)


class SyslogLog:
    """Octet-counted RFC 5424 frames over a Unix stream socket; never blocks, counts what it drops.

    Frames look like those of ``pyroku.logs``' own writer: ``<190>1 TS APP_ID app DYNO - - LINE``.
    """

    def __init__(self, path: str, app_id: str, process: str) -> None:
        self._path = path
        self._head = f" {app_id} app {process} - - ".encode()
        self._sock: _socket.socket | None = None
        self._next_connect = 0.0
        self._pending = b""
        self._dropped = 0
        self._dropped_since = ""

    def _connect(self) -> bool:
        if self._sock is not None:
            return True
        now = time.monotonic()
        if now < self._next_connect:
            return False
        self._next_connect = now + 1.0
        sock = _unix_socket()
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, 1 << 20)
            sock.setblocking(False)
            sock.connect(self._path)
        except OSError:
            sock.close()
            return False
        self._sock = sock
        return True

    def _frame(self, message: bytes) -> bytes:
        frame = b"<190>1 " + iso_now().encode() + self._head + message
        return b"%d %s" % (len(frame), frame)

    def _send(self, data: bytes) -> bool:
        if not self._connect():
            return False
        assert self._sock is not None
        try:
            if self._pending:
                self._pending = self._pending[self._sock.send(self._pending):]
                if self._pending:
                    return False
            sent = self._sock.send(data)
        except BlockingIOError:
            return False
        except OSError:
            self._sock.close()
            self._sock = None
            self._pending = b""
            return False
        self._pending = data[sent:]
        return True

    def line(self, data: bytes) -> None:
        if self._dropped:
            notice = f"Error L12: {self._dropped} messages dropped since {self._dropped_since}.".encode()
            if not self._send(self._frame(notice)):
                self._dropped += 1
                return
            self._dropped = 0
        if not self._send(self._frame(data)):
            if not self._dropped:
                self._dropped_since = iso_now()[:19] + "+00:00"
            self._dropped += 1

    def close(self) -> None:
        if self._sock is None:
            return
        if self._pending:
            self._sock.settimeout(1.0)
            try:
                self._sock.sendall(self._pending)
            except OSError:
                self._pending = b""
        self._sock.close()


class NullLog:
    def line(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def open_log(target: dict[str, str] | None, app_id: str, process: str) -> FileLog | SyslogLog | NullLog:
    if target is None:
        return NullLog()
    if target["type"] == "syslog":
        return SyslogLog(target["path"], app_id, process)
    return FileLog(target["path"], process)


# -- the supervisor -----------------------------------------------------------------------------

class StartError(Exception):
    pass


class Supervisor:
    def __init__(self, directory: str, config: dict[str, Any]) -> None:
        self.dir = directory
        self.cfg = config
        self.id: str = config["id"]
        self.engine: list[str] = config["engine"]
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.pid = 0  # the container's init (tini), a child of ours once the engine has exited
        self.pidfd = -1
        self.tty_master: int | None = None
        self.log_read: int | None = None
        self.exit_status: int | None = None
        self.reason = "exited"
        self.grace_expired = False
        self.kill_at: float | None = None
        self.clients: dict[int, _socket.socket] = {}
        self.listener: _socket.socket | None = None
        self.partial = b""
        self.log = open_log(config["log"], config["app_id"], config["process"])
        self.network_up = False

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    # -- start --

    def start(self) -> None:
        libc = self.libc
        _check(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")
        net = self.cfg["network"]
        netlink = _netlink()
        host_netns = os.open("/proc/self/ns/net", os.O_RDONLY)
        host_link = netlink() if net is not None else None  # stays bound to the host's namespace
        _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET), "unshare")
        dyno_netns = os.open("/proc/self/ns/net", os.O_RDONLY)
        _check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "making mounts private")
        self.mount_root()
        try:
            if net is not None and host_link is not None:
                self.setup_network(net, host_link, netlink(), host_netns, dyno_netns)
        finally:
            if host_link is not None:
                host_link.close()
            os.close(host_netns)
            os.close(dyno_netns)
        listener = _unix_socket()
        listener.bind(self.path(CONTROL))
        os.chmod(self.path(CONTROL), 0o600)
        listener.listen(8)
        listener.setblocking(False)
        self.listener = listener
        self.run_container()

    def mount_root(self) -> None:
        scratch = self.path("scratch")
        rootfs = self.path("bundle/rootfs")
        size = f"size={self.cfg['scratch_kib']}k,mode=0755".encode()
        _check(self.libc.mount(b"tmpfs", scratch.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, size),
               "mounting scratch tmpfs")
        os.mkdir(os.path.join(scratch, "upper"), 0o755)
        os.mkdir(os.path.join(scratch, "work"), 0o700)
        options = (
            f"lowerdir={':'.join(self.cfg['lower'])},upperdir={scratch}/upper,workdir={scratch}/work"
        ).encode()
        _check(self.libc.mount(b"overlay", rootfs.encode(), b"overlay", 0, options), "mounting the overlay root")

    def setup_network(self, net: dict[str, str], host: Netlink, dyno: Netlink, host_netns: int,
                      dyno_netns: int) -> None:
        try:
            with open("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w") as f:
                f.write("1")  # eth0 gets no IPv6 at all (lo keeps ::1)
            dyno.set_up("lo")
            dyno.add_veth("eth0", net["veth"], host_netns)
            self.network_up = True
            eth0 = _socket.if_nametoindex("eth0")
            dyno.add_address(eth0, net["dyno_ip"], 30)
            dyno.set_up("eth0")
            dyno.add_default_route(eth0, net["host_ip"])
            # interface indexes are per namespace: look the host side up from the host's
            _check(self.libc.setns(host_netns, _CLONE_NEWNET), "setns(host)")
            try:
                veth = _socket.if_nametoindex(net["veth"])
            finally:
                _check(self.libc.setns(dyno_netns, _CLONE_NEWNET), "setns(dyno)")
            host.add_address(veth, net["host_ip"], 30)
            host.set_up(net["veth"])
        except OSError as exc:
            raise StartError(f"cannot set up the dyno's network: {exc}") from exc
        finally:
            dyno.close()

    def run_container(self) -> None:
        argv = [*self.engine, "run", "--detach", "--pid-file", self.path(PIDFILE), "--bundle", self.path("bundle")]
        console = None
        if self.cfg["tty"]:
            console = _unix_socket()
            console.bind(self.path(CONSOLE))
            console.listen(1)
            argv += ["--console-socket", self.path(CONSOLE)]
        argv.append(self.id)
        read_end, write_end = os.pipe()
        null = os.open(os.devnull, os.O_RDWR)
        try:
            pid = _spawn(argv, null, write_end, write_end)
        finally:
            os.close(write_end)
            os.close(null)
        _, status = os.waitpid(pid, 0)
        os.set_blocking(read_end, False)
        if os.waitstatus_to_exitcode(status) != 0:
            # nothing ran: what is in the pipe is the engine's own complaint
            try:
                message = os.read(read_end, 65536).decode(errors="replace").strip()
            except BlockingIOError:
                message = ""
            os.close(read_end)
            raise StartError(f"{os.path.basename(self.engine[0])} run failed: {message or _engine_log(self.dir)}")
        with open(self.path(PIDFILE)) as f:
            self.pid = int(f.read().strip())
        self.pidfd = os.pidfd_open(self.pid)
        if console is not None:
            os.close(read_end)
            console.settimeout(10)
            conn = _accept(console)
            conn.settimeout(10)
            _message, master = _recv_fd(conn)
            conn.close()
            console.close()
            os.unlink(self.path(CONSOLE))
            if master is None:
                raise StartError("the engine sent no terminal")
            os.set_inheritable(master, False)
            self.tty_master = master
        else:
            self.log_read = read_end
        write_record(self.path(STATE), {
            "pid": self.pid,
            "pid_start": process_start_time(self.pid),
            "supervisor_pid": os.getpid(),
            "supervisor_start": process_start_time(os.getpid()),
            "started_at": iso_now(),
        })

    # -- run --

    def loop(self) -> None:
        sig_r, sig_w = os.pipe()
        os.set_blocking(sig_w, False)
        os.set_blocking(sig_r, False)
        _signal.set_wakeup_fd(sig_w)
        _signal.signal(_SIGTERM, lambda *_: None)  # handled through the wakeup fd
        for ignored in (_signal.SIGHUP, _signal.SIGINT):
            _signal.signal(ignored, _signal.SIG_IGN)
        poller = select.poll()
        poller.register(sig_r, select.POLLIN)
        poller.register(self.pidfd, select.POLLIN)
        assert self.listener is not None
        listener = self.listener.fileno()
        poller.register(listener, select.POLLIN)
        if self.log_read is not None:
            poller.register(self.log_read, select.POLLIN)
        while self.exit_status is None:
            timeout = None
            if self.kill_at is not None:
                timeout = max(0, int((self.kill_at - time.monotonic()) * 1000) + 1)
            for fd, _event in poller.poll(timeout):
                if fd == self.pidfd:
                    self.reap()
                elif fd == sig_r:
                    if _SIGTERM in os.read(sig_r, 512):
                        self.stop(30.0)  # the host is shutting down: stop the dyno the polite way
                elif fd == listener:
                    self.accept(poller)
                elif fd == self.log_read:
                    self.relay(poller)
                elif fd in self.clients:
                    self.command(fd, poller)
            if self.kill_at is not None and time.monotonic() >= self.kill_at and self.exit_status is None:
                self.kill_at = None
                self.grace_expired = True
                self.signal_all(_SIGKILL)
        self.finish()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid:
                code = os.waitstatus_to_exitcode(status)
                self.exit_status = code if code >= 0 else 128 - code

    def accept(self, poller: select.poll) -> None:
        assert self.listener is not None
        try:
            conn = _accept(self.listener)
        except BlockingIOError:
            return
        conn.settimeout(1.0)
        self.clients[conn.fileno()] = conn
        poller.register(conn.fileno(), select.POLLIN)

    def command(self, fd: int, poller: select.poll) -> None:
        conn = self.clients.pop(fd)
        poller.unregister(fd)
        try:
            words = conn.recv(256).decode(errors="replace").split()
            reply = self.execute(words, conn)
            if reply:
                conn.sendall(reply.encode() + b"\n")
        except OSError as exc:
            sys.stderr.write(f"control connection: {exc}\n")
        finally:
            conn.close()

    def execute(self, words: list[str], conn: _socket.socket) -> str:
        if not words:
            return "error empty command"
        if words[0] == "stop":
            try:
                grace = float(words[1]) if len(words) > 1 else 30.0
            except ValueError:
                return "error bad grace"
            self.stop(grace)
            return "ok"
        if words[0] == "kill":
            self.reason = "killed"
            self.kill_at = None
            self.signal_all(_SIGKILL)
            return "ok"
        if words[0] == "attach":
            if self.tty_master is None:
                return "error this dyno has no terminal"
            _send_fd(conn, b"ok\n", self.tty_master)
            return ""
        return "error unknown command"

    def stop(self, grace: float) -> None:
        if self.reason != "killed":
            self.reason = "stopped"
        deadline = time.monotonic() + max(grace, 0.0)
        if self.kill_at is None or deadline < self.kill_at:
            self.kill_at = deadline
        # every process of the dyno, not only the command's process group; tini (PID 1) is
        # spared so that it does not forward a second SIGTERM to the group
        self.signal_all(_SIGTERM, spare_init=True)

    def signal_all(self, signum: int, spare_init: bool = False) -> None:
        if signum == _SIGKILL and self.pid:
            _kill(self.pid, _SIGKILL)  # the kernel then kills the whole PID namespace
        try:
            with open(self.cfg["cgroup_procs"]) as f:
                pids = [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            pids = []
        for pid in pids:
            if not (spare_init and pid == self.pid):
                _kill(pid, signum)

    def relay(self, poller: select.poll | None) -> bool:
        """Relay what the container wrote; False at end of file."""
        assert self.log_read is not None
        try:
            data = os.read(self.log_read, 65536)
        except BlockingIOError:
            return True
        if not data:
            if self.partial:
                self.log.line(self.partial)
                self.partial = b""
            if poller is not None:
                poller.unregister(self.log_read)
            os.close(self.log_read)
            self.log_read = None
            return False
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        if len(self.partial) > _MAX_LINE:
            cut = _cut(self.partial)
            lines.append(self.partial[:cut])
            self.partial = self.partial[cut:]
        for line in lines:
            line = line[:-1] if line.endswith(b"\r") else line
            while len(line) > _MAX_LINE:
                cut = _cut(line)
                self.log.line(line[:cut])
                line = line[cut:]
            self.log.line(line)
        return True

    # -- exit --

    def finish(self) -> None:
        oom_kills = _read_counter(self.cfg["oom_file"], "oom_kill")
        peak = _read_int(self.cfg["peak_file"])
        if self.log_read is not None:
            # the container's processes are gone, so the pipe ends now; never wait long
            deadline = time.monotonic() + 2.0
            while self.log_read is not None and time.monotonic() < deadline:
                select.select([self.log_read], [], [], 0.2)
                if not self.relay(None):
                    break
        self.log.close()
        self.release()
        write_record(self.path(EXIT), {
            "status": self.exit_status,
            "reason": self.reason,
            "oom_killed": oom_kills > 0,
            "grace_expired": self.grace_expired,
            "max_memory": peak,
            "exited_at": iso_now(),
        })

    def release(self) -> None:
        """Give back the engine's state, the veth pair and the address lease."""
        if self.pid and self.exit_status is None:
            _kill(self.pid, _SIGKILL)
        run([*self.engine, "delete", "--force", self.id])
        net = self.cfg["network"]
        if self.network_up and net is not None:
            link = _netlink()()
            try:
                link.delete_link("eth0")  # and with it the host side
            except OSError as exc:
                sys.stderr.write(f"deleting eth0: {exc}\n")
            link.close()
            lease = net["lease_file"]
            try:
                with open(lease) as f:
                    mine = f.read() == self.id
                if mine:
                    os.unlink(lease)
            except OSError as exc:
                sys.stderr.write(f"releasing lease: {exc}\n")


def _cut(line: bytes) -> int:
    """Where to split a long line: at most _MAX_LINE bytes, never inside a UTF-8 character."""
    cut = _MAX_LINE
    while cut > _MAX_LINE - 4 and line[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


def _engine_log(directory: str) -> str:
    try:
        with open(os.path.join(directory, ENGINE_LOG), errors="replace") as f:
            return f.read().strip().splitlines()[-1][:500]
    except (OSError, IndexError):
        return "no details"


def _read_line(fd: int) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def main(argv: list[str]) -> int:
    """``--standby``: wait for a dyno dir on stdin first; ``<dyno dir>``: supervise that dyno at once.

    Either way the process forks away first (the controller reaps the parent) and answers on
    stdout: ``ready`` (standby only), then ``ok`` or ``error <message>``.
    """
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # for _netlink, after the stdlib
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if argv[1] == "--standby":
        os.write(1, b"ready\n")
        directory = _read_line(0)
        if not directory:
            return 0  # the controller went away or no longer needs us
    else:
        directory = argv[1]
    log = os.open(os.path.join(directory, LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log, 2)
    os.close(log)
    config = read_config(os.path.join(directory, CONFIG))
    if config is None:
        os.write(1, f"error no readable {CONFIG} in {directory}\n".encode())
        return 1
    supervisor = Supervisor(directory, config)
    try:
        supervisor.start()
    except Exception as exc:  # report every start failure to the controller, then clean up
        supervisor.release()
        os.write(1, f"error {exc}\n".encode(errors="replace"))
        return 1
    os.write(1, b"ok\n")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    supervisor.loop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
