"""The gateway's overhead, side by side with a direct call, a bare proxy and the LiteLLM proxy.

One command (see bench/README.md):

    .venv/bin/python bench/overhead.py                     # full run (~15 s per cell, 3 repeats)
    .venv/bin/python bench/overhead.py --quick             # smoke run (~3 s per cell, 1 repeat)
    .venv/bin/python bench/overhead.py --install-litellm   # first run: builds bench/.venv-litellm

It starts a fast wire-level upstream (bench/upstream.py), then, one target at a time, starts
the server under test pinned to core 0, drives it with ``wrk`` (and bench/streamclient.py for
streams) pinned to the other core(s), and writes bench/results/latest.json and latest.md.
Standard library only; the servers run in the project's .venv (LiteLLM in its own).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from overhead_report import (  # noqa: E402  (bench/ is on sys.path when run as a script)
    CONCURRENCIES,
    LABELS,
    TARGET_ORDER,
    derive,
    get,
    goals,
    median_of,
    render_markdown,
    render_text,
    summary_text,
)
from processes import (  # noqa: E402
    Foreign,
    Sampler,
    Server,
    free_port,
    log,
    tree_cpu_seconds,
    tree_rss_mb,
    wait_quiet,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = ROOT / ".venv"
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_VERSION = "1.106.2"
LITELLM_BANNED = ("1.82.7", "1.82.8")  # compromised releases: never install these
MODEL = "bench-model"
LITELLM_MASTER_KEY = "sk-bench-master-key"



def python_bin() -> str:
    candidate = VENV / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


# --------------------------------------------------------------------------- HTTP helpers


def http_call(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def request_headers(key: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    return headers


def verify(port: int, key: str | None, bodies: dict[str, str], chunks: int) -> str:
    """One non-stream and one stream request must come back right, else the target is skipped.

    Returns the non-stream reply's content (what a stream's deltas should add up to)."""
    status, data = http_call(port, "POST", "/v1/chat/completions", bodies["plain"].encode(), request_headers(key))
    if status != 200:
        raise RuntimeError(f"chat completion answered HTTP {status}: {data[:300]!r}")
    reply = json.loads(data)
    if not reply.get("choices") or not reply["choices"][0]["message"].get("content"):
        raise RuntimeError(f"chat completion without content: {data[:300]!r}")
    status, data = http_call(port, "POST", "/v1/chat/completions", bodies["stream"].encode(), request_headers(key))
    if status != 200 or b"data: [DONE]" not in data or b'"content"' not in data:
        raise RuntimeError(f"stream answered HTTP {status}: {data[:300]!r}")
    return reply["choices"][0]["message"]["content"]


# --------------------------------------------------------------------------- load


WRK_LUA = """
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{auth}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.2f,"max_us":%d}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


@dataclass
class Pinning:
    server: list[str] = field(default_factory=list)
    load: list[str] = field(default_factory=list)
    describe: str = "not pinned"

    @classmethod
    def for_machine(cls, enabled: bool, nice: int = 0) -> Pinning:
        prefix = ["nice", "-n", str(nice)] if nice else []
        niced = f"; benchmark processes at nice {nice}" if nice else ""
        cores = sorted(os.sched_getaffinity(0))
        if not enabled or len(cores) < 2 or not shutil.which("taskset"):
            return cls(prefix, prefix, "not pinned" + niced)
        server, load = str(cores[0]), ",".join(str(c) for c in cores[1:])
        return cls(
            [*prefix, "taskset", "-c", server],
            [*prefix, "taskset", "-c", load],
            f"servers on core {server}; upstream, wrk, stream client and py-spy on core(s) {load}{niced}",
        )


def write_lua(workdir: Path, name: str, body: str, key: str | None) -> Path:
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    path = workdir / f"{name}.lua"
    path.write_text(WRK_LUA.format(body=body, auth=auth))
    return path


def run_wrk(pin: Pinning, lua: Path, port: int, connections: int, seconds: float) -> dict:
    argv = [
        *pin.load, "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
        "-s", str(lua), f"http://127.0.0.1:{port}/v1/chat/completions",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 90)
    for line in done.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            raw = json.loads(line[len("BENCHJSON ") :])
            seconds_run = raw["duration_us"] / 1e6
            errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
            return {
                "rps": raw["requests"] / seconds_run if seconds_run else 0.0,
                "requests": raw["requests"],
                "errors": errors,
                "p50_ms": raw["p50_us"] / 1000,
                "p90_ms": raw["p90_us"] / 1000,
                "p99_ms": raw["p99_us"] / 1000,
                "mean_ms": raw["mean_us"] / 1000,
                "max_ms": raw["max_us"] / 1000,
                "raw": raw,
            }
    raise RuntimeError(f"wrk gave no result (rc {done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")


def run_streams(pin: Pinning, port: int, key: str | None, body: str, requests: int, chunks: int) -> dict:
    argv = [
        *pin.load, python_bin(), str(BENCH / "streamclient.py"), "--url", f"http://127.0.0.1:{port}/v1/chat/completions",
        "--body", body, "--requests", str(requests), "--warmup", str(max(3, requests // 20)),
        "--max-seconds", "120",
    ]
    if key:
        argv += ["--key", key]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=200)
    if done.returncode != 0:
        raise RuntimeError(f"stream client failed: {done.stderr[-800:]}")
    result = json.loads(done.stdout)
    ttft, total = result["ttft_ms"], result["total_ms"]
    if not ttft:
        raise RuntimeError(f"no stream succeeded: {result['first_errors']}")
    return {
        "requests": len(ttft),
        "content_events": result["content_events"],
        "sample_content": result["sample_content"],
        "errors": result["errors"],
        "first_errors": result["first_errors"],
        "ttft_p50_ms": percentile(ttft, 50),
        "ttft_p90_ms": percentile(ttft, 90),
        "ttft_p99_ms": percentile(ttft, 99),
        "total_p50_ms": percentile(total, 50),
        "total_p90_ms": percentile(total, 90),
        "total_p99_ms": percentile(total, 99),
    }


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]



# --------------------------------------------------------------------------- targets


@dataclass
class Prepared:
    server: Server
    key: str | None
    startup_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    ready_path: str = "/v1/models"


def prepare_direct(args, pin: Pinning, workdir: Path, upstream_port: int) -> Prepared:
    port = free_port()
    argv = [*pin.server, python_bin(), str(BENCH / "upstream.py"), "--port", str(port), "--chunks", str(args.chunks),
            "--model", MODEL, "--chunk-delay-ms", str(args.chunk_delay_ms)]
    server = Server("direct", argv, port, log_path=workdir / "direct.log")
    return Prepared(server, None, notes=["a second upstream instance, pinned where the servers under test run"])


def prepare_bare(args, pin: Pinning, workdir: Path, upstream_port: int) -> Prepared:
    port = free_port()
    argv = [*pin.server, python_bin(), str(BENCH / "bare_proxy.py"), "--port", str(port),
            "--upstream", f"http://127.0.0.1:{upstream_port}/v1"]
    return Prepared(Server("bare", argv, port, log_path=workdir / "bare.log"), None)


def gateway_bin() -> list[str]:
    script = VENV / "bin" / "gateway"
    return [str(script)] if script.exists() else [python_bin(), "-m", "gateway"]


def prepare_gateway(args, pin: Pinning, workdir: Path, upstream_port: int, source: Path | None = None) -> Prepared:
    port = free_port()
    data_dir = workdir / "gateway-data"
    data_dir.mkdir()
    config = workdir / "gateway.toml"
    source = source or (Path(args.gateway_config) if args.gateway_config else BENCH / "gateway.toml")
    config.write_text(source.read_text().replace("127.0.0.1:18000", f"127.0.0.1:{upstream_port}"))
    env = {**os.environ, "GATEWAY_DATA_DIR": str(data_dir)}
    for item in args.gateway_env:
        name, _, value = item.partition("=")
        env[name] = value
    cli = [*gateway_bin(), "--config", str(config)]
    tenant = [*cli, "tenant", "create", "bench", "--rpm", "1000000000", "--tps", "1000000000",
              "--daily-tokens", "1000000000000", "--max-concurrency", "100000"]
    subprocess.run(tenant, env=env, cwd=workdir, check=True, capture_output=True, timeout=120)
    made = subprocess.run([*cli, "key", "create", "bench", "--name", "bench"], env=env, cwd=workdir, check=True,
                          capture_output=True, text=True, timeout=120)
    key = made.stdout.strip().splitlines()[-1].strip()
    argv = [*pin.server, *cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
    notes = [f"config {source.name}; tenant 'bench' with limits far above the load (checked, never hit)"]
    if args.gateway_env:
        notes.append("extra env: " + " ".join(args.gateway_env))
    return Prepared(Server("gateway", argv, port, env=env, log_path=workdir / "gateway.log"), key, notes=notes)


def litellm_bin() -> Path:
    return LITELLM_VENV / "bin" / "litellm"


def install_litellm() -> str | None:
    """Build bench/.venv-litellm with litellm[proxy]==LITELLM_VERSION; None or the reason it failed."""
    assert LITELLM_VERSION not in LITELLM_BANNED
    log(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV.relative_to(ROOT)} (a few minutes)")
    try:
        if not (LITELLM_VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True, timeout=300)
        subprocess.run(
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"],
            check=True, timeout=1800,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return f"pip install failed: {exc}"
    return None


def installed_litellm_version() -> str | None:
    py = LITELLM_VENV / "bin" / "python"
    if not py.exists():
        return None
    done = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or None


def prepare_litellm(args, pin: Pinning, workdir: Path, upstream_port: int) -> Prepared:
    port = free_port()
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: http://127.0.0.1:{upstream_port}/v1\n"
        "      api_key: sk-upstream-unused\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "general_settings:\n"
        "  master_key: os.environ/LITELLM_MASTER_KEY\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LITELLM_LOG", "JSON_LOGS")}
    env.update(
        LITELLM_MASTER_KEY=LITELLM_MASTER_KEY,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOG="ERROR",
        LITELLM_TELEMETRY="False",
        LITELLM_MODE="PRODUCTION",
        HOME=str(workdir),
    )
    argv = [*pin.server, str(litellm_bin()), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
            "--num_workers", "1", "--telemetry", "False"]
    notes = [f"litellm[proxy]=={installed_litellm_version()}, no database, LITELLM_LOG=ERROR, openai/ provider"]
    server = Server("litellm", argv, port, env=env, log_path=workdir / "litellm.log")
    return Prepared(server, LITELLM_MASTER_KEY, notes=notes, ready_path="/health/liveliness")


def prepare_guarded(args, pin: Pinning, workdir: Path, upstream_port: int) -> Prepared:
    """The gateway with its default guardrail policy on (PII masking in and out, jailbreak blocking)."""
    return prepare_gateway(args, pin, workdir, upstream_port, BENCH / "gateway-guardrails.toml")


PREPARE = {
    "direct": prepare_direct,
    "bare": prepare_bare,
    "gateway": prepare_gateway,
    "guarded": prepare_guarded,
    "litellm": prepare_litellm,
}


# --------------------------------------------------------------------------- measuring one target


def measure(name: str, args, pin: Pinning, workdir: Path, upstream: Server, bodies: dict[str, str]) -> dict:
    upstream_port = upstream.port
    result: dict = {"label": LABELS[name], "available": False}
    try:
        prepared = PREPARE[name](args, pin, workdir, upstream_port)
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        result["skipped"] = f"could not prepare: {exc}"
        return result
    server = prepared.server
    result["notes"] = prepared.notes
    wait_quiet(name, args.wait_idle)
    result["command"] = " ".join(shlex.quote(a) for a in server.argv)
    started = time.monotonic()
    server.start()
    try:
        server.wait_ready(args.start_timeout, prepared.ready_path)
        result["startup_s"] = round(time.monotonic() - started, 2)
        expected_text = verify(server.port, prepared.key, bodies, args.chunks)
        result["available"] = True
        log(f"{name}: up on :{server.port} (pid {server.pid}) in {result['startup_s']} s; replies verified")
        time.sleep(args.settle)
        result["rss_idle_mb"] = round(tree_rss_mb(server.pid), 1)
        lua = write_lua(workdir, name, bodies["plain"], prepared.key)
        run_wrk(pin, lua, server.port, 16, args.warmup)  # warm caches, pools, lazy imports
        load: dict[str, list[dict]] = {str(c): [] for c in CONCURRENCIES}
        peak = 0.0
        cpu_per_request: list[float] = []
        for rep in range(args.repeats):
            for c in CONCURRENCIES:
                waited = wait_quiet(name, args.wait_idle)
                cpu_before = tree_cpu_seconds(server.pid)
                with Sampler(server.pid) as sampler, Foreign(server.pid, upstream.pid) as foreign:
                    run = run_wrk(pin, lua, server.port, c, args.duration)
                cpu = tree_cpu_seconds(server.pid) - cpu_before
                run["foreign_cpu_pct"] = round(foreign.pct, 1)
                run["waited_for_quiet_s"] = round(waited, 1)
                run["cpu_ms_per_request"] = cpu * 1000 / run["requests"] if run["requests"] else None
                run["rss_peak_mb"] = round(sampler.peak, 1)
                peak = max(peak, sampler.peak)
                if c == CONCURRENCIES[-1] and run["cpu_ms_per_request"] is not None:
                    cpu_per_request.append(run["cpu_ms_per_request"])
                load[str(c)].append({k: v for k, v in run.items() if k != "raw"})
                flag = f"  ERRORS {run['errors']}" if run["errors"] else ""
                if foreign.pct > 10:
                    flag += f"  (other processes used {foreign.pct:.0f}% of a core meanwhile)"
                log(f"{name}: rep {rep + 1}/{args.repeats} c={c:<3} {run['rps']:9.1f} req/s  "
                    f"p50 {run['p50_ms']:8.3f} ms  p99 {run['p99_ms']:8.3f} ms  "
                    f"cpu {run['cpu_ms_per_request'] or 0:.3f} ms/req{flag}")
        result["rss_load_mb"] = round(peak, 1)
        result["cpu_ms_per_request_c64"] = statistics.median(cpu_per_request) if cpu_per_request else None
        result["load"] = {
            c: {
                "runs": runs,
                **{k: median_of(runs, k) for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "errors")},
            }
            for c, runs in load.items()
        }
        streams = []
        for rep in range(args.repeats):
            wait_quiet(name, args.wait_idle)
            with Foreign(server.pid, upstream.pid) as foreign:
                run = run_streams(pin, server.port, prepared.key, bodies["stream"], args.stream_requests, args.chunks)
            run["foreign_cpu_pct"] = round(foreign.pct, 1)
            streams.append(run)
            if run["content_events"] != args.chunks and rep == 0:
                note = (f"streams carry {run['content_events']} content events for the upstream's {args.chunks} "
                        f"chunks (the target re-chunks)")
                result["notes"].append(note)
                log(f"{name}: note: {note}")
            if run.pop("sample_content") != expected_text and rep == 0:
                result["notes"].append("streamed text differs from the non-stream reply's text")
                log(f"{name}: note: streamed text differs from the non-stream reply's text")
            log(f"{name}: stream rep {rep + 1}/{args.repeats}: TTFT p50 {run['ttft_p50_ms']:.3f} ms, "
                f"total p50 {run['total_p50_ms']:.3f} ms ({run['requests']} streams, {run['errors']} errors)")
        result["stream"] = {
            "runs": streams,
            **{k: median_of(streams, k) for k in
               ("ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "total_p50_ms", "total_p90_ms", "total_p99_ms",
                "errors")},
        }
        result["chunks"] = args.chunks
        result["rss_after_mb"] = round(tree_rss_mb(server.pid), 1)
        if name == "gateway" and args.profile:
            result["profile"] = profile_gateway(args, pin, server, lua)
    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError, KeyError) as exc:
        result["available"] = False
        result["skipped"] = f"{type(exc).__name__}: {exc}"
        log(f"{name}: skipped: {result['skipped']}")
    finally:
        server.stop()
        if server.log_path and server.log_path.exists():
            text = server.log_path.read_text(errors="replace")
            result["log_tail"] = text[-1500:]
            result["log_lines"] = text.count("\n")
            keep = BENCH / "results" / "logs"
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(server.log_path, keep / f"{name}.log")
    return result


def py_spy_bin() -> str | None:
    local = VENV / "bin" / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def profile_gateway(args, pin: Pinning, server: Server, lua: Path) -> dict:
    spy = py_spy_bin()
    if spy is None:
        log("profile skipped: py-spy not found (install it with: .venv/bin/pip install py-spy)")
        return {"skipped": "py-spy not installed"}
    out = BENCH / "profiles"
    out.mkdir(exist_ok=True)
    stem = out / "gateway-nonstream-c16"
    seconds = args.profile_seconds
    log(f"gateway: profiling {seconds:.0f} s at c=16 (non-stream) with py-spy")
    wrk = threading.Thread(target=run_wrk, args=(pin, lua, server.port, 16, seconds + 4), daemon=True)
    wrk.start()
    time.sleep(1.5)
    common = ["record", "--pid", str(server.pid), "--duration", str(int(seconds)), "--rate", "250", "--nonblocking",
              "--full-filenames"]
    spies = [
        subprocess.Popen([*pin.load, spy, *common, "--format", "flamegraph", "--output", f"{stem}.svg"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
        subprocess.Popen([*pin.load, spy, *common, "--format", "raw", "--output", f"{stem}.txt"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
    ]
    failures = []
    for spy_proc in spies:
        try:
            _, err = spy_proc.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            spy_proc.kill()
            _, err = spy_proc.communicate()
        if spy_proc.returncode != 0:
            failures.append(err.decode(errors="replace")[-400:])
    wrk.join(timeout=seconds + 120)
    if failures:
        log(f"profile failed: {failures}")
        return {"skipped": f"py-spy failed: {failures}"}
    sys.path.insert(0, str(BENCH))
    from profile_summary import summarize  # noqa: PLC0415 (bench-local module)

    summary = summarize(Path(f"{stem}.txt"), ROOT)
    Path(f"{stem}.summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(f"gateway: flame graph {Path(f'{stem}.svg').relative_to(ROOT)}, "
        f"summary {Path(f'{stem}.summary.json').relative_to(ROOT)}")
    return {"svg": str(Path(f"{stem}.svg").relative_to(ROOT)), "summary": summary}


# --------------------------------------------------------------------------- report


def machine_info(pin: Pinning) -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_gb = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1e6, 1)
    probe = (
        "import importlib.metadata as m, json, sys\n"
        "names = ['litestar', 'httpx', 'httpcore', 'uvicorn', 'uvloop', 'httptools', 'msgspec', 'pydantic',\n"
        "         'prometheus-client', 'sqlmodel', 'py-spy', 'paramgate']\n"
        "out = {}\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = None\n"
        "print(json.dumps({'python': sys.version.split()[0], 'packages': out}))\n"
    )
    venv = json.loads(subprocess.run([python_bin(), "-c", probe], capture_output=True, text=True, timeout=60).stdout)
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, timeout=10)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "gateway", "backends"], capture_output=True,
                           text=True, cwd=ROOT, timeout=10)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": mem_gb,
        "kernel": platform.release(),
        "python": venv["python"],
        "packages": {**venv["packages"], "litellm": installed_litellm_version()},
        "wrk": (wrk_version.stdout + wrk_version.stderr).split(" [")[0].split(" Copyright")[0].strip() or None,
        "pinning": pin.describe,
        "git_commit": git.stdout.strip() or None,
        "gateway_tree_modified": bool(dirty.stdout.strip()),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/overhead.py",
        description="Measure the gateway against a direct call, a bare proxy and the LiteLLM proxy.",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s per cell, 1 repeat, 60 streams")
    parser.add_argument("--duration", type=float, help="seconds per load cell (default 15, quick 3)")
    parser.add_argument("--repeats", type=int, help="repeats per cell, medians reported (default 3, quick 1)")
    parser.add_argument("--stream-requests", type=int, help="streams per repeat (default 300, quick 60)")
    parser.add_argument("--chunks", type=int, default=32, help="content chunks per streamed reply (default 32)")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="upstream pause between stream chunks")
    parser.add_argument("--targets", default=",".join(TARGET_ORDER),
                        help="comma-separated subset of direct,bare,gateway,litellm")
    parser.add_argument("--install-litellm", action="store_true",
                        help=f"create bench/.venv-litellm with litellm[proxy]=={LITELLM_VERSION} if missing")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway at c=16 (flame graph in bench/profiles)")
    parser.add_argument("--profile-seconds", type=float, default=20.0)
    parser.add_argument("--gateway-config", help="gateway TOML to use instead of bench/gateway.toml "
                        "(its base_url must say 127.0.0.1:18000; the run replaces that with the upstream's address)")
    parser.add_argument("--gateway-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the gateway (e.g. a feature switch); repeatable")
    parser.add_argument("--wait-idle", type=float, default=20.0,
                        help="before each cell, wait up to this many seconds for the machine to be under 15%% busy")
    parser.add_argument("--nice", type=int, default=0, help="run servers and load at this nice value (e.g. -10 "
                        "as root on a machine shared with other work, so it takes less of their cores)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and load generator to cores")
    parser.add_argument("--warmup", type=float, help="seconds of unrecorded load before measuring (default 3, quick 1)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds idle before the idle RSS is read")
    parser.add_argument("--start-timeout", type=float, default=180.0, help="seconds a server may take to start")
    parser.add_argument("--output", default=str(BENCH / "results"), help="where latest.json and latest.md go")
    parser.add_argument("--render", metavar="JSON", help="measure nothing: print the table of an earlier run's "
                        "JSON and write latest.md from it")
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 15.0)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.stream_requests = args.stream_requests or (60 if args.quick else 300)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    if args.quick:
        args.profile_seconds = min(args.profile_seconds, 5.0)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in args.targets if t not in TARGET_ORDER]
    if unknown:
        parser.error(f"unknown targets: {unknown}")
    if not (1 <= args.duration <= 600 and 1 <= args.repeats <= 20 and 1 <= args.stream_requests <= 100000):
        parser.error("duration 1–600 s, repeats 1–20, stream requests 1–100000")
    return args


def check_tools() -> str | None:
    if shutil.which("wrk") is None:
        return ("wrk is not installed; install it with:  apt-get update && apt-get install -y wrk\n"
                "(Debian/Ubuntu package 'wrk'; it is the load generator of this benchmark)")
    if not (VENV / "bin" / "python").exists():
        return f"the project's virtualenv {VENV} is missing; run `make run` or create it with pip install -e ."
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_only(Path(args.render), Path(args.output))

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")  # unwinds through every finally: servers stop

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # also when started in the background, where SIGINT is ignored
    problem = check_tools()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    pin = Pinning.for_machine(not args.no_pin, args.nice)
    if "litellm" in args.targets and not litellm_bin().exists() and args.install_litellm:
        reason = install_litellm()
        if reason:
            log(f"LiteLLM: {reason}")
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    bodies = {
        "plain": json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Say hello."}],
                             "max_tokens": 64}, separators=(",", ":")),
        "stream": json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Say hello."}],
                              "max_tokens": 64, "stream": True, "stream_options": {"include_usage": True}},
                             separators=(",", ":")),
    }
    results: dict[str, dict] = {}
    cells = len(args.targets) * len(CONCURRENCIES) * args.repeats
    log(f"{len(args.targets)} targets, {cells} load cells of {args.duration:g} s, {args.repeats} stream repeats of "
        f"{args.stream_requests}; {pin.describe}")
    with tempfile.TemporaryDirectory(prefix="paramgate-bench-") as tmp:
        workdir = Path(tmp)
        upstream_port = free_port()
        upstream = Server(
            "upstream",
            [*pin.load, python_bin(), str(BENCH / "upstream.py"), "--port", str(upstream_port), "--chunks",
             str(args.chunks), "--model", MODEL, "--chunk-delay-ms", str(args.chunk_delay_ms)],
            upstream_port,
            log_path=workdir / "upstream.log",
        )
        upstream.start()
        try:
            upstream.wait_ready(30)
            log(f"upstream on :{upstream_port} (pid {upstream.pid})")
            time.sleep(1.0)  # let its start-up finish before the first idle check
            for name in TARGET_ORDER:
                if name not in args.targets:
                    continue
                if name == "litellm" and not litellm_bin().exists():
                    reason = (f"{litellm_bin().relative_to(ROOT)} not found; rerun with --install-litellm to install "
                              f"litellm[proxy]=={LITELLM_VERSION} into its own virtualenv")
                    log(f"LiteLLM skipped: {reason}")
                    results[name] = {"label": LABELS[name], "available": False, "skipped": reason}
                    continue
                target_dir = workdir / name
                target_dir.mkdir()
                results[name] = measure(name, args, pin, target_dir, upstream, bodies)
        finally:
            upstream.stop()
    doc = {
        "schema": 1,
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
        "settings": {
            "quick": args.quick, "duration": args.duration, "repeats": args.repeats,
            "stream_requests": args.stream_requests, "chunks": args.chunks, "chunk_delay_ms": args.chunk_delay_ms,
            "concurrencies": list(CONCURRENCIES), "warmup": args.warmup, "gateway_env": args.gateway_env,
            "gateway_config": args.gateway_config or "bench/gateway.toml", "nice": args.nice,
            "load_generator": "wrk -t1 (Lua POST body), stream client bench/streamclient.py at concurrency 1",
        },
        "machine": machine_info(pin),
        "targets": results,
    }
    derive(results)
    doc["goals"] = goals(results)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "latest.md").write_text(render_markdown(results, doc))
    print()
    print(render_text(results, doc))
    print()
    summary = get(results, "gateway", "profile", "summary")
    if summary:
        print(summary_text(summary))
    log(f"wrote {(out / 'latest.json')} and {(out / 'latest.md')}")
    return 0


def render_only(source: Path, out: Path) -> int:
    """Print the table of an earlier run's JSON and (re)write latest.md from it."""
    doc = json.loads(source.read_text())
    results = doc["targets"]
    derive(results)
    doc["goals"] = goals(results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(render_markdown(results, doc))
    if source.resolve() == (out / "latest.json").resolve():
        source.write_text(json.dumps(doc, indent=2) + "\n")
    print(render_text(results, doc))
    summary = get(results, "gateway", "profile", "summary")
    if summary:
        print()
        print(summary_text(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
