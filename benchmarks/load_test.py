"""Load test: the studio served on loopback exactly as ``python app.py`` serves it (its own
process, the production queue), driven by concurrent gradio_client clients calling /describe.

Usage: ``python -m benchmarks.load_test [--clients 16] [--requests 200] [--max-seconds 600]``
(``--quick`` = 4 clients x 10 requests). Bounded in count AND wall time: every client stops at
its request count or at the deadline, whichever comes first. The reference, measured in the
same run, is one client sending requests one after another (no contention), so the ratio says
what concurrency costs each request.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 240

SUBJECTS = ["A woman", "An old man", "The child", "He", "She", "The actor", "A nurse", "My neighbour"]
FEELINGS = [
    "grins broadly with eyes alight with cheer",
    "looks heartbroken, eyes downcast and lips trembling",
    "is furious, brows furrowed and lips pressed tight",
    "stares with wide eyes and a mouth agape in surprise",
    "wrinkles the nose in disgust",
    "is terrified, eyes wide and mouth stretched",
    "gives a smug one-sided smirk",
    "smiles bittersweetly with teary eyes",
    "keeps a calm, neutral expression",
    "laughs, happily surprised, eyebrows raised",
]
ENDINGS = ["", " at the news", " after a long day", " in the rain", " while reading a letter"]


def varied_text(client: int, request: int) -> str:
    """A different description for (almost) every request, so no cache can flatter the numbers."""
    i = client * 7919 + request * 104729
    return (f"{SUBJECTS[i % len(SUBJECTS)]} {FEELINGS[(i // 3) % len(FEELINGS)]}"
            f"{ENDINGS[(i // 7) % len(ENDINGS)]} (#{request})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """The studio in a child process; ``stop()`` ends it (and only it)."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log_path.unlink(missing_ok=True)


def start_server(port: int | None = None) -> Server:
    """Launch ``emo_app.ui.app.launch`` (the production queue settings) and wait until it answers."""
    port = port or free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYOPENGL_PLATFORM="egl",
               HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), TOKENIZERS_PARALLELISM="false")
    log_path = Path(tempfile.mkstemp(prefix="emo-load-server-", suffix=".log")[1])
    code = f"from emo_app.ui.app import launch; launch(host='127.0.0.1', port={port})"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}/", log_path)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = server.log_tail()
            server.stop()
            raise RuntimeError(f"The server exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(server.url + "gradio_api/info", timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(1.0)
    tail = server.log_tail()
    server.stop()
    raise RuntimeError(f"The server did not answer within {STARTUP_SECONDS} s:\n{tail}")


def loopback_client(url: str):
    """A gradio_client for the loopback server. ``ssl_verify=False``: the URL is plain http, so
    no TLS happens either way, but with verification on gradio_client builds a CA-loaded TLS
    context for every request (48 ms of CPU each here), which on a shared 2-core machine the
    client would take from the server it is measuring."""
    from gradio_client import Client

    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the load test only drives a loopback http server, not {url}")
    return Client(url, verbose=False, download_files=False, analytics_enabled=False, ssl_verify=False)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class ClientLog:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _drive(url: str, client_id: int, requests: int, max_seconds: float, log: ClientLog,
           start: threading.Barrier) -> None:
    try:
        client = loopback_client(url)
    except Exception as exc:  # a client that cannot connect counts as failed requests
        log.errors += [f"connect: {exc}"] * requests
        start.wait()
        return
    start.wait()  # all clients connected: the clock starts now for everyone
    deadline = time.monotonic() + max_seconds
    for request in range(requests):
        if time.monotonic() >= deadline:
            break
        began = time.perf_counter()
        try:
            result = client.predict(varied_text(client_id, request), "embedded", api_name="/describe")
            if not isinstance(result, (list, tuple)) or "dominant_emotion" not in result[9]:
                raise RuntimeError(f"unexpected result shape: {type(result).__name__}")
        except Exception as exc:
            log.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        log.latencies.append(time.perf_counter() - began)


def drive(url: str, clients: int, requests: int, max_seconds: float, server_pid: int | None = None) -> dict:
    """``clients`` threads, each with its own gradio_client, ``requests`` /describe calls each;
    with ``server_pid``, also the CPU the server and the clients spent per completed request."""
    logs = [ClientLog() for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=_drive, args=(url, i, requests, max_seconds, logs[i], barrier),
                                daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=STARTUP_SECONDS)
    began = time.perf_counter()
    cpu_before = (cpu_seconds(server_pid) if server_pid else 0.0, time.process_time())
    for thread in threads:
        thread.join(timeout=max_seconds + 120)
    wall = time.perf_counter() - began
    cpu_after = (cpu_seconds(server_pid) if server_pid else 0.0, time.process_time())
    latencies = np.array([t for log in logs for t in log.latencies])
    errors = [e for log in logs for e in log.errors]
    summary = summarise(latencies, errors, wall, clients, requests)
    if server_pid and latencies.size:
        summary["server_cpu_ms_per_request"] = (cpu_after[0] - cpu_before[0]) * 1000 / latencies.size
        summary["client_cpu_ms_per_request"] = (cpu_after[1] - cpu_before[1]) * 1000 / latencies.size
    return summary


def summarise(latencies: np.ndarray, errors: list[str], wall: float, clients: int, requests: int) -> dict:
    done = int(latencies.size)
    pct = (lambda q: float(np.percentile(latencies, q) * 1000)) if done else (lambda q: float("nan"))
    distinct: dict[str, int] = {}
    for error in errors:
        distinct[error] = distinct.get(error, 0) + 1
    return {
        "clients": clients,
        "requests_per_client": requests,
        "planned": clients * requests,
        "completed": done,
        "errors": len(errors),
        "error_samples": dict(sorted(distinct.items(), key=lambda kv: -kv[1])[:5]),
        "wall_s": wall,
        "throughput_rps": done / wall if wall > 0 else 0.0,
        "median_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": float(latencies.max() * 1000) if done else float("nan"),
    }


def load_test(clients: int = 16, requests: int = 200, max_seconds: float = 600.0,
              reference_requests: int = 20) -> dict:
    """Start the server, warm it, measure the single-client reference, then the concurrent load."""
    server = start_server()
    try:
        warm = loopback_client(server.url)
        warm.predict("warming up: a calm face", "embedded", api_name="/describe")  # loads the models
        reference = drive(server.url, 1, reference_requests, max_seconds, server.process.pid)
        loaded = drive(server.url, clients, requests, max_seconds, server.process.pid)
        alive = warm.predict("still serving: a joyful smile", "embedded", api_name="/describe")
        loaded["still_serving_after"] = alive[9]["dominant_emotion"] == "happiness"
    finally:
        server.stop()
    return {"reference": reference, "load": loaded}


def run(quick: bool = False) -> dict:
    """Benchmarks contract: 16 x 200 (quick: 4 x 10) /describe calls against one sequential client."""
    clients, requests = (4, 10) if quick else (16, 200)
    result = load_test(clients, requests, max_seconds=120 if quick else 600,
                       reference_requests=5 if quick else 20)
    reference, load = result["reference"], result["load"]
    row_keys = ("median_ms", "p90_ms", "p99_ms", "throughput_rps", "completed", "errors", "wall_s",
                "server_cpu_ms_per_request", "client_cpu_ms_per_request")
    rows = [
        {"case": "1 client, sequential (reference)", **{k: reference.get(k) for k in row_keys}},
        {"case": f"{clients} clients x {requests} /describe", **{k: load.get(k) for k in row_keys},
         "ratio_vs_reference": load["median_ms"] / reference["median_ms"] if reference["median_ms"] else 0.0,
         "throughput_ratio_vs_reference": (load["throughput_rps"] / reference["throughput_rps"]
                                           if reference["throughput_rps"] else 0.0)},
    ]
    goal = load["errors"] == 0 and load["p99_ms"] <= 2000
    from emo_app.ui.app import QUEUE_CONCURRENCY, QUEUE_SIZE

    notes = (f"Server: `emo_app.ui.app.launch` in its own process on 127.0.0.1 (queue max_size "
             f"{QUEUE_SIZE}, concurrency {QUEUE_CONCURRENCY}); clients: gradio_client threads in one process "
             f"on the same 2 cores, files not downloaded, `ssl_verify=False` (plain http on loopback: "
             f"with it on, gradio_client builds an unused CA-loaded TLS context per call, ~48 ms of "
             f"CPU). CPU columns: process CPU per completed request, server and client. Goal 0 errors and "
             f"p99 <= 2 s: {'met' if goal else 'NOT met'}. Still serving afterwards: "
             f"{load.get('still_serving_after')}. Error samples: {load['error_samples'] or 'none'}.")
    return {"title": "Load: concurrent /describe over HTTP", "rows": rows,
            "reference": "one client sending /describe requests one after another, same server, same run",
            "notes": notes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200, help="per client")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop the load after this long")
    parser.add_argument("--reference-requests", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="4 clients x 10 requests")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.requests, args.reference_requests = 4, 10, 5
    if not (1 <= args.clients <= 256 and 1 <= args.requests <= 100_000 and args.max_seconds > 0):
        parser.error("use 1..256 clients, 1..100000 requests and a positive --max-seconds")
    result = load_test(args.clients, args.requests, args.max_seconds, args.reference_requests)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    load = result["load"]
    print(f"\n{load['completed']}/{load['planned']} requests in {load['wall_s']:.1f} s: "
          f"{load['throughput_rps']:.2f} req/s, p50 {load['median_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms, "
          f"{load['errors']} errors; CPU per request: "
          f"server {load.get('server_cpu_ms_per_request', 0):.0f} ms, "
          f"clients {load.get('client_cpu_ms_per_request', 0):.0f} ms")
    return 0 if load["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
