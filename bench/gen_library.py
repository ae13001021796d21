"""Stream mixed Elastic Defend events for the whole-library benchmark (bench/library.py).

Shapes follow Elastic Defend's documents (``../shared/telemetry``: the endpoint package's process,
network and file sample events): Windows process, network, file, registry, library and dns events and
Linux process, network and file events from a few hundred hosts, in time order, with the
``data_stream.*`` fields that name their ``logs-endpoint.events.*`` index. Values come from pools of
ordinary activity; with ``--rule-rate`` (default 0.5%) a field takes a literal from the rules' own
conditions instead (an exact value, or one that starts or ends with a rule's pattern), so rules fire
the way a real export makes them fire now and then. ``--small`` writes only Linux process events of
about 450 bytes (the Lua hunt benchmark), with a Lua start once in 20,000.

    python bench/gen_library.py --count 100000 --output /tmp/library.ndjson
    python bench/gen_library.py --count 500000 --small --output /tmp/small.ndjson
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
RULES = (
    ROOT.parent / "shared/detection-rules/rules",
    ROOT.parent / "shared/detection-rules/rules_building_block",
)
START_MS = 1_795_154_400_000  # 2026-11-20T06:00:00Z
WINDOWS_SHARE = 0.7
WIN_CATEGORIES = (
    ("process", 0.35),
    ("network", 0.2),
    ("file", 0.2),
    ("registry", 0.1),
    ("library", 0.1),
    ("dns", 0.05),
)
LINUX_CATEGORIES = (("process", 0.55), ("network", 0.25), ("file", 0.2))

WIN_IMAGES = [
    ("C:\\Windows\\System32\\svchost.exe", ["-k", "netsvcs", "-p"]),
    ("C:\\Windows\\explorer.exe", []),
    ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", ["--type=renderer", "--lang=en-US"]),
    ("C:\\Windows\\System32\\cmd.exe", ["/c", "echo", "ok"]),
    (
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        ["-NoProfile", "-File", "C:\\ops\\inventory.ps1"],
    ),
    ("C:\\Windows\\System32\\conhost.exe", ["0xffffffff", "-ForceV1"]),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", []),
    ("C:\\Windows\\System32\\RuntimeBroker.exe", ["-Embedding"]),
    ("C:\\Windows\\System32\\taskhostw.exe", []),
    ("C:\\Program Files\\Microsoft VS Code\\Code.exe", ["--unity-launch"]),
    ("C:\\Windows\\System32\\msiexec.exe", ["/V"]),
    ("C:\\Windows\\System32\\SearchProtocolHost.exe", ["Global\\UsGthrFltPipeMssGthrPipe1"]),
]
LINUX_IMAGES = [
    ("/usr/bin/bash", ["-c", "make -j2"]),
    ("/usr/sbin/sshd", ["-D"]),
    ("/usr/bin/python3", ["/opt/app/worker.py", "--queue", "default"]),
    ("/usr/bin/curl", ["-fsS", "https://updates.example.com/health"]),
    ("/usr/bin/git", ["fetch", "--all"]),
    ("/usr/bin/ls", ["-la", "/var/log"]),
    ("/usr/bin/systemctl", ["status", "nginx"]),
    ("/usr/sbin/nginx", ["-g", "daemon off;"]),
    ("/usr/bin/node", ["/srv/app/server.js"]),
    ("/usr/bin/cron", ["-f"]),
]
WIN_FILES = [
    "C:\\Users\\{u}\\Documents\\report-{n}.docx",
    "C:\\Users\\{u}\\AppData\\Local\\Temp\\tmp{n}.tmp",
    "C:\\ProgramData\\Microsoft\\Windows Defender\\Scans\\mpcache-{n}.bin",
    "C:\\Windows\\Temp\\log{n}.txt",
]
LINUX_FILES = [
    "/var/log/app/app-{n}.log",
    "/tmp/build-{n}/out.o",
    "/home/{u}/.cache/pip/wheels/{n}.whl",
    "/etc/nginx/conf.d/site{n}.conf",
]
REG_PATHS = [
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\{n}",
    "HKU\\S-1-5-21-1004\\Software\\Microsoft\\Office\\16.0\\Common\\Roaming\\{n}",
    "HKLM\\SYSTEM\\ControlSet001\\Services\\bam\\State\\UserSettings\\{n}",
]
DLLS = [
    "C:\\Windows\\System32\\kernelbase.dll",
    "C:\\Windows\\System32\\ws2_32.dll",
    "C:\\Windows\\System32\\crypt32.dll",
    "C:\\Windows\\System32\\ntdll.dll",
    "C:\\Program Files\\Common Files\\microsoft shared\\ClickToRun\\AppvIsvSubsystems64.dll",
]
DOMAINS = [
    "login.microsoftonline.com",
    "www.google.com",
    "github.com",
    "updates.example.com",
    "ocsp.digicert.com",
    "teams.microsoft.com",
]
USERS = ["alice", "bob", "carol", "dave", "svc_backup", "SYSTEM"]
ACTIONS = {
    ("windows", "process"): ["start", "end"],
    ("linux", "process"): ["exec", "fork", "end"],
    ("windows", "network"): ["connection_attempted", "connection_accepted", "disconnect_received"],
    ("linux", "network"): ["connection_attempted", "connection_accepted", "disconnect_received"],
    ("windows", "file"): ["creation", "modification", "deletion", "rename", "overwrite"],
    ("linux", "file"): ["creation", "modification", "deletion", "rename"],
    ("windows", "registry"): ["modification"],
    ("windows", "library"): ["load"],
    ("windows", "dns"): ["lookup_result"],
}
TYPES = {
    "start": "start",
    "exec": "start",
    "fork": "start",
    "end": "end",
    "creation": "creation",
    "modification": "change",
    "overwrite": "change",
    "rename": "change",
    "deletion": "deletion",
    "load": "start",
    "lookup_result": "protocol",
    "connection_attempted": "start",
    "connection_accepted": "start",
    "disconnect_received": "end",
}


def rule_literals() -> dict[str, list[tuple[str, str]]]:
    """Field -> (mode, text) keys the prebuilt rules' stages need (see hunter.eql.gates), by field."""
    sys.path.insert(0, str(ROOT))
    from hunter.hunts import load_hunt_set

    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    hunts = load_hunt_set([path for path in RULES if path.is_dir()]).hunts
    for hunt in hunts:
        for query in hunt.queries:
            gate = query.compiled.run().gate()
            for needs in gate or []:
                for need in needs:
                    for name, mode, text in need:
                        if mode != "present":
                            found[name].add((mode, text))
    return {name: sorted(keys) for name, keys in found.items()}


class Generator:
    """Events in time order; ``literals`` (field -> keys) replace pool values at ``rate``."""

    def __init__(self, rng: random.Random, literals: dict[str, list[tuple[str, str]]], rate: float) -> None:
        self.rng = rng
        self.literals = literals
        self.rate = rate
        self.hosts = [self._host(index) for index in range(300)]
        self.t = START_MS
        self.pid = 1000

    def _host(self, index: int) -> dict[str, Any]:
        windows = self.rng.random() < WINDOWS_SHARE
        name = f"{'win' if windows else 'lnx'}-{index:04d}"
        os_part = (
            {
                "type": "windows",
                "name": "Windows 10",
                "family": "windows",
                "version": "22H2",
                "platform": "windows",
            }
            if windows
            else {
                "type": "linux",
                "name": "Ubuntu",
                "family": "debian",
                "version": "22.04",
                "platform": "ubuntu",
            }
        )
        return {
            "id": f"{self.rng.getrandbits(128):032x}",
            "name": name,
            "hostname": name,
            "os": os_part,
            "architecture": "x86_64",
        }

    def value(self, field: str, default: str) -> str:
        """``default``, or now and then a value a rule looks for in ``field``."""
        keys = self.literals.get(field)
        if not keys or self.rng.random() >= self.rate:
            return default
        mode, text = self.rng.choice(keys)
        if mode in ("lower", "lprefix", "lsuffix", "linfix"):
            text = "".join(c.upper() if self.rng.random() < 0.3 else c for c in text)
        if mode.endswith("prefix"):
            return text + default[-8:]
        if mode.endswith("suffix"):
            return default[:8] + text
        if mode.endswith("infix"):
            return default[:6] + text + default[-6:]
        return text

    def events(self, count: int) -> Iterator[dict[str, Any]]:
        """``count`` events, timestamps increasing."""
        for _ in range(count):
            self.t += self.rng.randint(1, 40)
            host = self.rng.choice(self.hosts)
            os_type = host["os"]["type"]
            shares = WIN_CATEGORIES if os_type == "windows" else LINUX_CATEGORIES
            category = self.rng.choices([c for c, _ in shares], [w for _, w in shares])[0]
            yield self.event(host, os_type, category)

    def event(self, host: dict[str, Any], os_type: str, category: str) -> dict[str, Any]:
        """One event of ``category`` on ``host``."""
        rng = self.rng
        action = rng.choice(ACTIONS[(os_type, category)])
        images = WIN_IMAGES if os_type == "windows" else LINUX_IMAGES
        executable, args = rng.choice(images)
        parent_exe, parent_args = rng.choice(images)
        sep = "\\" if os_type == "windows" else "/"
        executable = self.value("process.executable", executable)
        name = self.value("process.name", executable.rsplit(sep, 1)[-1])
        parent_name = self.value("process.parent.name", parent_exe.rsplit(sep, 1)[-1])
        arg_list = [executable, *(self.value("process.args", a) for a in args)]
        user = rng.choice(USERS)
        self.pid += 1
        entity = f"{rng.getrandbits(96):024x}"
        process: dict[str, Any] = {
            "pid": self.pid,
            "entity_id": entity,
            "name": name,
            "executable": executable,
            "args": arg_list,
            "args_count": len(arg_list),
            "command_line": self.value("process.command_line", " ".join(arg_list)),
            "working_directory": "C:\\Windows\\system32" if os_type == "windows" else "/home/" + user,
            "parent": {
                "pid": self.pid - rng.randint(1, 500),
                "entity_id": f"{rng.getrandbits(96):024x}",
                "name": parent_name,
                "executable": self.value("process.parent.executable", parent_exe),
                "args": [parent_exe, *parent_args],
                "command_line": " ".join([parent_exe, *parent_args]),
            },
        }
        if os_type == "windows":
            process["code_signature"] = {
                "subject_name": self.value("process.code_signature.subject_name", "Microsoft Windows"),
                "trusted": rng.random() < 0.9,
                "exists": True,
                "status": "trusted",
            }
            process["pe"] = {"original_file_name": self.value("process.pe.original_file_name", name.upper())}
            process["Ext"] = {"token": {"integrity_level_name": rng.choice(["medium", "high", "system"])}}
        dataset = f"endpoint.events.{category}"
        stamp = self.t
        document: dict[str, Any] = {
            "@timestamp": f"{_iso(stamp)}",
            "agent": {"id": host["id"][:8] + "-agent", "type": "endpoint", "version": "8.15.0"},
            "data_stream": {"dataset": dataset, "namespace": "default", "type": "logs"},
            "ecs": {"version": "8.11.0"},
            "event": {
                "action": action,
                "category": [category],
                "type": [TYPES[action]],
                "kind": "event",
                "dataset": dataset,
                "module": "endpoint",
                "id": f"{rng.getrandbits(64):016x}",
                "outcome": "success",
            },
            "host": host,
            "user": {
                "name": self.value("user.name", user),
                "domain": "CORP" if os_type == "windows" else user,
                "id": "S-1-5-18" if user == "SYSTEM" else f"{1000 + USERS.index(user)}",
            },
            "process": process,
        }
        if category == "network":
            port = rng.choice([443, 80, 53, 22, 8080, 3389, 445])
            document["source"] = {
                "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "port": rng.randint(1024, 65535),
            }
            document["destination"] = {
                "ip": ".".join(str(rng.randint(1, 223)) for _ in range(4)),
                "port": port,
            }
            document["network"] = {
                "direction": rng.choice(["egress", "ingress"]),
                "transport": "tcp",
                "type": "ipv4",
                "protocol": "https" if port == 443 else "tcp",
            }
        elif category == "file":
            pattern = rng.choice(WIN_FILES if os_type == "windows" else LINUX_FILES)
            path = self.value("file.path", pattern.format(u=user, n=rng.randint(1, 99999)))
            file_name = self.value("file.name", path.rsplit(sep, 1)[-1])
            document["file"] = {
                "path": path,
                "name": file_name,
                "extension": self.value("file.extension", file_name.rsplit(".", 1)[-1]),
                "size": rng.randint(10, 10_000_000),
            }
        elif category == "registry":
            path = self.value("registry.path", rng.choice(REG_PATHS).format(n=rng.randint(1, 9999)))
            document["registry"] = {
                "path": path,
                "hive": path.split("\\", 1)[0],
                "key": path.split("\\", 1)[-1],
                "value": self.value("registry.value", "Setting"),
                "data": {"strings": [self.value("registry.data.strings", "1")], "type": "REG_SZ"},
            }
        elif category == "library":
            dll = self.value("dll.path", rng.choice(DLLS))
            document["dll"] = {
                "path": dll,
                "name": self.value("dll.name", dll.rsplit("\\", 1)[-1]),
                "code_signature": {"subject_name": "Microsoft Windows", "trusted": True},
            }
        elif category == "dns":
            domain = self.value("dns.question.name", rng.choice(DOMAINS))
            document["dns"] = {
                "question": {"name": domain, "type": "A"},
                "resolved_ip": [f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.1.{rng.randint(1, 254)}"],
            }
        return document


def small_events(rng: random.Random, count: int) -> Iterator[dict[str, Any]]:
    """Linux process events of about 450 bytes; a Lua start with ``os.execute`` once in 20,000."""
    t = START_MS
    for number in range(count):
        t += rng.randint(1, 20)
        executable, args = rng.choice(LINUX_IMAGES)
        lua = rng.random() < 1 / 20_000
        if lua:
            executable, args = "/usr/bin/lua5.4", ["-e", "os.execute('id')"]
        action = rng.choice(("exec", "fork", "end"))
        yield {
            "@timestamp": _iso(t),
            "event": {"action": action, "category": ["process"], "type": [TYPES[action]], "kind": "event"},
            "host": {"id": f"{number % 97:08x}", "name": f"lnx-{number % 97:04d}", "os": {"type": "linux"}},
            "process": {
                "pid": 1000 + number % 30000,
                "entity_id": f"{rng.getrandbits(64):016x}",
                "name": executable.rsplit("/", 1)[-1],
                "executable": executable,
                "args": [executable, *args],
                "parent": {"pid": 1, "entity_id": f"{number % 50:016x}", "name": "systemd"},
            },
            "user": {"name": "root"},
            "data_stream": {"dataset": "endpoint.events.process", "namespace": "default", "type": "logs"},
        }


def _iso(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    days, rest = divmod(seconds, 86400)
    import datetime

    day = datetime.date(1970, 1, 1) + datetime.timedelta(days=days)
    return f"{day.isoformat()}T{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}.{millis:03d}Z"


def main() -> None:
    """Write the events as NDJSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", default="-")
    parser.add_argument(
        "--small", action="store_true", help="small Linux process events (the Lua hunt bench)"
    )
    parser.add_argument("--rule-rate", type=float, default=0.005, help="share of values taken from the rules")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.small:
        events = small_events(rng, args.count)
    else:
        events = Generator(rng, rule_literals(), args.rule_rate).events(args.count)
    out = sys.stdout.buffer if args.output == "-" else Path(args.output).open("wb")  # noqa: SIM115
    with out:
        for event in events:
            out.write(orjson.dumps(event) + b"\n")


if __name__ == "__main__":
    main()
