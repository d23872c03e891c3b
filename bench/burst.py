"""Benchmark: a burst of triggers through the deployed local stack, then the same burst again.

    .venv/bin/python bench/burst.py                 # ten 3-part stories; a few minutes on 2 cores
    .venv/bin/python bench/burst.py --stories 4 --old

Starts what an operator starts (README, "Deploy"): `prefect server start` (temporary home), a GCS
emulator, `make -C deployments pools deploy-local`, `make -C deployments worker-local`, and the
operators' API (uvicorn) triggering `generate-video/local`. Then:

1. all stories are triggered at once through the API; the wall time until the last is
   `completed` is set beside the sum of the runs' own render times (Prefect's start to end) and
   each run's wait from scheduled to started;
2. the same triggers again, nothing changed: each answer's time, its status, and whether a new
   flow run appeared.

`--old` first sets the configuration this replaced: the deployment's concurrency limit (1,
ENQUEUE) instead of the pool's, and Prefect's default worker poll (10 s). A measurement, not a
test: the figures depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stack import TOKEN, local_stack  # noqa: E402
from tests.stories import PALETTE, PartSpec, StorySpec, build_story  # noqa: E402

RETRIED: list[str] = []  # triggers answered 503 and asked again
BIN = Path(sys.executable).parent


def make(target: str, env: dict[str, str], *variables: str) -> None:
    tools = [f"PREFECT={BIN / 'prefect'}", f"PYTHON={sys.executable}"]
    subprocess.run(
        ["make", "-C", "deployments", target, *tools, *variables],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )


def use_old_configuration() -> None:
    """The deployment's concurrency limit 1 (ENQUEUE), no pool limit: what prefect.yaml had."""
    from prefect import get_client
    from prefect.client.schemas.actions import DeploymentUpdate, WorkPoolUpdate

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("generate-video/local")
        client.update_deployment(deployment.id, DeploymentUpdate(concurrency_limit=1))
        client.update_work_pool("story-video-local", WorkPoolUpdate(concurrency_limit=None))


def flow_runs() -> list[Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["generate-video"]))
        )


async def trigger_all(api_url: str, ids: list[str]) -> list[tuple[float, str]]:
    """Every trigger at once: (seconds, status) per creation, in order."""

    async def one(client: httpx.AsyncClient, creation: str) -> tuple[float, str]:
        start = time.monotonic()
        for _ in range(10):  # as a caller would: a 503 (busy machine) is asked again
            answer = await client.get(f"/me/creation/{creation}/generate_video")
            if answer.status_code != 503:
                break
            RETRIED.append(creation)
            await asyncio.sleep(1)
        return time.monotonic() - start, answer.json().get("status", str(answer.status_code))

    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=120) as client:
        return await asyncio.gather(*(one(client, creation) for creation in ids))


def wait_until_done(api_url: str, ids: list[str]) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    final: dict[str, str] = {}
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as client:
        while len(final) < len(ids):
            for creation in ids:
                if creation in final:
                    continue
                status = client.get(f"/me/creation/{creation}/generate_video_status").json()
                if status.get("status") in ("completed", "failed"):  # (a 503 has none)
                    final[creation] = status["status"]
            time.sleep(0.25)
    return final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=10)
    parser.add_argument("--parts", type=int, default=3)
    parser.add_argument("--old", action="store_true", help="the configuration this replaced")
    parser.add_argument("--local-runs", type=int, default=2, help="the pool's limit (LOCAL_RUNS)")
    args = parser.parse_args()

    with local_stack("burst-bench-") as stack:
        home, emulator, bucket = stack.home, stack.emulator, stack.bucket
        cli_env = stack.env
        make(
            "pools",
            cli_env,
            "GCP_PROJECT=bench",
            f"CREATIONS_BUCKET={bucket}",
            f"LOCAL_RUNS={args.local_runs}",
        )
        make("deploy-local", cli_env)
        if args.old:
            use_old_configuration()

        stack_env = {
            **cli_env,
            "STORAGE_EMULATOR_HOST": emulator.endpoint,
            "CREATIONS_BUCKET": bucket,
            "ENV": "p",
            "TTS_ENGINE": "espeak",
            "XDG_CACHE_HOME": str(home / "cache"),
        }
        poll = ["WORKER_POLL_SECONDS=10"] if args.old else []
        stack.start(
            ["make", "-C", "deployments", "worker-local", f"PREFECT={BIN / 'prefect'}", *poll],
            stack_env,
            stdout=(home / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        api_url, _ = stack.start_api({**stack_env, "VIDEO_DEPLOYMENT": "generate-video/local"})

        ids = []
        for index in range(args.stories):
            spec = StorySpec(
                parts={
                    n: PartSpec(
                        captions=[f"Story {index}, part {n}."],
                        colour=PALETTE[(index + n) % len(PALETTE)],
                    )
                    for n in range(1, args.parts + 1)
                }
            )
            ids.append(emulator.upload_story(build_story(home / f"story-{index}", spec), bucket))

        start = time.monotonic()
        first = asyncio.run(trigger_all(api_url, ids))
        final = wait_until_done(api_url, ids)
        wall = time.monotonic() - start
        runs = flow_runs()
        renders = [run.total_run_time.total_seconds() for run in runs]
        waits = [
            (run.start_time - run.expected_start_time).total_seconds()
            for run in runs
            if run.start_time and run.expected_start_time
        ]
        ordered = sorted((run for run in runs if run.start_time), key=lambda run: run.start_time)
        handovers = [
            (after.start_time - before.end_time).total_seconds()
            for before, after in zip(ordered, ordered[1:], strict=False)
            if before.end_time and after.start_time > before.end_time
        ]
        label = (
            "old: deployment limit 1, 10 s poll"
            if args.old
            else f"pool limit {args.local_runs}, 1 s poll"
        )
        print(f"{args.stories} stories of {args.parts} parts, triggered at once ({label}):")
        answered = sorted({status for _, status in first})
        print(
            f"  statuses: {sorted(set(final.values()))}; first answers {answered} "
            f"(503s asked again: {len(RETRIED)})"
        )
        print(
            f"  wall time to the last completed: {wall:.1f} s; sum of render times "
            f"{sum(renders):.1f} s (each {min(renders):.1f}-{max(renders):.1f} s); "
            f"ratio {wall / sum(renders):.2f}"
        )
        print(
            f"  scheduled -> started: median {statistics.median(waits):.1f} s, "
            f"max {max(waits):.1f} s (queueing included)"
        )
        if handovers:
            print(
                f"  one run's end -> the next one's start (pickup and process start): median "
                f"{statistics.median(handovers):.1f} s, max {max(handovers):.1f} s"
            )

        before = len(flow_runs())
        again = asyncio.run(trigger_all(api_url, ids))
        after = len(flow_runs())
        times = [seconds for seconds, _ in again]
        print(
            f"  the same triggers again: statuses {sorted(set(s for _, s in again))}, "
            f"answers in {min(times):.2f}-{max(times):.2f} s (all at once), "
            f"new flow runs: {after - before}"
        )


if __name__ == "__main__":
    main()
