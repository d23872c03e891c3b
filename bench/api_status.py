"""Benchmark: status-poll latency and throughput of the operators' API on loopback.

    .venv/bin/python bench/api_status.py                  # about a minute on 2 cores
    .venv/bin/python bench/api_status.py --polls 500 --concurrency 16 --seconds 10

Starts everything the API needs on this machine: a Prefect server (`prefect server start`, temporary
PREFECT_HOME, analytics off), a GCS emulator, and `uvicorn api.app:app` (one process); then polls
`GET /me/creation/{id}/generate_video_status` for three creations:

- running:   a queued-then-running flow run of the creation with its record (progress 2 of 4
             parts): Prefect lookup + record read + a look for an earlier video;
- completed: a completed run with its record and video: Prefect lookup + record read + link;
- not_found: nothing at all: Prefect lookup + record read + a look for a video.

Latency: sequential polls, one connection, p50/p95/p99. Throughput: a fixed number of concurrent
clients polling the "running" creation for a fixed time. Everything shares the machine's cores
(server, emulator, API and this client), so the figures are a floor for one API process, not a
capacity plan. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stack import TOKEN, local_stack  # noqa: E402
from tests.gcs_emulator import GcsEmulator  # noqa: E402

POOL = "api-bench-pool"


def seed(api_url: str, emulator: GcsEmulator, bucket: str) -> dict[str, str]:
    """Three creations in the three situations; returns their ids by name."""
    from prefect import get_client, states
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.objects import State

    from flows.video import generate_video
    from services.record import VideoRecord, now

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    source = generate_video.from_source(str(REPO), "flows/video.py:generate_video")
    deployment = source.to_deployment(name="api-bench")  # type: ignore[union-attr]  # sync call
    deployment.apply(work_pool_name=POOL)  # type: ignore[union-attr]

    ids = {name: str(uuid.uuid4()) for name in ("running", "completed", "not_found")}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for name in ("running", "completed"):
        creation = ids[name]
        emulator.write_bytes(bucket, f"{creation}/assets/1/1.txt", b"Hello.")
        answer = httpx.get(
            f"{api_url}/me/creation/{creation}/generate_video", headers=headers, timeout=60
        )
        answer.raise_for_status()
        with get_client(sync_client=True) as client:
            from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

            (run,) = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"creation:{creation}"]))
            )
            final: State = states.Running() if name == "running" else states.Completed()
            client.set_flow_run_state(run.id, final, force=True)
        record = VideoRecord(
            status="running" if name == "running" else "completed",
            creation_id=creation,
            flow_run_id=str(run.id),
            started_at=now(),
            parts=4,
            parts_done=2 if name == "running" else 4,
            progress=0.5 if name == "running" else 1.0,
            duration_seconds=None if name == "running" else 31.5,
            video="video.mp4",
        )
        emulator.write_bytes(bucket, f"{creation}/assets/video.json", record.to_json().encode())
        if name == "completed":
            emulator.write_bytes(bucket, f"{creation}/assets/video.mp4", b"mp4", "video/mp4")
    return ids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children that were waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU time of a process and its live descendants (uvicorn workers, the server's children)."""
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        try:
            total += cpu_seconds(pid)
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
    return total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def latency(api_url: str, creation: str, polls: int) -> list[float]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    path = f"/me/creation/{creation}/generate_video_status"
    times = []
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as client:
        for _ in range(10):  # warm-up: connections, clients, caches
            client.get(path).raise_for_status()
        for _ in range(polls):
            start = time.perf_counter()
            client.get(path).raise_for_status()
            times.append(time.perf_counter() - start)
    return times


async def throughput(
    api_url: str, creation: str, concurrency: int, seconds: float
) -> tuple[int, int, float]:
    """(answers, errors, elapsed) for `concurrency` clients polling for `seconds`."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    path = f"/me/creation/{creation}/generate_video_status"
    counts = {"ok": 0, "bad": 0}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=api_url, headers=headers, limits=limits, timeout=60
    ) as client:
        deadline = time.perf_counter() + seconds

        async def poller() -> None:
            while time.perf_counter() < deadline:
                answer = await client.get(path)
                counts["ok" if answer.status_code == 200 else "bad"] += 1

        start = time.perf_counter()
        await asyncio.gather(*(poller() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return counts["ok"], counts["bad"], elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=300, help="sequential polls per creation")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    with local_stack("api-bench-") as stack:
        emulator, bucket = stack.emulator, stack.bucket
        api_url, api = stack.start_api({"VIDEO_DEPLOYMENT": "generate-video/api-bench"})
        ids = seed(api_url, emulator, bucket)

        print(f"status-poll latency, {args.polls} sequential polls each (ms):")
        print(f"{'creation':<10} {'p50':>7} {'p95':>7} {'p99':>7} {'mean':>7}")
        for name, creation in ids.items():
            times = [t * 1000 for t in latency(api_url, creation, args.polls)]
            print(
                f"{name:<10} {percentile(times, 0.5):7.1f} {percentile(times, 0.95):7.1f} "
                f"{percentile(times, 0.99):7.1f} {statistics.mean(times):7.1f}"
            )
        watched = {"prefect server": stack.server.pid, "API": api.pid}
        assert emulator.process is not None
        watched["GCS emulator"] = emulator.process.pid
        before = {name: tree_cpu_seconds(pid) for name, pid in watched.items()}
        client_before = time.process_time()
        ok, bad, elapsed = asyncio.run(
            throughput(api_url, ids["running"], args.concurrency, args.seconds)
        )
        used = {name: tree_cpu_seconds(pid) - before[name] for name, pid in watched.items()}
        used["bench client"] = time.process_time() - client_before
        print(
            f"throughput, {args.concurrency} concurrent pollers for {args.seconds:.0f} s on the "
            f"running creation: {ok / elapsed:.0f} answers/s ({ok} ok, {bad} not 200)"
        )
        print("CPU used meanwhile (s): " + ", ".join(f"{k} {v:.1f}" for k, v in used.items()))


if __name__ == "__main__":
    main()
