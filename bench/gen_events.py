"""Stream realistic ECS events (Elastic Endpoint, Winlogbeat + Sysmon, Auditbeat auditd) for benchmarks.

The shapes follow the files in samples/events (which follow the sources' real documents): arrays where
the sources write arrays, Endpoint entity ids and 7-digit timestamps, Sysmon GUIDs, auditd without entity
ids. About 60% process, 25% network and 15% file events come from a few hundred hosts, with timestamps
increasing over a few hours; about one event in 20,000 starts Lua activity that the T1059.011 hunt finds
(the os.execute chain of samples/events/endpoint-linux-os-execute.ndjson, and single suspicious starts).

    python bench/gen_events.py --count 1000000 --seed 1 --output events.ndjson [--scalar]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TypedDict

import orjson

Event = dict[str, Any]
Image = tuple[str, tuple[str, ...]]  # (process.executable, process.args)
_loads = orjson.loads
_dumps = orjson.dumps

TICKS: Final = 10_000_000  # 100 ns ticks per second, the resolution of Elastic Endpoint timestamps
START: Final = 1_795_154_400 * TICKS  # 2026-11-20T06:00:00Z
SPAN: Final = 4 * 3600 * TICKS
FILETIME_OFFSET: Final = 11_644_473_600 * TICKS  # 1601-01-01 to 1970-01-01
LUA_RATE: Final = 1 / 20_000
B64: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
HEX: Final = "0123456789abcdef"

# Share of hosts per source and of picks per category (a Linux spawn yields a fork and an exec event).
SOURCES: Final = (("endpoint-linux", 0.45), ("endpoint-windows", 0.25), ("sysmon", 0.20), ("auditd", 0.10))
PICK_PROCESS: Final = 0.546
PICK_NETWORK: Final = 0.284


# --------------------------------------------------------------------------------------------- helpers


class _Clock:
    """Strictly increasing 100 ns ticks: a jittered step per pick, small bumps for follow-up events."""

    __slots__ = ("_rng", "_step", "t")

    def __init__(self, rng: random.Random, count: int) -> None:
        self._rng = rng
        self._step = max(SPAN // max(count, 1), 2)
        self.t = START

    def tick(self) -> int:
        """Advance by a jittered average step and return the new time."""
        self.t += int(self._step * (0.2 + 1.6 * self._rng.random())) + 1
        return self.t

    def bump(self, low_ms: float, high_ms: float) -> int:
        """Advance by a few milliseconds (a follow-up of the previous event) and return the new time."""
        self.t += int((low_ms + (high_ms - low_ms) * self._rng.random()) * 10_000) + 1
        return self.t


class _Stamp:
    """ISO 8601 formatting of ticks, caching the formatted seconds."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[int, str] = {}

    def _second(self, sec: int) -> str:
        text = self._cache.get(sec)
        if text is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            text = self._cache[sec] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return text

    def seven(self, t: int) -> str:
        """Elastic Endpoint: 7 fraction digits."""
        sec, frac = divmod(t, TICKS)
        return f"{self._second(sec)}.{frac:07d}Z"

    def milli(self, t: int) -> str:
        """Beats: milliseconds."""
        sec, frac = divmod(t, TICKS)
        return f"{self._second(sec)}.{frac // 10_000:03d}Z"

    def whole(self, t: int) -> str:
        """Whole seconds (Endpoint event.ingested)."""
        return f"{self._second(t // TICKS)}Z"

    def nanos(self, t: int, extra: int) -> str:
        """Nine fraction digits (the ingest pipeline's event.ingested on Winlogbeat)."""
        sec, frac = divmod(t, TICKS)
        return f"{self._second(sec)}.{frac * 100 + extra:09d}Z"


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(HEX, k=n))


def _uuid(rng: random.Random) -> str:
    h = _hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[rng.randrange(4)]}{h[17:20]}-{h[20:]}"


@functools.cache
def _hash_block(executable: str) -> bytes:
    """process.hash of an executable (stable per path), serialized once."""
    rng = random.Random(executable)
    return _dumps({"md5": _hex(rng, 32), "sha1": _hex(rng, 40), "sha256": _hex(rng, 64)})


def _hashes(executable: str) -> dict[str, str]:
    hashes: dict[str, str] = _loads(_hash_block(executable))
    return hashes


def _scalar(value: Any) -> Any:
    """The baseline engine's view: one-element arrays become scalars, arrays of strings one joined string."""
    if type(value) is dict:
        return {key: _scalar(child) for key, child in value.items()}
    if type(value) is list:
        if len(value) == 1:
            return _scalar(value[0])
        if all(type(item) is str for item in value):
            return " ".join(value)
        return [_scalar(item) for item in value]
    return value


# --------------------------------------------------------------------------------------------- catalogs

# Linux commands an interactive user, cron, systemd or an application starts: (executable, argv).
USER_COMMANDS: Final[tuple[Image, ...]] = (
    ("/usr/bin/ls", ("ls", "--color=auto", "-la")),
    ("/usr/bin/cat", ("cat", "/etc/os-release")),
    ("/usr/bin/grep", ("grep", "-rn", "ERROR", "/var/log/app/")),
    ("/usr/bin/ps", ("ps", "aux")),
    ("/usr/bin/top", ("top", "-b", "-n", "1")),
    ("/usr/bin/df", ("df", "-h")),
    ("/usr/bin/vim.basic", ("vim", "/etc/nginx/sites-available/default")),
    ("/usr/bin/less", ("less", "/var/log/syslog")),
    ("/usr/bin/sudo", ("sudo", "systemctl", "restart", "nginx")),
    ("/usr/bin/systemctl", ("systemctl", "status", "nginx")),
    ("/usr/bin/journalctl", ("journalctl", "-u", "nginx", "--since", "-1h")),
    ("/usr/bin/git", ("git", "pull", "--ff-only")),
    ("/usr/bin/curl", ("curl", "-s", "https://api.internal.example.com/health")),
    ("/usr/bin/ssh", ("ssh", "deploy@10.20.8.41")),
    ("/usr/bin/python3.10", ("python3", "manage.py", "check")),
    ("/usr/bin/tar", ("tar", "-czf", "/var/backups/etc.tgz", "/etc")),
    ("/usr/bin/docker", ("docker", "ps", "--format", "{{.Names}}")),
    ("/usr/bin/kubectl", ("kubectl", "get", "pods", "-n", "payments")),
    ("/usr/bin/find", ("find", "/var/log", "-name", "*.gz", "-mtime", "+30")),
    ("/usr/bin/awk", ("awk", "-F:", "{print $1}", "/etc/passwd")),
)
# Benign Lua look-alikes: they satisfy the sequence's first stage but never its second.
LOOKALIKE_COMMANDS: Final[tuple[Image, ...]] = (
    ("/usr/bin/nvim", ("nvim", "-u", "/home/{user}/.config/nvim/init.lua", "notes.md")),
    ("/usr/bin/redis-cli", ("redis-cli", "EVAL", "return redis.call('get', KEYS[1])", "1", "k")),
)
CRON_COMMANDS: Final[tuple[Image, ...]] = (
    ("/usr/bin/dash", ("/bin/sh", "-c", "command -v debian-sa1 > /dev/null && debian-sa1 1 1")),
    ("/usr/bin/dash", ("/bin/sh", "-c", "   cd / && run-parts --report /etc/cron.hourly")),
    ("/usr/bin/dash", ("/bin/sh", "-c", "/usr/local/bin/backup.sh >> /var/log/backup.log 2>&1")),
)
SERVICE_COMMANDS: Final[tuple[Image, ...]] = (
    ("/usr/bin/systemd-tmpfiles", ("/usr/bin/systemd-tmpfiles", "--clean")),
    ("/usr/sbin/logrotate", ("/usr/sbin/logrotate", "/etc/logrotate.conf")),
    ("/usr/lib/apt/apt.systemd.daily", ("/bin/sh", "/usr/lib/apt/apt.systemd.daily", "update")),
    ("/usr/bin/snap", ("/usr/bin/snap", "refresh", "--list")),
)
APP_COMMANDS: Final[tuple[Image, ...]] = (
    ("/usr/bin/dash", ("/bin/sh", "-c", "pg_dump -Fc payments > /var/backups/payments.dump")),
    ("/usr/bin/git", ("git", "rev-parse", "HEAD")),
    ("/usr/bin/openssl", ("openssl", "x509", "-noout", "-enddate", "-in", "/etc/ssl/certs/app.pem")),
)
LINUX_FILES: Final = (
    "/var/log/app/app.log",
    "/var/lib/app/cache/{n}.json",
    "/home/{user}/.bash_history",
    "/tmp/tmp{n}",
    "/var/tmp/systemd-private-{n}",
    "/etc/nginx/sites-available/default",
    "/var/backups/etc.tgz",
    "/run/user/{uid}/pulse/pid",
)
EGRESS: Final = (
    ("10.20.0.53", 53, "udp"),
    ("10.20.9.14", 5432, "tcp"),
    ("10.20.9.30", 6379, "tcp"),
    ("140.82.112.4", 443, "tcp"),
    ("91.189.91.83", 80, "tcp"),
    ("52.216.10.171", 443, "tcp"),
    ("169.254.169.254", 80, "tcp"),
)
WINDOWS_APPS: Final = (
    ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", '"{exe}" --type=renderer --lang=en-US'),
    ("C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", '"{exe}" --single-argument'),
    (
        "C:\\Windows\\System32\\cmd.exe",
        'C:\\WINDOWS\\system32\\cmd.exe /c "dir C:\\Users\\{user}\\Documents"',
    ),
    (
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        '"{exe}" -NoProfile -Command Get-Service',
    ),
    ("C:\\Windows\\System32\\notepad.exe", '"{exe}" C:\\Users\\{user}\\Desktop\\todo.txt'),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", '"{exe}" '),
    ("C:\\Windows\\System32\\conhost.exe", "\\??\\C:\\WINDOWS\\system32\\conhost.exe 0xffffffff -ForceV1"),
    ("C:\\Windows\\System32\\svchost.exe", "C:\\WINDOWS\\system32\\svchost.exe -k netsvcs -p -s Schedule"),
    ("C:\\Windows\\System32\\taskhostw.exe", "taskhostw.exe {n}"),
    (
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        '"{exe}" -File C:\\Scripts\\inventory.ps1',
    ),
)
WINDOWS_FILES: Final = (
    "C:\\Users\\{user}\\AppData\\Local\\Google\\Chrome\\User Data\\Default\\Cache\\Cache_Data\\f_{n}",
    "C:\\Users\\{user}\\AppData\\Local\\Temp\\Outlook Logging\\OUTLOOK_{n}.etl",
    "C:\\Users\\{user}\\AppData\\Local\\Temp\\__PSScriptPolicyTest_{n}.ps1",
    "C:\\Windows\\Prefetch\\CHROME.EXE-{n}.pf",
    "C:\\Users\\{user}\\Documents\\report-{n}.docx",
    "C:\\Windows\\Temp\\MpCmdRun.log",
    "C:\\ProgramData\\Microsoft\\Windows Defender\\Scans\\History\\Service\\{n}.bin",
)
LINUX_USERS: Final = (
    "dana",
    "mike",
    "alice",
    "ops",
    "deploy",
    "jenkins",
    "svc-backup",
    "kwame",
    "lena",
    "raj",
)
# Sysmon event code -> (event.action, event.category, event.type) as the 8.x ingest pipeline writes them.
SYSMON_EVENTS: Final = {
    "1": ("Process Create (rule: ProcessCreate)", "process", ("start",)),
    "3": (
        "Network connection detected (rule: NetworkConnect)",
        "network",
        ("start", "connection", "protocol"),
    ),
    "5": ("Process terminated (rule: ProcessTerminate)", "process", ("end",)),
    "11": ("File created (rule: FileCreate)", "file", ("creation",)),
}
SYSMON_SCHEMA: Final = {"1": 5, "3": 5, "5": 3, "11": 2}
# auditd syscall -> (event.action, event.category, event.type) from go-libaudit's normalizations.
AUDITD_SYSCALLS: Final = {
    "execve": ("executed", "process", ("start",)),
    "connect": ("connected-to", "network", ("connection", "start")),
    "openat": ("opened-file", "file", ("info",)),
}
WINDOWS_USERS: Final = ("bob", "carol", "dmitri", "erin", "farah", "gus", "hana", "ivan", "jo", "kim")


@functools.cache
def _split_windows(cmd: str) -> tuple[str, ...]:
    """Split a Windows command line the way Winlogbeat and Endpoint fill process.args (quotes removed)."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in cmd:
        if ch == '"':
            quoted = not quoted
        elif ch == " " and not quoted:
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return tuple(out)


# --------------------------------------------------------------------------------------------- hosts


class _Host:
    """One monitored host: its static document parts and the processes running on it."""

    def __init__(self, rng: random.Random, clock: _Clock, stamp: _Stamp, index: int) -> None:
        self.rng = rng
        self.clock = clock
        self.stamp = stamp
        self.index = index
        self.next_pid = rng.randint(2000, 40000)

    def pid(self) -> int:
        """A fresh pid, increasing like the kernel's."""
        self.next_pid += self.rng.randint(1, 40)
        return self.next_pid

    def process(self) -> list[Event]:
        """Process events of one pick."""
        raise NotImplementedError

    def network(self) -> list[Event]:
        """Network events of one pick."""
        raise NotImplementedError

    def file(self) -> list[Event]:
        """File events of one pick."""
        raise NotImplementedError


def _endpoint_entity_id(agent_id: str, pid: int, start: int) -> str:
    """Elastic Endpoint's entity id: base64 of '<agent.id>-<pid>-<start as seconds since 1601>'."""
    sec, frac = divmod(start + FILETIME_OFFSET, TICKS)
    return base64.b64encode(f"{agent_id}-{pid}-{sec}.{frac:07d}00".encode()).decode()


class _EndpointEnvelope:
    """What every Elastic Endpoint document of one agent shares (agent, host, data stream), and counters."""

    def __init__(self, rng: random.Random, stamp: _Stamp, agent_id: str, host: Event) -> None:
        self.stamp = stamp
        static = {
            "agent": {"id": agent_id, "type": "endpoint", "version": "8.15.3"},
            "ecs": {"version": "8.10.0"},
            "elastic": {"agent": {"id": agent_id}},
            "host": host,
        }
        self.templates = {
            kind: _dumps(
                {
                    **static,
                    "data_stream": {
                        "dataset": f"endpoint.events.{kind}",
                        "namespace": "default",
                        "type": "logs",
                    },
                    "message": f"Endpoint {kind} event",
                }
            )
            for kind in ("process", "network", "file")
        }
        self.event_prefix = "M" + "".join(rng.choices(B64, k=15)) + "+++++"
        self.sequence = rng.randint(10_000, 9_000_000)

    def doc(self, kind: str, t: int, action: str, etype: str) -> Event:
        """A fresh document of data stream endpoint.events.`kind` with its @timestamp and event.*."""
        doc: Event = _loads(self.templates[kind])
        self.sequence += 1
        n = self.sequence
        stamp = self.stamp.seven(t)
        doc["@timestamp"] = stamp
        doc["event"] = {
            "action": action,
            "agent_id_status": "verified",
            "category": [kind],
            "created": stamp,
            "dataset": f"endpoint.events.{kind}",
            "id": f"{self.event_prefix}{B64[(n >> 12) & 63]}{B64[(n >> 6) & 63]}{B64[n & 63]}",
            "ingested": self.stamp.whole(t + 4 * TICKS),
            "kind": "event",
            "module": "endpoint",
            "sequence": n,
            "type": [etype],
        }
        return doc


class _Identity(TypedDict):
    """Who a process runs as: user, uid, working directory, whether it has the terminal."""

    user: str
    uid: int
    cwd: str
    interactive: bool


ROOT: Final[_Identity] = {"user": "root", "uid": 0, "cwd": "/", "interactive": False}


class _LinuxProc:
    """A process on an Endpoint Linux host, with its fork-time entity id and cached JSON blocks."""

    __slots__ = (
        "args",
        "as_parent",
        "cwd",
        "entity",
        "exe",
        "interactive",
        "leaders",
        "lineage",
        "name",
        "parent",
        "pid",
        "ref",
        "start",
        "uid",
        "user",
    )

    def __init__(
        self,
        host: EndpointLinuxHost,
        pid: int,
        start: int,
        image: Image,
        parent: _LinuxProc | None,
        *,
        user: str,
        uid: int,
        cwd: str,
        interactive: bool,
        leaders: bytes | None = None,
    ) -> None:
        self.pid = pid
        self.start = host.stamp.seven(start)
        self.entity = host.entity_id(pid, start)
        self.exe, self.args = image
        self.name = self.exe.rsplit("/", 1)[-1]
        self.parent = parent
        self.user = user
        self.uid = uid
        self.cwd = cwd
        self.interactive = interactive
        self.lineage: tuple[str, ...] = (parent.entity, *parent.lineage[:11]) if parent else ()
        self.leaders: bytes = leaders if leaders is not None else (parent.leaders if parent else b"{}")
        self.as_parent: bytes | None = None
        self.ref: bytes | None = None

    def image(self, exe: str, args: tuple[str, ...]) -> None:
        """exec(): same process and entity id, new image."""
        self.exe = exe
        self.name = exe.rsplit("/", 1)[-1]
        self.args = args
        self.as_parent = None
        self.ref = None

    def parent_block(self) -> bytes:
        """process.parent as seen by this process's children (serialized once per image)."""
        if self.as_parent is None:
            self.as_parent = _dumps(
                {
                    "args": list(self.args),
                    "args_count": len(self.args),
                    "command_line": " ".join(self.args),
                    "entity_id": self.entity,
                    "executable": self.exe,
                    "interactive": self.interactive,
                    "name": self.name,
                    "pid": self.pid,
                    "start": self.start,
                    "user": {"id": self.uid, "name": self.user},
                    "working_directory": self.cwd,
                }
            )
        return self.as_parent

    def ref_block(self) -> bytes:
        """The process block of Linux network and file events (serialized once per image)."""
        if self.ref is None:
            block: Event = {
                "Ext": {"ancestry": list(self.lineage)},
                "command_line": " ".join(self.args),
                "entity_id": self.entity,
                "executable": self.exe,
                "name": self.name,
                "pid": self.pid,
            }
            if self.parent is not None:
                block["parent"] = {"entity_id": self.parent.entity}
            block.update(_loads(self.leaders))
            self.ref = _dumps(block)
        return self.ref


class EndpointLinuxHost(_Host):
    """Elastic Endpoint (Elastic Defend) on Linux: fork/exec/end, network with parent, file with parent."""

    def __init__(self, rng: random.Random, clock: _Clock, stamp: _Stamp, index: int) -> None:
        super().__init__(rng, clock, stamp, index)
        self.agent_id = _uuid(rng)
        self.name = f"{rng.choice(('web', 'api', 'db', 'build', 'k8s-node', 'batch', 'dev'))}-{index:03d}"
        self.ip = f"10.20.{index // 200 + 8}.{index % 200 + 10}"
        variant, version, kernel = rng.choice(
            (
                ("Ubuntu", "22.04.5", "5.15.0-126-generic #136-Ubuntu SMP Wed Nov 6 10:38:22 UTC 2024"),
                (
                    "Ubuntu",
                    "24.04.1",
                    "6.8.0-48-generic #48-Ubuntu SMP PREEMPT_DYNAMIC Fri Sep 27 14:04:52 UTC 2024",
                ),
                ("Debian", "12", "6.1.0-26-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)"),
                ("Rocky Linux", "9.4", "5.14.0-427.42.1.el9_4.x86_64 #1 SMP PREEMPT_DYNAMIC Fri Oct 18 2024"),
            )
        )
        family = variant.split()[0].lower()
        mac = ":".join(f"{rng.randrange(256):02x}" for _ in range(6))
        host = {
            "architecture": "x86_64",
            "hostname": self.name,
            "id": _uuid(rng),
            "ip": ["127.0.0.1", "::1", self.ip],
            "mac": [mac],
            "name": self.name,
            "os": {
                "Ext": {"variant": variant},
                "family": family,
                "full": f"{variant} {version}",
                "kernel": kernel,
                "name": "Linux",
                "platform": family,
                "type": "linux",
                "version": version,
            },
        }
        self.envelope = _EndpointEnvelope(rng, stamp, self.agent_id, host)
        boot = START - rng.randint(2, 60) * 86400 * TICKS
        self.systemd = _LinuxProc(
            self, 1, boot, ("/usr/lib/systemd/systemd", ("/sbin/init", "splash")), None, **ROOT
        )
        self.systemd.leaders = _dumps(
            {
                "entry_leader": {"entity_id": self.systemd.entity, "entry_meta": {"type": "init"}, "pid": 1},
                "session_leader": {"entity_id": self.systemd.entity, "pid": 1},
            }
        )
        t = boot + 9 * TICKS
        self.sshd = _LinuxProc(
            self, 1021, t, ("/usr/sbin/sshd", ("/usr/sbin/sshd", "-D")), self.systemd, **ROOT
        )
        self.cron = _LinuxProc(
            self, 903, t, ("/usr/sbin/cron", ("/usr/sbin/cron", "-f", "-P")), self.systemd, **ROOT
        )
        app_user = rng.choice(("www-data", "app", "deploy"))
        self.app = _LinuxProc(
            self,
            1388,
            t + 4 * TICKS,
            ("/usr/bin/python3.10", ("/usr/bin/python3", "-m", "gunicorn", "app.wsgi", "-b", "0.0.0.0:8080")),
            self.systemd,
            user=app_user,
            uid=33,
            cwd="/srv/app",
            interactive=False,
        )
        self.sessions = [self._login(START - rng.randint(60, 7200) * TICKS) for _ in range(rng.randint(1, 3))]
        self.live: deque[_LinuxProc] = deque()

    def entity_id(self, pid: int, start: int) -> str:
        """The Endpoint entity id of a process of this host."""
        return _endpoint_entity_id(self.agent_id, pid, start)

    def _login(self, at: int) -> _LinuxProc:
        """An ssh login: an sshd child and the user's interactive bash (entry and session leader)."""
        user = self.rng.choice(LINUX_USERS)
        uid = 1000 + LINUX_USERS.index(user)
        sshd = _LinuxProc(
            self, self.pid(), at, ("/usr/sbin/sshd", ("/usr/sbin/sshd", "-D", "-R")), self.sshd, **ROOT
        )
        home: _Identity = {"user": user, "uid": uid, "cwd": f"/home/{user}", "interactive": True}
        bash = _LinuxProc(self, self.pid(), at + 2 * TICKS, ("/usr/bin/bash", ("-bash",)), sshd, **home)
        src = f"10.20.4.{self.rng.randint(10, 60)}"
        bash.leaders = _dumps(
            {
                "entry_leader": {
                    "entity_id": bash.entity,
                    "entry_meta": {"source": {"ip": src}, "type": "sshd"},
                    "parent": {"entity_id": sshd.entity},
                    "pid": bash.pid,
                },
                "session_leader": {"entity_id": bash.entity, "pid": bash.pid},
            }
        )
        return bash

    def _doc(self, kind: str, t: int, action: str, etype: str, proc: _LinuxProc) -> Event:
        doc = self.envelope.doc(kind, t, action, etype)
        doc["group"] = {
            "Ext": {"real": {"id": proc.uid, "name": proc.user}},
            "id": proc.uid,
            "name": proc.user,
        }
        doc["user"] = {
            "Ext": {"real": {"id": proc.uid, "name": proc.user}},
            "id": proc.uid,
            "name": proc.user,
        }
        return doc

    def process_doc(
        self, proc: _LinuxProc, action: str, t: int, previous: tuple[str, tuple[str, ...]] | None = None
    ) -> Event:
        """A process event (fork, exec or end) of `proc` as it is now; `previous` is the image before exec."""
        doc = self._doc("process", t, action, "end" if action == "end" else "start", proc)
        block: Event = {
            "Ext": {"ancestry": list(proc.lineage)},
            "args": list(proc.args),
            "args_count": len(proc.args),
            "command_line": " ".join(proc.args),
            "entity_id": proc.entity,
            "executable": proc.exe,
            "group_leader": {"entity_id": proc.entity, "pid": proc.pid, "same_as_process": True},
            "hash": _hashes(proc.exe),
            "interactive": proc.interactive,
            "name": proc.name,
            "pid": proc.pid,
            "start": proc.start,
            "user": {"id": proc.uid, "name": proc.user},
            "working_directory": proc.cwd,
        }
        if proc.parent is not None:
            block["parent"] = _loads(proc.parent.parent_block())
        block.update(_loads(proc.leaders))
        if previous is not None:
            exe, args = previous
            block["previous"] = [{"args": list(args), "args_count": len(args), "executable": exe}]
        if action == "end":
            block["end"] = doc["@timestamp"]
            block["exit_code"] = 0
        doc["process"] = block
        return doc

    def spawn(
        self, parent: _LinuxProc, exe: str, args: tuple[str, ...], t: int
    ) -> tuple[_LinuxProc, list[Event]]:
        """fork() of `parent` (the record shows a copy of it) then exec() of `exe` in the child."""
        identity: _Identity = {
            "user": parent.user,
            "uid": parent.uid,
            "cwd": parent.cwd,
            "interactive": parent.interactive,
        }
        child = _LinuxProc(self, self.pid(), t, (parent.exe, parent.args), parent, **identity)
        fork = self.process_doc(child, "fork", t)
        before = (child.exe, child.args)
        child.image(exe, args)
        execd = self.process_doc(child, "exec", self.clock.bump(0.3, 3.0), previous=before)
        return child, [fork, execd]

    def process(self) -> list[Event]:
        """Start a command (fork + exec) or end one that is running."""
        rng = self.rng
        t = self.clock.tick()
        if self.live and (len(self.live) > 24 or rng.random() < 0.3):
            proc = self.live.popleft()
            return [self.process_doc(proc, "end", t)]
        r = rng.random()
        if r < 0.62:
            parent = rng.choice(self.sessions)
            if rng.random() < 0.004:
                exe, args = rng.choice(LOOKALIKE_COMMANDS)
                args = tuple(a.replace("{user}", parent.user) for a in args)
            else:
                exe, args = rng.choice(USER_COMMANDS)
        elif r < 0.80:
            parent, (exe, args) = self.cron, rng.choice(CRON_COMMANDS)
        elif r < 0.92:
            parent, (exe, args) = self.systemd, rng.choice(SERVICE_COMMANDS)
        else:
            parent, (exe, args) = self.app, rng.choice(APP_COMMANDS)
        child, events = self.spawn(parent, exe, args, t)
        self.live.append(child)
        return events

    def _actor(self) -> _LinuxProc:
        rng = self.rng
        if self.live and rng.random() < 0.55:
            return self.live[rng.randrange(len(self.live))]
        return rng.choice((self.app, self.app, self.sshd, self.cron, *self.sessions))

    def network_doc(
        self,
        proc: _LinuxProc,
        t: int,
        action: str,
        *,
        src: tuple[str, int],
        dst: tuple[str, int],
        transport: str,
    ) -> Event:
        """A network event of `proc`: connection attempted (egress), accepted (ingress) or disconnect."""
        direction = "ingress" if action == "connection_accepted" else "egress"
        doc = self._doc("network", t, action, "end" if action == "disconnect_received" else "start", proc)
        doc["destination"] = {"address": dst[0], "ip": dst[0], "port": dst[1]}
        doc["source"] = {"address": src[0], "ip": src[0], "port": src[1]}
        doc["network"] = {"direction": direction, "transport": transport, "type": "ipv4"}
        doc["process"] = _loads(proc.ref_block())
        return doc

    def network(self) -> list[Event]:
        """An outbound connection of a running process, an accepted inbound one, or a disconnect."""
        rng = self.rng
        t = self.clock.tick()
        proc = self._actor()
        port = rng.randint(32768, 60999)
        r = rng.random()
        if proc is self.sshd or (proc is self.app and r < 0.4):
            server_port = 22 if proc is self.sshd else 8080
            peer = (f"10.20.{rng.randint(0, 40)}.{rng.randint(2, 250)}", port)
            return [
                self.network_doc(
                    proc, t, "connection_accepted", src=peer, dst=(self.ip, server_port), transport="tcp"
                )
            ]
        ip, dport, transport = rng.choice(EGRESS)
        action = "disconnect_received" if r > 0.8 and transport == "tcp" else "connection_attempted"
        return [self.network_doc(proc, t, action, src=(self.ip, port), dst=(ip, dport), transport=transport)]

    def file_doc(self, proc: _LinuxProc, t: int, action: str, path: str) -> Event:
        """A file event of `proc` on `path`."""
        etype = {"creation": "creation", "deletion": "deletion"}.get(action, "change")
        doc = self._doc("file", t, action, etype, proc)
        name = path.rsplit("/", 1)[-1]
        doc["file"] = {"name": name, "path": path}
        if "." in name[1:]:
            doc["file"]["extension"] = name.rsplit(".", 1)[-1]
        doc["process"] = _loads(proc.ref_block())
        return doc

    def file(self) -> list[Event]:
        """A running process creates, changes, renames or deletes a file."""
        rng = self.rng
        proc = self._actor()
        path = rng.choice(LINUX_FILES).format(n=rng.randint(10000, 99999), user=proc.user, uid=proc.uid)
        action = rng.choice(("creation", "creation", "modification", "modification", "deletion", "rename"))
        return [self.file_doc(proc, self.clock.tick(), action, path)]

    def lua_os_execute(self) -> list[Event]:
        """The os.execute chain of samples/events/endpoint-linux-os-execute.ndjson (both queries fire)."""
        rng = self.rng
        bash = rng.choice(self.sessions)
        cmd = rng.choice(("whoami", "id", "uname -a", "hostname"))
        out = f"/tmp/.{rng.choice(('lua', 'x', 'cache', 'sess'))}_{_hex(rng, 6)}"
        lua, events = self.spawn(
            bash, "/usr/bin/lua5.4", ("lua5.4", "-e", f"os.execute('{cmd} > {out}')"), self.clock.tick()
        )
        shell, more = self.spawn(lua, "/usr/bin/dash", ("sh", "-c", f"{cmd} > {out}"), self.clock.bump(2, 9))
        events += more
        events.append(self.file_doc(shell, self.clock.bump(0.5, 3), "creation", out))
        before = (shell.exe, shell.args)
        shell.image(f"/usr/bin/{cmd.split()[0]}", tuple(cmd.split()))
        events.append(self.process_doc(shell, "exec", self.clock.bump(0.3, 2), previous=before))
        events.append(self.process_doc(shell, "end", self.clock.bump(1, 5)))
        events.append(self.process_doc(lua, "end", self.clock.bump(1, 5)))
        return events

    def lua_socket(self) -> list[Event]:
        """A LuaSocket connection made by the interpreter itself (only the fallback fires)."""
        rng = self.rng
        ip, port = rng.choice((("127.0.0.1", 4444), ("198.51.100.23", 443), ("203.0.113.9", 8443)))
        code = f"local socket=require('socket'); local c=socket.tcp(); c:connect('{ip}',{port})"
        lua, events = self.spawn(
            rng.choice(self.sessions), "/usr/bin/lua", ("lua", "-e", code), self.clock.tick()
        )
        src = ("127.0.0.1" if ip == "127.0.0.1" else self.ip, rng.randint(32768, 60999))
        events.append(
            self.network_doc(
                lua,
                self.clock.bump(50, 400),
                "connection_attempted",
                src=src,
                dst=(ip, port),
                transport="tcp",
            )
        )
        events.append(self.process_doc(lua, "end", self.clock.bump(20, 200)))
        return events


class _WinProc:
    """A Windows process: pid, image, command line, its id in the source's scheme, its parent."""

    __slots__ = ("args", "cmd", "exe", "id", "name", "parent", "pid", "start", "user")

    def __init__(
        self, pid: int, exe: str, cmd: str, ident: str, *, parent: _WinProc | None, user: str
    ) -> None:
        self.pid = pid
        self.exe = exe
        self.name = exe.rsplit("\\", 1)[-1]
        self.cmd = cmd
        self.args = _split_windows(cmd)
        self.id = ident
        self.parent = parent
        self.user = user
        self.start = 0


class _WindowsBase(_Host):
    """A Windows host: explorer, services and a user's applications."""

    def __init__(self, rng: random.Random, clock: _Clock, stamp: _Stamp, index: int) -> None:
        super().__init__(rng, clock, stamp, index)
        self.user = rng.choice(WINDOWS_USERS)
        self.name = f"WS-{rng.choice(('FIN', 'HR', 'ENG', 'OPS', 'SALES'))}-{index:04d}"
        self.ip = f"10.40.{index // 200 + 16}.{index % 200 + 10}"
        self.host_id = _uuid(rng)
        boot = START - rng.randint(1, 20) * 86400 * TICKS
        self.services = self._proc(
            boot, "C:\\Windows\\System32\\services.exe", "C:\\WINDOWS\\system32\\services.exe", None, "SYSTEM"
        )
        logon = START - rng.randint(600, 20000) * TICKS
        self.explorer = self._proc(
            logon, "C:\\Windows\\explorer.exe", "C:\\WINDOWS\\Explorer.EXE", None, self.user
        )
        self.svchost = self._proc(
            boot + 5 * TICKS,
            "C:\\Windows\\System32\\svchost.exe",
            "C:\\WINDOWS\\system32\\svchost.exe -k netsvcs -p",
            self.services,
            "SYSTEM",
        )
        self.live: deque[_WinProc] = deque()

    def _ident(self, pid: int, start: int) -> str:
        raise NotImplementedError

    def _proc(self, start: int, exe: str, cmd: str, parent: _WinProc | None, user: str) -> _WinProc:
        pid = self.rng.randrange(400, 14000, 4)
        proc = _WinProc(pid, exe, cmd, self._ident(pid, start), parent=parent, user=user)
        proc.start = start
        return proc

    def _new_app(self, t: int) -> _WinProc:
        rng = self.rng
        exe, template = rng.choice(WINDOWS_APPS)
        cmd = template.format(exe=exe, user=self.user, n=rng.randint(1000, 9999))
        parent = self.svchost if exe.endswith(("svchost.exe", "taskhostw.exe")) else self.explorer
        user = "SYSTEM" if parent is self.svchost else self.user
        return self._proc(t, exe, cmd, parent, user)

    def _actor(self) -> _WinProc:
        if self.live and self.rng.random() < 0.7:
            return self.live[self.rng.randrange(len(self.live))]
        return self.rng.choice((self.svchost, self.explorer))

    def start_doc(self, proc: _WinProc, t: int) -> Event:
        """The process start event of `proc`."""
        raise NotImplementedError

    def end_doc(self, proc: _WinProc, t: int) -> Event:
        """The process end event of `proc`."""
        raise NotImplementedError

    def process(self) -> list[Event]:
        """Start an application or end one that is running."""
        t = self.clock.tick()
        if self.live and (len(self.live) > 20 or self.rng.random() < 0.45):
            return [self.end_doc(self.live.popleft(), t)]
        proc = self._new_app(t)
        self.live.append(proc)
        return [self.start_doc(proc, t)]

    def file_path(self, proc: _WinProc) -> str:
        """A path such a process writes."""
        return self.rng.choice(WINDOWS_FILES).format(user=self.user, n=self.rng.randint(10000, 99999))


class EndpointWindowsHost(_WindowsBase):
    """Elastic Endpoint on Windows: start/end, network and file events without process.parent.entity_id."""

    def __init__(self, rng: random.Random, clock: _Clock, stamp: _Stamp, index: int) -> None:
        self.agent_id = _uuid(rng)
        super().__init__(rng, clock, stamp, index)
        host = {
            "architecture": "x86_64",
            "hostname": self.name,
            "id": self.host_id,
            "ip": [self.ip, "127.0.0.1", "::1"],
            "mac": ["-".join(f"{rng.randrange(256):02X}" for _ in range(6))],
            "name": self.name,
            "os": {
                "Ext": {"variant": "Windows 11 Enterprise"},
                "family": "windows",
                "full": "Windows 11 Enterprise 23H2 (10.0.22631.4460)",
                "kernel": "23H2 (10.0.22631.4460)",
                "name": "Windows",
                "platform": "windows",
                "type": "windows",
                "version": "23H2 (10.0.22631.4460)",
            },
        }
        self.envelope = _EndpointEnvelope(rng, stamp, self.agent_id, host)

    def _ident(self, pid: int, start: int) -> str:
        return _endpoint_entity_id(self.agent_id, pid, start)

    def _doc(self, kind: str, t: int, action: str, etype: str, proc: _WinProc) -> Event:
        doc = self.envelope.doc(kind, t, action, etype)
        if proc.user == "SYSTEM":
            doc["user"] = {"domain": "NT AUTHORITY", "id": "S-1-5-18", "name": "SYSTEM"}
        else:
            sid = f"S-1-5-21-3623811015-3361044348-30300820-{1100 + self.index}"
            doc["user"] = {"domain": "CORP", "id": sid, "name": proc.user}
        return doc

    def _ancestry(self, proc: _WinProc) -> list[str]:
        out = []
        p = proc.parent
        while p is not None:
            out.append(p.id)
            p = p.parent
        return out

    def start_doc(self, proc: _WinProc, t: int) -> Event:
        """Endpoint Windows process start (shape of the endpoint-package process sample)."""
        doc = self._doc("process", t, "start", "start", proc)
        parent = proc.parent
        block: Event = {
            "Ext": {"ancestry": self._ancestry(proc)},
            "args": list(proc.args),
            "args_count": len(proc.args),
            "command_line": proc.cmd,
            "entity_id": proc.id,
            "executable": proc.exe,
            "hash": _hashes(proc.exe),
            "name": proc.name,
            "pe": {"original_file_name": proc.name},
            "pid": proc.pid,
            "working_directory": f"C:\\Users\\{self.user}\\",
        }
        if parent is not None:
            block["parent"] = {
                "args": list(parent.args),
                "args_count": len(parent.args),
                "command_line": parent.cmd,
                "entity_id": parent.id,
                "executable": parent.exe,
                "name": parent.name,
                "pid": parent.pid,
            }
        doc["process"] = block
        return doc

    def end_doc(self, proc: _WinProc, t: int) -> Event:
        """Endpoint Windows process end."""
        doc = self.start_doc(proc, t)
        doc["event"]["action"] = "end"
        doc["event"]["type"] = ["end"]
        doc["process"]["end"] = doc["@timestamp"]
        doc["process"]["exit_code"] = 0
        return doc

    def network(self) -> list[Event]:
        """An outbound HTTPS/SMB/DNS connection, or its disconnect (no process.parent on Windows)."""
        rng = self.rng
        t = self.clock.tick()
        proc = self._actor()
        ip, port, transport = rng.choice(
            (
                ("142.250.74.100", 443, "tcp"),
                ("13.107.42.14", 443, "tcp"),
                ("10.40.0.10", 53, "udp"),
                ("10.40.0.20", 445, "tcp"),
                ("52.113.194.132", 443, "tcp"),
            )
        )
        action = rng.choice(("connection_attempted", "connection_attempted", "disconnect_received"))
        doc = self._doc("network", t, action, "end" if action == "disconnect_received" else "start", proc)
        sport = rng.randint(49152, 65535)
        doc["destination"] = {"address": ip, "ip": ip, "port": port}
        doc["source"] = {"address": self.ip, "ip": self.ip, "port": sport}
        doc["network"] = {"direction": "egress", "transport": transport, "type": "ipv4"}
        doc["process"] = {
            "Ext": {"ancestry": self._ancestry(proc)},
            "entity_id": proc.id,
            "executable": proc.exe,
            "name": proc.name,
            "pid": proc.pid,
        }
        return [doc]

    def file_doc(self, proc: _WinProc, t: int, action: str, path: str) -> Event:
        """A Windows file event: process.parent holds only the pid."""
        etype = {"creation": "creation", "deletion": "deletion"}.get(action, "change")
        doc = self._doc("file", t, action, etype, proc)
        name = path.rsplit("\\", 1)[-1]
        doc["file"] = {"name": name, "path": path}
        if "." in name:
            doc["file"]["extension"] = name.rsplit(".", 1)[-1]
        doc["process"] = {
            "Ext": {"ancestry": self._ancestry(proc)},
            "entity_id": proc.id,
            "executable": proc.exe,
            "name": proc.name,
            "pid": proc.pid,
        }
        if proc.parent is not None:
            doc["process"]["parent"] = {"pid": proc.parent.pid}
        return doc

    def file(self) -> list[Event]:
        """A running process creates, overwrites or deletes a file."""
        proc = self._actor()
        action = self.rng.choice(("creation", "creation", "modification", "overwrite", "deletion"))
        return [self.file_doc(proc, self.clock.tick(), action, self.file_path(proc))]

    def lua_start(self) -> list[Event]:
        """A Lua interpreter started on a script in the user's Temp folder (only the fallback fires)."""
        t = self.clock.tick()
        script = f"C:\\Users\\{self.user}\\AppData\\Local\\Temp\\{self.rng.choice(('run', 'upd', 'cfg'))}.lua"
        exe = self.rng.choice(("C:\\Tools\\lua\\lua.exe", "C:\\Tools\\luajit\\luajit.exe"))
        lua = self._proc(t, exe, f'"{exe}" {script}', self.explorer, self.user)
        return [self.start_doc(lua, t), self.end_doc(lua, self.clock.bump(30, 900))]


class SysmonHost(_WindowsBase):
    """Winlogbeat 8.15 with Sysmon through the ingest pipeline: events 1, 3, 5 and 11."""

    def __init__(self, rng: random.Random, clock: _Clock, stamp: _Stamp, index: int) -> None:
        self.prefix = _hex(rng, 8)
        self.boot_tail = f"00000000{_hex(rng, 4)}"
        super().__init__(rng, clock, stamp, index)
        self.host_id = f"{self.prefix}{self.host_id[8:]}"
        agent_id = _uuid(rng)
        self.static = _dumps(
            {
                "agent": {
                    "ephemeral_id": _uuid(rng),
                    "id": agent_id,
                    "name": self.name,
                    "type": "winlogbeat",
                    "version": "8.15.3",
                },
                "ecs": {"version": "1.12.0"},
                "host": {
                    "architecture": "x86_64",
                    "hostname": self.name,
                    "id": self.host_id,
                    "ip": [f"fe80::{_hex(rng, 4)}:{_hex(rng, 4)}:{_hex(rng, 4)}:{_hex(rng, 4)}", self.ip],
                    "mac": ["-".join(f"{rng.randrange(256):02X}" for _ in range(6))],
                    "name": self.name,
                    "os": {
                        "build": "22631.4460",
                        "family": "windows",
                        "kernel": "10.0.22621.4460 (WinBuild.160101.0800)",
                        "name": "Windows 11 Enterprise",
                        "platform": "windows",
                        "type": "windows",
                        "version": "10.0",
                    },
                },
                "log": {"level": "information"},
            }
        )
        self.record = rng.randint(100_000, 900_000)
        self.computer = f"{self.name}.corp.example.com"

    def _ident(self, pid: int, start: int) -> str:
        unix = start // TICKS
        return f"{{{self.prefix}-{unix & 0xFFFF:04x}-{unix >> 16:04x}-{_hex(self.rng, 4)}-{self.boot_tail}}}"

    def _doc(self, t: int, code: str, proc: _WinProc) -> Event:
        task, category, etype = SYSMON_EVENTS[code]
        doc: Event = _loads(self.static)
        self.record += 1
        stamp = self.stamp.milli(t)
        doc["@timestamp"] = stamp
        doc["event"] = {
            "action": task,
            "category": [category],
            "code": code,
            "created": self.stamp.milli(t + 6_000_000),
            "ingested": self.stamp.nanos(t + 21_000_000, self.record % 97),
            "kind": "event",
            "module": "sysmon",
            "provider": "Microsoft-Windows-Sysmon",
            "type": list(etype),
        }
        domain = "NT AUTHORITY" if proc.user == "SYSTEM" else "CORP"
        doc["user"] = {"domain": domain, "id": "S-1-5-18", "name": proc.user}
        doc["related"] = {"user": [proc.user]}
        doc["winlog"] = {
            "api": "wineventlog",
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "computer_name": self.computer,
            "event_id": code,
            "opcode": "Info",
            "process": {"pid": 3312, "thread": {"id": 4188}},
            "provider_guid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",
            "provider_name": "Microsoft-Windows-Sysmon",
            "record_id": str(self.record),
            "task": task,
            "user": {"domain": "NT AUTHORITY", "identifier": "S-1-5-18", "name": "SYSTEM", "type": "User"},
            "version": SYSMON_SCHEMA[code],
        }
        return doc

    def start_doc(self, proc: _WinProc, t: int) -> Event:
        """Sysmon event 1 (process create) with the parent's GUID."""
        doc = self._doc(t, "1", proc)
        hashes = _hashes(proc.exe)
        block: Event = {
            "args": list(proc.args),
            "args_count": len(proc.args),
            "command_line": proc.cmd,
            "entity_id": proc.id,
            "executable": proc.exe,
            "hash": hashes,
            "name": proc.name,
            "pid": proc.pid,
            "working_directory": f"C:\\Users\\{self.user}\\",
        }
        parent = proc.parent
        if parent is not None:
            block["parent"] = {
                "args": list(parent.args),
                "args_count": len(parent.args),
                "command_line": parent.cmd,
                "entity_id": parent.id,
                "executable": parent.exe,
                "name": parent.name,
                "pid": parent.pid,
            }
        doc["process"] = block
        doc["related"]["hash"] = [hashes["sha256"], hashes["sha1"], hashes["md5"]]
        doc["winlog"]["event_data"] = {"IntegrityLevel": "Medium", "TerminalSessionId": "1"}
        doc["message"] = (
            f"Process Create:\nRuleName: -\nUtcTime: {doc['@timestamp'][:10]} {doc['@timestamp'][11:23]}\n"
            f"ProcessGuid: {proc.id}\nProcessId: {proc.pid}\nImage: {proc.exe}\nCommandLine: {proc.cmd}\n"
            f"ParentProcessGuid: {parent.id if parent else '-'}\nParentImage: {parent.exe if parent else '-'}"
        )
        return doc

    def end_doc(self, proc: _WinProc, t: int) -> Event:
        """Sysmon event 5 (process terminated)."""
        doc = self._doc(t, "5", proc)
        doc["process"] = {"entity_id": proc.id, "executable": proc.exe, "name": proc.name, "pid": proc.pid}
        doc["message"] = f"Process terminated:\nRuleName: -\nProcessGuid: {proc.id}\nImage: {proc.exe}"
        return doc

    def network(self) -> list[Event]:
        """Sysmon event 3: the process GUID only, no parent."""
        rng = self.rng
        proc = self._actor()
        ip, port, transport, protocol = rng.choice(
            (
                ("142.250.74.100", 443, "tcp", "https"),
                ("13.107.42.14", 443, "tcp", "https"),
                ("10.40.0.10", 53, "udp", "dns"),
                ("10.40.0.20", 445, "tcp", "microsoft-ds"),
            )
        )
        doc = self._doc(self.clock.tick(), "3", proc)
        doc["destination"] = {"ip": ip, "port": port}
        doc["source"] = {"domain": self.computer, "ip": self.ip, "port": rng.randint(49152, 65535)}
        doc["network"] = {"direction": "egress", "protocol": protocol, "transport": transport, "type": "ipv4"}
        doc["process"] = {"entity_id": proc.id, "executable": proc.exe, "name": proc.name, "pid": proc.pid}
        doc["related"]["ip"] = [self.ip, ip]
        doc["message"] = (
            f"Network connection detected:\nProcessGuid: {proc.id}\nImage: {proc.exe}\nInitiated: true"
        )
        return [doc]

    def file_doc(self, proc: _WinProc, t: int, path: str) -> Event:
        """Sysmon event 11 (file create): the process GUID only, no parent."""
        doc = self._doc(t, "11", proc)
        directory, name = path.rsplit("\\", 1)
        doc["file"] = {"directory": directory, "name": name, "path": path}
        if "." in name:
            doc["file"]["extension"] = name.rsplit(".", 1)[-1]
        doc["process"] = {"entity_id": proc.id, "executable": proc.exe, "name": proc.name, "pid": proc.pid}
        doc["winlog"]["event_data"] = {
            "CreationUtcTime": f"{doc['@timestamp'][:10]} {doc['@timestamp'][11:23]}"
        }
        doc["message"] = f"File created:\nProcessGuid: {proc.id}\nImage: {proc.exe}\nTargetFilename: {path}"
        return doc

    def file(self) -> list[Event]:
        """A running process creates a file."""
        proc = self._actor()
        return [self.file_doc(proc, self.clock.tick(), self.file_path(proc))]

    def lua_start(self) -> list[Event]:
        """The T1059.011 atomic: lua.exe on a Temp script, os.execute, a marker file (fallback only)."""
        t = self.clock.tick()
        temp = f"C:\\Users\\{self.user}\\AppData\\Local\\Temp"
        exe = "C:\\Tools\\lua\\lua.exe"
        powershell = self._proc(
            t - 40 * TICKS,
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" ',
            self.explorer,
            self.user,
        )
        lua = self._proc(t, exe, f'"{exe}" {temp}\\execute_command.lua', powershell, self.user)
        cmd_exe = "C:\\Windows\\System32\\cmd.exe"
        cmd = self._proc(
            self.clock.bump(10, 40), cmd_exe, "C:\\WINDOWS\\system32\\cmd.exe /c calc.exe", lua, self.user
        )
        calc = self._proc(
            self.clock.bump(10, 40), "C:\\Windows\\System32\\calc.exe", "calc.exe", cmd, self.user
        )
        return [
            self.start_doc(lua, t),
            self.start_doc(cmd, cmd.start),
            self.start_doc(calc, calc.start),
            self.end_doc(calc, self.clock.bump(100, 200)),
            self.end_doc(cmd, self.clock.bump(5, 20)),
            self.file_doc(lua, self.clock.bump(5, 30), f"{temp}\\T1059.011_lua_marker.txt"),
            self.end_doc(lua, self.clock.bump(5, 30)),
        ]


class AuditdHost(_Host):
    """Auditbeat 8.15 auditd module: execve, connect and open syscalls; pids only, no entity ids."""

    def __init__(self, rng: random.Random, clock: _Clock, stamp: _Stamp, index: int) -> None:
        super().__init__(rng, clock, stamp, index)
        self.name = f"{rng.choice(('db', 'backup', 'bastion', 'ci'))}-{index:03d}"
        self.ip = f"10.20.{index // 200 + 40}.{index % 200 + 10}"
        self.static = _dumps(
            {
                "agent": {
                    "ephemeral_id": _uuid(rng),
                    "id": _uuid(rng),
                    "name": self.name,
                    "type": "auditbeat",
                    "version": "8.15.3",
                },
                "ecs": {"version": "8.0.0"},
                "host": {
                    "architecture": "x86_64",
                    "containerized": False,
                    "hostname": self.name,
                    "id": _hex(rng, 32),
                    "ip": [self.ip, f"fe80::f816:3eff:fe{_hex(rng, 2)}:{_hex(rng, 4)}"],
                    "mac": ["-".join(f"{rng.randrange(256):02X}" for _ in range(6))],
                    "name": self.name,
                    "os": {
                        "codename": "jammy",
                        "family": "debian",
                        "kernel": "5.15.0-126-generic",
                        "name": "Ubuntu",
                        "platform": "ubuntu",
                        "type": "linux",
                        "version": "22.04.5 LTS (Jammy Jellyfish)",
                    },
                },
                "service": {"type": "auditd"},
            }
        )
        self.sequence = rng.randint(100_000, 9_000_000)
        self.user = rng.choice(LINUX_USERS)
        self.uid = str(1000 + LINUX_USERS.index(self.user))
        self.session = str(rng.randint(3, 900))
        self.shell_pid = rng.randint(2000, 30000)
        self.live: deque[tuple[int, int, str, str]] = deque(maxlen=16)

    def _doc(self, t: int, syscall: str, result: str) -> Event:
        action, category, etype = AUDITD_SYSCALLS[syscall]
        doc: Event = _loads(self.static)
        self.sequence += 1
        doc["@timestamp"] = self.stamp.milli(t)
        doc["event"] = {
            "action": action,
            "category": [category],
            "kind": "event",
            "module": "auditd",
            "outcome": "success" if result == "success" else "failure",
            "type": list(etype),
        }
        doc["auditd"] = {
            "data": {"arch": "x86_64", "exit": "0", "syscall": syscall, "tty": "pts0"},
            "message_type": "syscall",
            "result": result,
            "sequence": self.sequence,
            "session": self.session,
            "summary": {"actor": {"primary": self.user, "secondary": self.user}},
        }
        uid, name = self.uid, self.user
        doc["user"] = {
            "audit": {"id": uid, "name": name},
            "filesystem": {"group": {"id": uid, "name": name}, "id": uid, "name": name},
            "group": {"id": uid, "name": name},
            "id": uid,
            "name": name,
            "saved": {"group": {"id": uid, "name": name}, "id": uid, "name": name},
        }
        doc["related"] = {"user": [name]}
        return doc

    def execve_doc(self, t: int, exe: str, args: tuple[str, ...], pid: int, ppid: int) -> Event:
        """An EXECVE: process.pid/parent.pid/name/executable/args/title, file.*, auditd.paths."""
        doc = self._doc(t, "execve", "success")
        doc["auditd"]["data"]["argc"] = str(len(args))
        doc["auditd"]["paths"] = [
            {"item": "0", "mode": "0100755", "name": exe, "nametype": "NORMAL", "ogid": "0", "ouid": "0"},
            {
                "item": "1",
                "mode": "0100755",
                "name": "/lib64/ld-linux-x86-64.so.2",
                "nametype": "NORMAL",
                "ogid": "0",
                "ouid": "0",
            },
        ]
        doc["auditd"]["summary"]["how"] = exe
        doc["auditd"]["summary"]["object"] = {"primary": exe, "type": "file"}
        doc["file"] = {"gid": "0", "group": "root", "mode": "0755", "owner": "root", "path": exe, "uid": "0"}
        doc["process"] = {
            "args": list(args),
            "executable": exe,
            "name": args[0].rsplit("/", 1)[-1],
            "parent": {"pid": ppid},
            "pid": pid,
            "title": " ".join(args),
            "working_directory": f"/home/{self.user}",
        }
        doc["tags"] = ["exec"]
        return doc

    def process(self) -> list[Event]:
        """A command executed from the user's shell."""
        exe, args = self.rng.choice(USER_COMMANDS)
        pid = self.pid()
        self.live.append((pid, self.shell_pid, exe, args[0]))
        return [self.execve_doc(self.clock.tick(), exe, args, pid, self.shell_pid)]

    def _actor(self) -> tuple[int, int, str, str]:
        if self.live:
            return self.live[self.rng.randrange(len(self.live))]
        return (self.shell_pid, 1, "/usr/bin/bash", "bash")

    def network(self) -> list[Event]:
        """A connect() (non-blocking connects return EINPROGRESS and are recorded as failed)."""
        rng = self.rng
        pid, ppid, exe, name = self._actor()
        ip, port, _ = rng.choice(EGRESS)
        result = "fail" if rng.random() < 0.5 else "success"
        doc = self._doc(self.clock.tick(), "connect", result)
        doc["auditd"]["data"].update(
            exit="EINPROGRESS" if result == "fail" else "0",
            socket={"addr": ip, "family": "ipv4", "port": str(port)},
        )
        doc["auditd"]["summary"]["how"] = exe
        doc["auditd"]["summary"]["object"] = {"primary": ip, "secondary": str(port), "type": "socket"}
        doc["destination"] = {"ip": ip, "port": str(port)}
        doc["network"] = {"direction": "egress"}
        doc["process"] = {"executable": exe, "name": name, "parent": {"pid": ppid}, "pid": pid, "title": name}
        doc["tags"] = ["net"]
        return [doc]

    def file(self) -> list[Event]:
        """An openat() of a watched path (auditd types it info, not creation)."""
        rng = self.rng
        pid, ppid, exe, name = self._actor()
        path = rng.choice(LINUX_FILES).format(n=rng.randint(10000, 99999), user=self.user, uid=self.uid)
        doc = self._doc(self.clock.tick(), "openat", "success")
        doc["auditd"]["summary"]["how"] = exe
        doc["auditd"]["summary"]["object"] = {"primary": path, "type": "file"}
        doc["file"] = {"path": path}
        doc["process"] = {"executable": exe, "name": name, "parent": {"pid": ppid}, "pid": pid, "title": name}
        doc["tags"] = ["access"]
        return [doc]

    def lua_start(self) -> list[Event]:
        """lua5.3 -e "loadstring(...)()" from the user's shell (fallback only: no entity ids)."""
        code = self.rng.choice(("loadstring('print(1)')()", "loadstring(io.read('*a'))()"))
        return [
            self.execve_doc(
                self.clock.tick(), "/usr/bin/lua5.3", ("lua5.3", "-e", code), self.pid(), self.shell_pid
            )
        ]


# --------------------------------------------------------------------------------------------- stream

_HOST_TYPES: Final[dict[str, Callable[[random.Random, _Clock, _Stamp, int], _Host]]] = {
    "endpoint-linux": EndpointLinuxHost,
    "endpoint-windows": EndpointWindowsHost,
    "sysmon": SysmonHost,
    "auditd": AuditdHost,
}


def _hosts(rng: random.Random, clock: _Clock, stamp: _Stamp, count: int) -> list[_Host]:
    """Build the fleet: a few hundred hosts split across the sources by SOURCES."""
    hosts: list[_Host] = []
    for kind, share in SOURCES:
        for _ in range(max(1, round(count * share))):
            hosts.append(_HOST_TYPES[kind](rng, clock, stamp, len(hosts) + 1))
    return hosts


def _lua(rng: random.Random, hosts: list[_Host]) -> list[Event]:
    """One burst of true-positive Lua activity on a random host that can show it."""
    pick = rng.random()
    if pick < 0.5:
        linux = [h for h in hosts if isinstance(h, EndpointLinuxHost)]
        return rng.choice(linux).lua_os_execute()
    if pick < 0.65:
        linux = [h for h in hosts if isinstance(h, EndpointLinuxHost)]
        return rng.choice(linux).lua_socket()
    kind = (SysmonHost, AuditdHost, EndpointWindowsHost)[rng.randrange(3)]
    host = rng.choice([h for h in hosts if isinstance(h, kind)])
    assert isinstance(host, SysmonHost | AuditdHost | EndpointWindowsHost)
    return host.lua_start()


def generate(count: int, seed: int = 1, scalar: bool = False) -> Iterator[dict[str, Any]]:
    """Yield `count` independent ECS event documents, deterministic for `seed`, in time order."""
    rng = random.Random(seed)
    clock = _Clock(rng, count)
    stamp = _Stamp()
    hosts = _hosts(rng, clock, stamp, 320)
    weights = [rng.paretovariate(2.5) for _ in hosts]
    cumulative = [0.0] * len(weights)
    total = 0.0
    for i, w in enumerate(weights):
        total += w
        cumulative[i] = total
    choices = rng.choices
    uniform = rng.random
    emitted = 0
    while emitted < count:
        r = uniform()
        if r < LUA_RATE:
            batch = _lua(rng, hosts)
        else:
            host = choices(hosts, cum_weights=cumulative)[0]
            r = uniform()
            batch = (
                host.process()
                if r < PICK_PROCESS
                else host.network()
                if r < PICK_PROCESS + PICK_NETWORK
                else host.file()
            )
        for event in batch:
            if emitted == count:
                return
            emitted += 1
            yield _scalar(event) if scalar else event


# --------------------------------------------------------------------------------------------- CLI


def write(path: str, count: int, seed: int = 1, scalar: bool = False) -> int:
    """Write `count` events as NDJSON to `path` ('-' for stdout); return the number of bytes written."""
    written = 0
    with contextlib.nullcontext(sys.stdout.buffer) if path == "-" else Path(path).open("wb") as out:
        chunk: list[bytes] = []
        for event in generate(count, seed, scalar):
            chunk.append(_dumps(event))
            if len(chunk) == 4096:
                chunk.append(b"")
                data = b"\n".join(chunk)
                out.write(data)
                written += len(data)
                chunk = []
        if chunk:
            chunk.append(b"")
            data = b"\n".join(chunk)
            out.write(data)
            written += len(data)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1_000_000, help="number of events (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--output", default="-", help="output NDJSON file, '-' for stdout (default)")
    parser.add_argument("--scalar", action="store_true", help="flatten arrays for the eql package baseline")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be >= 0")
    began = time.perf_counter()
    size = write(args.output, args.count, args.seed, args.scalar)
    elapsed = time.perf_counter() - began
    rate = args.count / max(elapsed, 1e-9)
    print(
        f"{args.count:,} events, {size / 1e6:,.1f} MB in {elapsed:.1f} s ({rate:,.0f} events/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
