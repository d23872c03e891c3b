"""What the read-along highlight costs: the same story's parts rendered with `read_along` off and
on, side by side in one run.

    .venv/bin/python bench/read_along.py [--parts 4] [--repeat 2] [--size 720x1080]

Each case runs in a fresh Python process (so its peak memory is its own) through the plain stage
functions the tasks call: draw the captions, narrate (espeak-ng, a fresh speech cache: word times
come from the same synthesis), render each part's clip (highlight variants drawn, then encoded).
Printed: wall, CPU (the process and its children: ffmpeg, espeak-ng), the peak RSS of the
process and of its largest child, and the ratios on/off. Goal: CPU at most 10 % more. Cases
alternate (off, on, off, on...) and the fastest of each is kept: timings on a shared machine
are noisy.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run import bench_options, make_story  # noqa: E402


def worker(story: Path, read_along: bool, width: int, height: int) -> dict[str, float]:
    from services.media.speech import EspeakEngine, Narrator
    from services.storage.folder import LocalStorage
    from services.story.model import plan_story
    from tasks.captions import lay_out_part
    from tasks.clips import render_part_clip
    from tasks.fetch_assets import fetch_and_check_part
    from tasks.narration import narrate_pages

    options = bench_options().model_copy(
        update={"read_along": read_along, "width": width, "height": height}
    )
    storage = LocalStorage(story)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-read-along-") as scratch:
        work = Path(scratch)
        narrator = Narrator(EspeakEngine(), work / "speech-cache")
        frames = 0
        for files in plan_story(storage.list_names()).parts:
            part = fetch_and_check_part(files, storage, work)
            pages = lay_out_part(part, options, work)
            spoken = narrate_pages(pages, narrator, "en", words=read_along)
            frames += render_part_clip(pages, spoken, options, work).frames
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall": time.perf_counter() - started,
        "cpu": me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime,
        "rss": me.ru_maxrss / 1024,
        "child_rss": children.ru_maxrss / 1024,
        "frames": frames,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--size", default="720x1080")
    parser.add_argument("--worker", nargs=2, metavar=("STORY", "ON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    width, height = (int(value) for value in args.size.split("x"))
    if args.worker:
        print(json.dumps(worker(Path(args.worker[0]), args.worker[1] == "on", width, height)))
        return
    story = make_story(
        REPO / "build" / "bench" / "stories" / f"read-along-{args.parts}", args.parts, 7
    )
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):
        for case in ("off", "on"):
            done = subprocess.run(
                [sys.executable, __file__, "--size", args.size, "--worker", str(story), case],
                capture_output=True,
                check=True,
                text=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if case not in best or result["cpu"] < best[case]["cpu"]:
                best[case] = result
    off, on = best["off"], best["on"]
    print(f"{args.parts} parts, {int(off['frames'])} frames at {args.size}, best of {args.repeat}")
    print(f"{'read_along':<11} {'wall':>7} {'CPU':>7} {'RSS':>7} {'child RSS':>10}")
    for name, row in (("off", off), ("on", on)):
        print(
            f"{name:<11} {row['wall']:>6.1f}s {row['cpu']:>6.1f}s {row['rss']:>5.0f}MB "
            f"{row['child_rss']:>8.0f}MB"
        )
    print(
        f"{'on / off':<11} {on['wall'] / off['wall']:>7.2f} {on['cpu'] / off['cpu']:>7.2f} "
        f"{on['rss'] / off['rss']:>7.2f} {on['child_rss'] / off['child_rss']:>10.2f}"
    )


if __name__ == "__main__":
    main()
