"""The HTTP/WebSocket API of ``deepalpha serve``, loaded from outside like a client would.

The real command runs as its own process, ``python -m deepalpha serve --data-dir TMP --port 0
--start "2025-12-03 13:00"``: the demo traders on the simulated market, both markets in
continuous trading (at the default speed of 60 that lasts two real minutes, more than the run),
so the engine works while the API is loaded. A user is added to the fresh data directory first
with ``deepalpha users add --password-stdin``, and the bench signs in over HTTP like any client.

REST: ``wrk`` (one thread, 50 connections, 10 s after a 2 s warm-up; 3 s with ``--quick``)
requests ``GET /api/v1/positions`` with the bearer token: the token is checked, the positions
read and encoded on every request. The baseline, ``GET /api/v1/version``, needs no token and no
engine work, so the ratio says what a signed-in read costs beyond the HTTP stack. wrk is a C
program that spends little CPU per request; a load generator in Python or Node would take a
large share of the same two cores from the server it measures. Aim: positions ≥ 2,000 req/s.

WebSocket: 100 clients in two processes (50 each, so neither side's event loop is the other's
bottleneck) subscribe to "quotes". The server sends changed quotes in batches every 0.1 s;
each batch carries ``sent``, the server's wall time when it was published. A quote item is one
quote in a batch; "items/s" counts the items all clients read per second together, and an
item's delivery latency is the wall time its client read it minus its batch's ``sent``.
Aim: p99 < 50 ms. The clients offer permessage-deflate, as browsers do, so the server
compresses every batch once per client; a second run with clients that do not offer it shows
what that costs (its ratio: quote items per server CPU second against the first run's). Then
99 clients and one that reads nothing (``bench.api_stream`` describes it): the others' p99
should not move, and the slow one is dropped with close code 4008 once its queue
(``DEEPALPHA_SERVER__STREAM_CLIENT_QUEUE``, 20 batches here) overflows.

What the table's columns mean here: items are requests or quote items, and seconds are the CPU
seconds the *server process* spent in the measured window (from /proc), so items/s is work per
server CPU second and the ratio compares what each costs the server, little moved by whatever
else the machine runs. The wall-clock figures (req/s, latency percentiles, items/s) are in the
check column and the JSON. Each load runs once: one run is already many thousands of samples.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import BenchResult

ROOT = Path(__file__).resolve().parent.parent
START = "2025-12-03 13:00"  # Beijing time, a Wednesday: both markets in continuous trading
USER, ROLE = "bench", "admin"
CONNECTIONS = 50
WS_CLIENTS = 100
WS_PROCESSES = 2
CLIENT_QUEUE = 20  # batches; at 10 batches/s a client that keeps up never has more than a few
SLOW_SECONDS = 8.0  # the slow client reads nothing for this long at least
AIM_RPS = 2_000.0
AIM_P99_MS = 50.0
STARTUP_TIMEOUT = 60.0
URL_LINE = re.compile(r"serving headless: the API at (http://\S+?);")


# --- the server ---------------------------------------------------------------------------------
@dataclass
class Server:
    """``deepalpha serve`` as a child process; its JSON log lines are read as they come."""

    proc: subprocess.Popen[str]
    url: str = ""
    log: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    _found: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, data_dir: Path, env: dict[str, str]) -> Server:
        command = [sys.executable, "-m", "deepalpha", "serve", "--data-dir", str(data_dir)]
        proc = subprocess.Popen(
            [*command, "--port", "0", "--start", START],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        server = cls(proc)
        threading.Thread(target=server._read, daemon=True).start()
        if not server._found.wait(STARTUP_TIMEOUT) or not server.url:
            server.stop()
            tail = "\n".join(server.log)
            raise RuntimeError(f"deepalpha serve did not start listening:\n{tail}")
        return server

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:  # read to the end, so the pipe never fills
            self.log.append(line.rstrip())
            if not self.url:
                found = URL_LINE.search(line)
                if found:
                    self.url = found.group(1)
                    self._found.set()
        self._found.set()  # it exited: stop waiting

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the server process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


def _add_user(data_dir: Path, password: str, env: dict[str, str]) -> None:
    """The user to sign in with, added the way an operator does (the password on stdin)."""
    command = [sys.executable, "-m", "deepalpha", "users", "add", USER, "--role", ROLE]
    done = subprocess.run(
        [*command, "--data-dir", str(data_dir), "--password-stdin"],
        input=password + "\n",
        check=False,  # the failure is reported below, with what the command said
        text=True,
        env=env,
        capture_output=True,
        timeout=STARTUP_TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"deepalpha users add failed ({done.returncode}): {done.stderr}")


def _sign_in(url: str, password: str) -> str:
    r = httpx.post(f"{url}/api/v1/auth/login", json={"name": USER, "password": password})
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


# --- REST through wrk ---------------------------------------------------------------------------
@dataclass(slots=True)
class Load:
    requests: int
    seconds: float  # wall
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    server_cpu: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def _parse_wrk(out: str) -> tuple[int, float, float, float, float, int, int]:
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (done and rps and p50 and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return (
        int(done.group(1)),
        _ms(done.group(2) + done.group(3)) / 1000,
        float(rps.group(1)),
        _ms(p50.group(1)),
        _ms(p99.group(1)),
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(g) for g in errors.groups()) if errors else 0,
    )


def _wrk(server: Server, path: str, seconds: float, script: Path | None) -> Load:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency"]
    if script is not None:  # the token goes in a script file, not in argv where ps shows it
        command += ["-s", str(script)]
    command.append(server.url + path)
    before = server.cpu_seconds()
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30)
    cpu = server.cpu_seconds() - before
    requests, wall, rps, p50, p99, non_2xx, errors = _parse_wrk(out.stdout)
    return Load(requests, wall, rps, p50, p99, non_2xx, errors, cpu)


def _rest_row(name: str, load: Load, aim: float | None, idle: float) -> BenchResult:
    check = (
        f"wrk {CONNECTIONS} conns {load.seconds:.0f} s: {load.rps:,.0f} req/s wall"
        f"{f' (aim ≥ {aim:,.0f})' if aim else ''}, p50 {load.p50_ms:.1f} ms, "
        f"p99 {load.p99_ms:.1f} ms, {load.non_2xx} non-2xx, {load.socket_errors} socket errors; "
        f"server {load.server_cpu / load.seconds:.0%} of a core ({idle:.0%} unloaded)"
    )
    result = BenchResult(
        name,
        load.requests,
        "requests",
        load.server_cpu,
        check=check,
        wall_seconds=load.seconds,
        extra={
            "requests_per_second": round(load.rps, 1),
            "p50_ms": round(load.p50_ms, 3),
            "p99_ms": round(load.p99_ms, 3),
            "non_2xx": load.non_2xx,
            "socket_errors": load.socket_errors,
        },
    )
    result.ok = load.non_2xx == 0 and load.socket_errors == 0 and (aim is None or load.rps >= aim)
    return result


def _rest(server: Server, token: str, tmp: Path, quick: bool) -> list[BenchResult]:
    if shutil.which("wrk") is None:
        missing = BenchResult(
            "api GET /positions (auth)",
            0,
            "requests",
            0.0,
            check="wrk is not installed: apt-get install wrk (make bench does it as root)",
        )
        missing.ok = False
        return [missing]
    script = tmp / "auth.lua"
    script.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n', "utf-8")
    script.chmod(0o600)
    seconds = 3.0 if quick else 10.0
    before = server.cpu_seconds()
    time.sleep(2.0)  # the engine alone: the share of the server's CPU that no request caused
    idle = (server.cpu_seconds() - before) / 2.0
    rows: list[BenchResult] = []
    for name, path, auth in (
        ("api GET /version (no auth)", "/api/v1/version", None),
        ("api GET /positions (auth)", "/api/v1/positions", script),
    ):
        _wrk(server, path, 1.0 if quick else 2.0, auth)  # warm-up, not counted
        load = _wrk(server, path, seconds, auth)
        row = _rest_row(name, load, AIM_RPS if auth else None, idle)
        rows.append(row if not rows else row.against(rows[0]))
    return rows


# --- WebSocket clients --------------------------------------------------------------------------
def _clients(config: dict[str, Any], env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.api_stream"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(config) + "\n")
    proc.stdin.flush()
    return proc


def _line(proc: subprocess.Popen[str], key: str) -> Any:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise RuntimeError(f"a client process ended (exit {proc.returncode}) without {key!r}")
    return json.loads(line)[key]


@dataclass(slots=True)
class Stream:
    clients: int
    seconds: float
    items: int
    batches: int
    p50_ms: float
    p99_ms: float
    closed: dict[str, int]
    server_cpu: float
    client_cpu: list[float]  # CPU seconds of each client process in the window
    slow: dict[str, Any] | None = None


def _percentile(latencies: list[tuple[float, int]], q: float) -> float:
    """The ``q`` quantile of items (each batch's latency counts once per item it carried)."""
    ordered = sorted(latencies)
    total = sum(n for _, n in ordered)
    if not total:
        return float("nan")
    rank, seen = q * total, 0
    for ms, n in ordered:
        seen += n
        if seen >= rank:
            return ms
    return ordered[-1][0]


def _stream(
    server: Server,
    token: str,
    env: dict[str, str],
    seconds: float,
    *,
    slow: bool,
    deflate: bool = True,
) -> Stream:
    url = server.url.replace("http://", "ws://") + "/api/v1/ws"
    normal = WS_CLIENTS - (1 if slow else 0)
    sizes = [normal // WS_PROCESSES + (i < normal % WS_PROCESSES) for i in range(WS_PROCESSES)]
    config = {"url": url, "token": token, "deflate": deflate}
    procs = [_clients({**config, "clients": n}, env) for n in sizes]
    slow_proc = None
    if slow:
        slow_proc = _clients({"url": url, "token": token, "clients": 1, "slow": True}, env)
    everyone = [*procs, *([slow_proc] if slow_proc else [])]
    try:
        for proc in everyone:
            _line(proc, "ready")
        start = time.time() + 0.5
        go = json.dumps({"measure_from": start, "measure_for": seconds}) + "\n"
        for proc in everyone:
            assert proc.stdin is not None
            proc.stdin.write(go)
            proc.stdin.flush()
        time.sleep(max(0.0, start - time.time()))
        before = server.cpu_seconds()
        time.sleep(seconds)
        cpu = server.cpu_seconds() - before
        results = [_line(proc, "result") for proc in procs]
        slow_result = _line(slow_proc, "result") if slow_proc else None
    finally:
        for proc in everyone:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    latencies = [(float(ms), int(n)) for r in results for ms, n in r["latencies"]]
    closed: dict[str, int] = {}
    for r in results:
        for code, n in r["closed"].items():
            closed[code] = closed.get(code, 0) + n
    return Stream(
        clients=sum(r["clients"] for r in results),
        seconds=seconds,
        items=sum(r["items"] for r in results),
        batches=sum(r["batches"] for r in results),
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        closed=closed,
        server_cpu=cpu,
        client_cpu=[float(r["cpu_seconds"]) for r in results],
        slow=slow_result,
    )


def _stream_row(name: str, s: Stream, base: Stream | None) -> BenchResult:
    rate = s.items / s.seconds
    per_client = rate / s.clients if s.clients else 0.0
    check = (
        f"{s.clients} clients {s.seconds:.0f} s: {rate:,.0f} quote items/s read "
        f"({per_client:,.0f} per client, {s.batches / s.seconds / max(1, s.clients):.1f} "
        f"batches/s each), latency p50 {s.p50_ms:.1f} ms, p99 {s.p99_ms:.1f} ms "
        f"(aim < {AIM_P99_MS:.0f})"
    )
    if base is not None:
        check += f" vs {base.p99_ms:.1f} ms without the slow client"
    clients = ", ".join(f"{c / s.seconds:.0%}" for c in s.client_cpu)
    check += f"; server {s.server_cpu / s.seconds:.0%} of a core, client processes {clients}"
    if s.closed:
        check += f"; closed early: {s.closed}"
    ok = not s.closed and s.items > 0 and s.p99_ms < AIM_P99_MS
    if s.slow is not None:
        code = s.slow["close_code"]
        check += (
            f"; the slow client was closed with {code} ({s.slow['close_reason'] or 'no reason'}) "
            f"{s.slow['closed_after_s']:.2f} s after it began to read, having read "
            f"{s.slow['read_after_waking']} messages that waited"
        )
        ok = ok and code == 4008
    result = BenchResult(
        name,
        s.items,
        "quote items",
        s.server_cpu,
        check=check,
        wall_seconds=s.seconds,
        extra={
            "clients": s.clients,
            "items_per_second_wall": round(rate, 1),
            "p50_ms": round(s.p50_ms, 3),
            "p99_ms": round(s.p99_ms, 3),
            "closed_early": s.closed,
            "server_core_share": round(s.server_cpu / s.seconds, 3),
            "client_core_shares": [round(c / s.seconds, 3) for c in s.client_cpu],
            **({"slow_client": s.slow} if s.slow is not None else {}),
        },
    )
    result.ok = ok
    return result


# --- the run ------------------------------------------------------------------------------------
def run(quick: bool = False, repeat: int = 3) -> list[BenchResult]:
    del repeat  # each load runs once (see the module docstring)
    password = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="deepalpha-bench-api-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "DEEPALPHA_JWT_SECRET": secrets.token_urlsafe(48),
            "DEEPALPHA_CONFIG": str(root / "none.toml"),  # no settings file of the machine's
            "DEEPALPHA_SERVER__STREAM_CLIENT_QUEUE": str(CLIENT_QUEUE),
        }
        _add_user(data_dir, password, env)
        server = Server.start(data_dir, env)
        rows: list[BenchResult] = []
        try:
            token = _sign_in(server.url, password)
            rows += _rest(server, token, root, quick)
            seconds = 4.0 if quick else 10.0
            alone = _stream(server, token, env, seconds, slow=False)
            base = _stream_row(f"api WS quotes, {WS_CLIENTS} clients", alone, None)
            plain = _stream(server, token, env, seconds, slow=False, deflate=False)
            row = _stream_row(f"api WS quotes, {WS_CLIENTS} clients, no deflate", plain, None)
            rows += [base, row.against(base)]
            # Long enough for the slow client's backlog to fill the server's buffers and queue.
            mixed = _stream(server, token, env, max(seconds, SLOW_SECONDS), slow=True)
            row = _stream_row(f"api WS quotes, {WS_CLIENTS - 1} + 1 slow", mixed, alone)
            rows.append(row.against(base))
        finally:
            code = server.stop()
        if code not in (0, None):
            print(f"deepalpha serve exited {code}:\n" + "\n".join(server.log), file=sys.stderr)
            for row in rows:
                row.ok = False
    return rows
