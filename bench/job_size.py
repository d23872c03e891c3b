"""What one render at the production settings needs: the figures the Cloud Run job is sized from.

    .venv/bin/python bench/job_size.py                 # 12 and 48 parts at 720x1080, 24 fps
    .venv/bin/python bench/job_size.py --parts 12 --workers 2 4

Renders bench/run.py's synthetic stories through the command line (a fresh process each, against
a Prefect server started first, with a fresh speech cache), at the settings of the `cloud-run`
deployment in prefect.yaml (720x1080, 24 fps, x264 fast, CRF 23; espeak here, gTTS there), with
RENDER_WORKERS stage tasks at once (default: twice the CPU count, as in production). For each:
wall time, CPU seconds (the render process and its children), the cores that kept busy (CPU/wall),
and memory: the largest peak of any one process (the kernel's figure: the render process), the
largest child seen (ffmpeg, espeak-ng), and the peak sum over the whole process tree, sampled
every 0.1 s (an upper bound: pages shared between processes count once per process); and the
files a run holds at most (story, work area, speech cache, video), which on Cloud Run live in
memory too.

This is a measurement, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.run import MB, PrefectServer, TreeSampler, clean_env, make_story  # noqa: E402

# The cloud-run deployment's options (prefect.yaml).
PRODUCTION_ARGS = ["--width", "720", "--height", "1080", "--fps", "24", "--crf", "23"]
PRODUCTION_ARGS += ["--preset", "fast", "--tts", "espeak", "--language", "en"]


def folder_bytes(*folders: Path) -> int:
    total = 0
    for folder in folders:
        for dirpath, _, filenames in os.walk(folder):
            for name in filenames:
                try:
                    total += (Path(dirpath) / name).lstat().st_size
                except OSError:
                    pass  # removed while we counted
    return total


class FilesSampler(threading.Thread):
    """Peak bytes in some folders, every 0.5 s: on Cloud Run the filesystem is in memory."""

    def __init__(self, *folders: Path):
        super().__init__(daemon=True)
        self.folders, self.peak, self.done = folders, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, folder_bytes(*self.folders))
            self.done.wait(0.5)

    def __enter__(self) -> FilesSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()


def measure(story: Path, workers: int, env: dict[str, str], work: Path) -> dict[str, float]:
    out = work / f"{story.name}-{workers}.mp4"
    log = work / "render.log"
    command = [sys.executable, "flows/video.py", "--assets-dir", str(story), "--out", str(out)]
    scratch = Path(tempfile.mkdtemp(prefix="tmp-", dir=work))  # the run's work area goes here
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=work))  # fresh: nothing re-used
    run_env = {**env, "RENDER_WORKERS": str(workers), "XDG_CACHE_HOME": str(cache)}
    run_env["TMPDIR"] = str(scratch)
    with log.open("ab") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, *PRODUCTION_ARGS], cwd=REPO, env=run_env, stdout=output, stderr=output
        )
        with TreeSampler([process.pid]) as sampler, FilesSampler(scratch, cache) as files:
            _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the render failed; see {log}")
    cpu = usage.ru_utime + usage.ru_stime  # the render and every child it waited for
    return {
        "wall": wall,
        "cpu": cpu,
        "cores": cpu / wall,
        # From the kernel: the largest peak of any one process of the tree (the render itself).
        "rss_largest": usage.ru_maxrss * 1024,
        "rss_child": sampler.largest_child[process.pid],
        "rss_tree": sampler.peaks[process.pid],
        # What a container's in-memory filesystem holds at most: the story (fetched there in
        # production), the work area and speech cache at their peak, and the finished video.
        "files": folder_bytes(story) + files.peak + out.stat().st_size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, nargs="+", default=[12, 48])
    parser.add_argument("--workers", type=int, nargs="+", default=[2 * (os.cpu_count() or 1)])
    parser.add_argument("--stories", type=Path, default=REPO / "build" / "bench-stories")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="job-size-") as scratch:
        work = Path(scratch)
        env = clean_env(work / "prefect-home")
        server = PrefectServer(env, work / "server.log")
        server.start()
        env["PREFECT_API_URL"] = server.url
        try:
            first = True
            for parts in args.parts:
                story = make_story(args.stories / f"story-{parts}", parts, seed=parts)
                for workers in args.workers:
                    print_row(parts, workers, measure(story, workers, env, work), header=first)
                    first = False
        finally:
            server.stop()
    return 0


def print_row(parts: int, workers: int, figures: dict[str, float], header: bool) -> None:
    if header:
        print(f"cpus here: {os.cpu_count()}; 720x1080, 24 fps, x264 fast, CRF 23, espeak")
        print("parts workers |   wall    CPU  cores | RSS MB: largest  child   tree | files MB")
    print(
        f"{parts:5d} {workers:7d} | {figures['wall']:6.1f} {figures['cpu']:6.1f} "
        f"{figures['cores']:5.2f} |          {figures['rss_largest'] / MB:6.0f} "
        f"{figures['rss_child'] / MB:6.0f} {figures['rss_tree'] / MB:6.0f} | "
        f"{figures['files'] / MB:8.0f}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
