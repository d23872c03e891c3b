"""One long part's clip (a caption of thousands of words): one ffmpeg run against runs of pages.

    .venv/bin/python bench/long_part.py [--pages 200 1000] [--runs-of 32]

Renders a part of N caption pages (20 frames each, cross-fades of 4, 240x360, 10 fps, x264
ultrafast) twice: as one ffmpeg run (one filter graph holding every page) and as runs of
`--runs-of` pages joined without re-encoding (what `clip_graph.encode_clip` does), and
prints wall time and the peak memory of the ffmpeg process side by side. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.media import clip_graph
from services.media.clip_graph import ClipPlan, StillSegment
from services.settings import RenderOptions

OPTIONS = RenderOptions(width=240, height=360, fps=10, preset="ultrafast")


def make_pages(folder: Path, count: int) -> list[Path]:
    """Distinct flat pages as PPM, as the caption stage writes them."""
    pages = []
    for index in range(count):
        page = folder / f"page-{index:05d}.ppm"
        colour = bytes(((index * 37) % 256, (index * 91) % 256, 90))
        header = f"P6 {OPTIONS.width} {OPTIONS.height} 255\n".encode()
        page.write_bytes(header + colour * (OPTIONS.width * OPTIONS.height))
        pages.append(page)
    return pages


def measure(plan: ClipPlan, target: Path, runs_of: int) -> tuple[float, int]:
    """Wall seconds and peak ffmpeg RSS (MB) of encoding `plan` in runs of `runs_of` pages,
    each in a fresh process so the peak is this case's own."""
    code = (
        "import sys, pickle, resource; from services import ffmpeg; "
        f"clip_graph.MAX_PAGES_PER_RUN = {runs_of}; "
        "plan, options, target = pickle.load(sys.stdin.buffer); "
        "clip_graph.encode_clip(plan, options, target, 'bench'); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=pickle.dumps((plan, OPTIONS, target)),
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return time.perf_counter() - started, int(done.stdout.decode().split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--runs-of", type=int, default=clip_graph.MAX_PAGES_PER_RUN)
    args = parser.parse_args()
    print(f"{'pages':>6} | {'one run s':>9} {'MB':>6} | {'runs s':>7} {'MB':>6}")
    with tempfile.TemporaryDirectory(prefix="bench-long-part-") as scratch:
        folder = Path(scratch)
        for count in args.pages:
            pages = make_pages(folder, count)
            plan = ClipPlan(
                pages=[StillSegment(image=page, frames=20) for page in pages],
                crossfades=[4] * (count - 1),
                fade_frames=4,
            )
            whole = measure(plan, folder / "one.mp4", runs_of=count + 1)
            split = measure(plan, folder / "runs.mp4", runs_of=args.runs_of)
            print(f"{count:>6} | {whole[0]:>9.1f} {whole[1]:>6} | {split[0]:>7.1f} {split[1]:>6}")


if __name__ == "__main__":
    main()
