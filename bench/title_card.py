"""Benchmark: what a title card (title.txt) adds to a render, beside what one part costs.

    .venv/bin/python bench/title_card.py [--repeat 3]

The example story's first part (examples/lighthouse-cat/1) at the production settings
(RenderOptions' defaults: 720x1080, 24 fps, x264 fast, CRF 23, espeak), through the plain stage
functions, without Prefect, one after another in this process: the title card
(`tasks.title.make_title_clip`: drawn, narrated, timed, encoded) and the part itself (its pages,
narration and clip). CPU is this process's and its children's (ffmpeg, espeak-ng) user + system
seconds; frames are the clip's. A fresh speech cache each round, so narration is counted.

This is a measurement, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.media.speech import EspeakEngine, Narrator  # noqa: E402
from services.settings import RenderOptions  # noqa: E402
from services.storage.folder import LocalStorage  # noqa: E402
from services.story.model import plan_story  # noqa: E402
from tasks.captions import lay_out_part  # noqa: E402
from tasks.clips import render_part_clip  # noqa: E402
from tasks.fetch_assets import fetch_and_check_part  # noqa: E402
from tasks.narration import narrate_pages  # noqa: E402
from tasks.title import make_title_clip  # noqa: E402

STORY = REPO / "examples" / "lighthouse-cat"
TITLE = "The Lighthouse Cat"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(options: RenderOptions, work: Path) -> dict[str, tuple[float, float, int]]:
    """(wall seconds, CPU seconds, frames) of the title card and of part 1."""
    storage = LocalStorage(STORY)
    files = plan_story(storage.list_names()).parts[0]
    part = fetch_and_check_part(files, storage, work / "source")
    narrator = Narrator(EspeakEngine(), work / "speech")
    found = {}

    started, cpu = time.monotonic(), _cpu()
    title = make_title_clip(TITLE, part, narrator, options, work / "title")
    found["title card"] = (time.monotonic() - started, _cpu() - cpu, title.frames)

    started, cpu = time.monotonic(), _cpu()
    pages = lay_out_part(part, options, work / "part")
    narration = narrate_pages(pages, narrator, options.language)
    clip = render_part_clip(pages, narration, options, work / "part", first=True, after_title=True)
    found["part 1"] = (time.monotonic() - started, _cpu() - cpu, clip.frames)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    options = RenderOptions(language="en", tts="espeak")
    print(
        f"{options.width}x{options.height}, {options.fps} fps, {options.preset}, crf {options.crf}"
    )
    print("| round | what | wall s | CPU s | frames | CPU ms a frame |")
    print("|---|---|---|---|---|---|")
    for round_number in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory(prefix="bench-title-") as scratch:
            for what, (wall, cpu, frames) in measure(options, Path(scratch)).items():
                print(
                    f"| {round_number} | {what} | {wall:.2f} | {cpu:.2f} | {frames} "
                    f"| {1000 * cpu / frames:.1f} |"
                )


if __name__ == "__main__":
    main()
