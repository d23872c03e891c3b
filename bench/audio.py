"""What the soundtrack costs: music and loudness at assembly, against the render of the parts.

    .venv/bin/python bench/audio.py [--parts 12] [--repeat 2]

Renders the benchmark's story (bench/run.py's generator, same settings: 480x720, 20 fps, x264
`fast`, espeak) through the plain stage functions, one part after another, then assembles the
same finished parts three ways and prints them side by side:

- `join only`: the assembly before this work (clips joined, narration encoded to AAC; no
  loudness, chapters or poster);
- `loudness`: the assembly as it is, without music (loudness measured and applied, checked on
  the finished file; chapters; poster);
- `music + loudness`: the same with a music file shorter than the video (so it loops) ducked
  under the narration.

The goal: the soundtrack steps (the difference to `join only`) cost at most 10 % of the render.
Also prints where that time goes, ffmpeg call by ffmpeg call. Timings on a shared machine are
noisy: each case is run `--repeat` times and the fastest kept.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run import bench_options, make_story, usage_now  # noqa: E402
from services.media import audio_graph, ffmpeg, mux  # noqa: E402

# The timed ffmpeg steps, by the module that defines them (the services call them by module name).
STEP_FUNCTIONS = (
    (audio_graph, "measure_loudness"),
    (audio_graph, "analyse_speech"),
    (audio_graph, "decode_music"),
    (audio_graph, "mix_music"),
    (audio_graph, "leveled_loudnesses"),
    (mux, "encode_soundtrack"),
    (mux, "join_clips_and_sound"),
    (mux, "extract_poster"),
)


class Spent:
    """Wall and CPU (this process and its children) of a piece of work."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def add(self, work: Callable[[], Any]) -> Any:
        before, started = usage_now(), time.perf_counter()
        done = work()
        after = usage_now()
        self.wall += time.perf_counter() - started
        self.cpu += (after[0] - before[0]) + (after[1] - before[1])
        return done


def time_ffmpeg_steps(steps: dict[str, Spent]) -> None:
    """Count the time of each soundtrack ffmpeg call (the services call them by module name)."""
    for module, name in STEP_FUNCTIONS:
        original = getattr(module, name)

        @wraps(original)
        def timed(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            return steps[_name].add(lambda: _original(*args, **kwargs))

        setattr(module, name, timed)


def make_music(target: Path, seconds: float) -> Path:
    """Something like music to an encoder and a loudness meter: a chord over soft noise."""
    chord = "+".join(
        f"0.2*sin(2*PI*{f}*t)*(0.6+0.4*sin(2*PI*0.5*t))" for f in (220, 277.18, 329.63)
    )
    ffmpeg.ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"aevalsrc='{chord}':s=44100:d={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"anoisesrc=color=pink:amplitude=0.05:d={seconds}:r=44100",
        "-filter_complex",
        "amix=inputs=2:normalize=0,pan=stereo|c0=c0|c1=c0",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "192k",
        str(target),
    )
    return target


def render_parts(story: Path, work: Path) -> tuple[list[Any], Spent]:
    from services.media.speech import EspeakEngine, Narrator
    from services.storage.folder import LocalStorage
    from services.story.model import plan_story
    from tasks.captions import lay_out_part
    from tasks.clips import render_part_clip
    from tasks.fetch_assets import fetch_and_check_part
    from tasks.narration import narrate_pages

    options = bench_options()
    storage = LocalStorage(story)
    narrator = Narrator(EspeakEngine(), work / "speech-cache")
    spent = Spent()

    def render() -> list[Any]:
        clips = []
        for files in plan_story(storage.list_names()).parts:
            part = fetch_and_check_part(files, storage, work)
            pages = lay_out_part(part, options, work)
            spoken = narrate_pages(pages, narrator, "en")
            clips.append(render_part_clip(pages, spoken, options, work))
        return clips

    return spent.add(render), spent


def join_only(clips: list[Any], work: Path) -> None:
    """The assembly before the soundtrack work: join, narration to AAC, nothing else."""
    from services.media.narration_track import join_narration

    work.mkdir(parents=True, exist_ok=True)
    narration = work / "narration.wav"
    join_narration(clips, bench_options().fps, narration)
    soundtrack = work / "soundtrack.m4a"
    # espeak-ng's narration is kept at 22,050 Hz: encoded at the video's 48 kHz, as the flow does.
    mux.encode_soundtrack(
        narration, soundtrack, audio_filters=f"aresample={ffmpeg.AUDIO_SAMPLE_RATE}"
    )
    mux.join_clips_and_sound(
        [(clip.video, clip.frames) for clip in clips],
        bench_options().fps,
        soundtrack,
        work / "video.mp4",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--stories", type=Path, default=REPO / "build/bench/stories")
    args = parser.parse_args()

    from services.media.narration_track import make_story_soundtrack
    from tasks.assembly import assemble_outputs

    def assemble(clips: list[Any], out: Path, music: Path | None = None) -> Any:
        sound = make_story_soundtrack(clips, options, out, music)
        return assemble_outputs(clips, options, out, sound)

    story = make_story(args.stories / f"{args.parts}-parts", args.parts, seed=args.parts)
    options = bench_options()
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as scratch:
        work = Path(scratch)
        clips, rendered = render_parts(story, work)
        seconds = sum(clip.frames for clip in clips) / options.fps
        music = make_music(work / "music.mp3", round(seconds / 2.5))

        cases: dict[str, Callable[[Path], Any]] = {
            "join only": lambda out: join_only(clips, out),
            "loudness": lambda out: assemble(clips, out),
            "music + loudness": lambda out: assemble(clips, out, music),
        }
        best: dict[str, Spent] = {}
        steps: dict[str, dict[str, Spent]] = {}
        for attempt in range(args.repeat):
            for label, case in cases.items():
                case_steps: dict[str, Spent] = defaultdict(Spent)
                time_ffmpeg_steps(case_steps)
                spent = Spent()
                out = work / f"{label}-{attempt}"
                spent.add(functools.partial(case, out))
                for module, name in STEP_FUNCTIONS:  # undo the wrapping
                    setattr(module, name, getattr(module, name).__wrapped__)
                if label not in best or spent.cpu < best[label].cpu:
                    best[label], steps[label] = spent, case_steps
                print(f"  {label} (run {attempt + 1}): {spent.wall:.2f} s", flush=True)

    base = best["join only"]
    render_wall, render_cpu = rendered.wall + base.wall, rendered.cpu + base.cpu
    print()
    print(f"{args.parts} parts, {seconds:.1f} s of video; music {round(seconds / 2.5)} s (loops)")
    print(
        f"render of the parts (one after another): wall {rendered.wall:.2f} s, "
        f"CPU {rendered.cpu:.2f} s"
    )
    print()
    header = (
        f"{'assembly':<18} {'wall':>6} {'CPU':>6} | {'+wall':>6} {'+CPU':>6} |"
        f" {'% render wall':>13} {'% CPU':>6}"
    )
    print(header)
    print("-" * len(header))
    for label, spent in best.items():
        extra_wall, extra_cpu = spent.wall - base.wall, spent.cpu - base.cpu
        print(
            f"{label:<18} {spent.wall:6.2f} {spent.cpu:6.2f} | {extra_wall:6.2f} {extra_cpu:6.2f} |"
            f" {100 * extra_wall / render_wall:12.1f}% {100 * extra_cpu / render_cpu:5.1f}%"
        )
    print()
    print("where the CPU time goes (s, this process and ffmpeg; fastest run of each case):")
    names = [name for _, name in STEP_FUNCTIONS if any(name in s for s in steps.values())]
    print(f"{'':<18} " + " ".join(f"{name[:14]:>14}" for name in names))
    for label, case_steps in steps.items():
        cells = [
            f"{case_steps[name].cpu:14.2f}" if name in case_steps else f"{'-':>14}"
            for name in names
        ]
        print(f"{label:<18} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
