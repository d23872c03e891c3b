"""Benchmark: what a render costs in time, CPU and memory, measured against the encoding floor.

    .venv/bin/python bench/run.py              # 12 and 48 parts, moviepy side by side, cold start
    .venv/bin/python bench/run.py --repeat 2   # measure each flow case twice (a noisy machine)
    .venv/bin/python bench/run.py --parts 12 --skip-moviepy --skip-cold-start

Stories are synthetic (plasma-fractal pictures, blurred a little so they look like photographs to
x264, 1 to 3 captions a part) and are rendered through the real flow at the predecessor's settings
(480x720, 20 fps, x264 fast, CRF 23, espeak) against a Prefect server that is started and warmed up
before anything is timed. Each measured render runs in a fresh process with a fresh speech cache,
so narration is counted and memory figures belong to that render alone. The floor is ffmpeg alone
re-encoding the finished video at the same settings: a renderer cannot beat it by much, because it
has to encode the same frames. See bench/README.md for how to read the table.

This is a measurement, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# The production output settings (RenderOptions' defaults), used for every measured render.
WIDTH, HEIGHT, FPS, CRF, PRESET = 720, 1080, 24, 23, "fast"
FLOOR_ARGS = ["-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-pix_fmt", "yuv420p"]
GOAL_RSS_MB = 300
# Goals (issue 11): render / floor for a first render; re-run / first render for re-runs.
GOAL_RATIO = {"plain": 1.25, "zoom": 1.4, "long": 1.35}
GOAL_RERUN = {"unchanged": 0.10, "edited": 0.20}
EDITED_PART = 5  # the re-run with one edited caption changes this part's first caption

STORY_VERSION = "3"  # bump when the story generator changes, so cached stories are rebuilt
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024

# --- synthetic stories ---------------------------------------------------------------------------

SENTENCES = [
    "The fog lifted.",
    "Gulls argued over a crust of bread.",
    "A boy in muddy boots counted the waves.",
    "His sister called him home across the dunes.",
    "The tide turned silver under a sky that could not decide between rain and sunshine.",
    "Nobody in the village remembered who had painted the boats in such bright colours.",
    "The baker waved.",
    "By noon the harbour smelled of tar, salt and warm bread, and the fishermen were mending "
    "their nets on the quay.",
    "A dog chased its own shadow along the wall.",
    "Old Ana said the wind would change before evening, and she was never wrong about the wind.",
    "They waited.",
    "Far out, a ship's horn sounded twice.",
    "The children ran to the end of the pier to see whose boat was coming in first.",
    "It was their father's.",
]


def caption_text(rng: random.Random) -> str:
    """One to three sentences: most captions fit one page at 480x720, the longest are paged."""
    return " ".join(rng.sample(SENTENCES, rng.choice([1, 1, 2, 2, 3])))


def draw_picture(target: Path, size: tuple[int, int], seed: int) -> None:
    """A plasma fractal, blurred a little: smooth but detailed, like a photograph to an encoder."""
    convert = shutil.which("convert") or sys.exit("ImageMagick's convert is missing")
    args = ["-seed", str(seed), "-size", f"{size[0]}x{size[1]}", "plasma:fractal"]
    args += ["-blur", "0x1.5", "-quality", "90", str(target)]
    subprocess.run([convert, *args], check=True, capture_output=True)


def make_story(root: Path, parts: int, seed: int) -> Path:
    """A story of `parts` parts; built once and kept (rebuilt if the generator changed)."""
    marker = root / ".bench-story"
    wanted = f"{STORY_VERSION}:{parts}:{seed}"
    if marker.is_file() and marker.read_text() == wanted:
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(seed)
    jobs = []
    for number in range(1, parts + 1):
        folder = root / str(number)
        folder.mkdir(parents=True)
        portrait = number % 3 == 0
        size = (768, 1024) if portrait else (1024, 768)
        image = folder / ("image.png" if number % 4 == 0 else "image.jpg")
        jobs.append((image, size, seed * 1000 + number))
        for k in range(1, rng.randint(1, 3) + 1):
            (folder / f"{k}.txt").write_text(caption_text(rng) + "\n", encoding="utf-8")
    # Two pictures at a time: the machine has two cores.
    threads = [threading.Thread(target=draw_picture, args=job) for job in jobs]
    for start in range(0, len(threads), 2):
        for thread in threads[start : start + 2]:
            thread.start()
        for thread in threads[start : start + 2]:
            thread.join()
    marker.write_text(wanted)
    return root


def make_tiny_story(root: Path) -> Path:
    (root / "1").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            shutil.which("convert") or "convert",
            "-size",
            "320x240",
            "xc:#3060c0",
            root / "1/image.png",
        ],
        check=True,
    )
    (root / "1/1.txt").write_text("A tiny story.\n", encoding="utf-8")
    return root


# --- measuring processes -------------------------------------------------------------------------


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards), or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from one pass over /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _proc_stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def process_tree(root: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """The root and all its descendants."""
    children = children if children is not None else children_by_parent()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError):
        return 0


def cpu_seconds(pid: int) -> float:
    """User + system time of a live process and of its children it has waited for."""
    fields = _proc_stat(pid)
    if not fields:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


class TreeSampler:
    """Samples the summed resident memory of some process trees every `interval` seconds.

    `peak` is the largest sum over all the trees together, `peaks[root]` that of one tree alone,
    `largest_child[root]` the largest RSS seen of any one process below that root.
    A sum of RSS counts pages shared between processes (libraries, copy-on-write) once per process,
    so it is an upper bound of what the trees really occupy.
    """

    def __init__(self, roots: list[int], interval: float = 0.1):
        self.roots, self.interval = roots, interval
        self.peak = 0
        self.peaks = dict.fromkeys(roots, 0)
        self.largest_child = dict.fromkeys(roots, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            children = children_by_parent()
            total = 0
            for root in self.roots:
                sizes = {pid: rss_bytes(pid) for pid in process_tree(root, children)}
                below = [size for pid, size in sizes.items() if pid != root]
                self.largest_child[root] = max([self.largest_child[root], *below])
                self.peaks[root] = max(self.peaks[root], sum(sizes.values()))
                total += sum(sizes.values())
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(command: list[str], env: dict[str, str], log: Path) -> tuple[float, Any]:
    """Run a command to the end; its wall time and its rusage (it and its children)."""
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        raise RuntimeError(f"{command[0]} exited {process.returncode}:\n" + "\n".join(tail))
    return wall, usage


def video_seconds(path: Path) -> float:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(probe.stdout.strip())


def encoding_floor(
    video: Path, target: Path, env: dict[str, str], log: Path
) -> tuple[float, float]:
    """Wall and CPU seconds for ffmpeg alone to re-encode `video` at the render's settings."""
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-i", str(video), *FLOOR_ARGS]
    wall, usage = run_measured([*command, "-c:a", "copy", str(target)], env, log)
    return wall, usage.ru_utime + usage.ru_stime


# --- the Prefect server --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrefectServer:
    """`prefect server start` in its own process group, on a free port, with its own home."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> float:
        prefect = str(Path(sys.executable).with_name("prefect"))
        command = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        started = time.perf_counter()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "--analytics-off"],
                env=self.env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Prefect server exited; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the Prefect server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # our own group: the server and its children
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# --- worker processes (started by the benchmark, one per measured render) -------------------------


def bench_options(zoom: bool = False) -> Any:
    from services.settings import RenderOptions

    return RenderOptions(
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        crf=CRF,
        preset=PRESET,
        zoom=zoom,
        tts="espeak",
        language="en",
    )


def usage_now() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def usage_report(before: tuple[float, float], wall: float, **extra: Any) -> dict[str, Any]:
    after = usage_now()
    return {
        "wall": wall,
        "cpu_self": after[0] - before[0],
        "cpu_children": after[1] - before[1],
        # ru_maxrss is in KiB on Linux; the children figure is the largest single child.
        "rss_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rss_child": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        **extra,
    }


def render_worker(story: Path, out: Path, result: Path, zoom: bool = False) -> None:
    """Render `story` through the flow, against the server in PREFECT_API_URL."""
    from flows.video import generate_video

    options = bench_options(zoom)
    before, started = usage_now(), time.perf_counter()
    rendered = generate_video(assets_dir=str(story), out=str(out), options=options)
    report = usage_report(
        before,
        time.perf_counter() - started,
        pages=rendered.get("pages"),
        reused=rendered.get("parts_reused"),
    )
    result.write_text(json.dumps(report))


def render_zoom_worker(story: Path, out: Path, result: Path) -> None:
    render_worker(story, out, result, zoom=True)


def stages_worker(story: Path, out: Path, result: Path) -> None:
    """The flow's stages one after another, without Prefect: where the time and CPU go."""
    from services.media.narration_track import make_story_soundtrack
    from services.media.speech import EspeakEngine, Narrator
    from services.storage.folder import LocalStorage
    from services.story.model import plan_story
    from tasks.assembly import assemble_outputs
    from tasks.captions import lay_out_part
    from tasks.clips import render_part_clip
    from tasks.fetch_assets import fetch_and_check_part
    from tasks.narration import narrate_pages

    options = bench_options()
    storage = LocalStorage(story)
    spent: dict[str, list[float]] = {}

    def timed(stage: str, work: Any) -> Any:
        before, started = usage_now(), time.perf_counter()
        done = work()
        after = usage_now()
        wall = time.perf_counter() - started
        spent[stage] = [wall, after[0] - before[0], after[1] - before[1]]
        return done

    with tempfile.TemporaryDirectory(prefix="bench-stages-") as scratch:
        work = Path(scratch)
        narrator = Narrator(EspeakEngine(), work / "speech-cache")
        layout = plan_story(storage.list_names())
        parts = timed(
            "fetch", lambda: [fetch_and_check_part(f, storage, work) for f in layout.parts]
        )
        pages = timed("captions", lambda: [lay_out_part(p, options, work) for p in parts])
        spoken = timed("narration", lambda: [narrate_pages(p, narrator, "en") for p in pages])
        clips = timed(
            "clips",
            lambda: [
                render_part_clip(p, n, options, work, i == 0, i == len(pages) - 1)
                for i, (p, n) in enumerate(zip(pages, spoken, strict=True))
            ],
        )
        assembled = timed(
            "assembly",
            lambda: assemble_outputs(
                clips, options, work, make_story_soundtrack(clips, options, work)
            ),
        )
        shutil.copyfile(assembled.video, out)
    result.write_text(json.dumps(spent))


def moviepy_pages(story: Path, work: Path) -> list[tuple[Any, Any]]:
    """Each part's caption pages and narration, made by the renderer's own plain functions."""
    from services.media.speech import EspeakEngine, Narrator
    from services.storage.folder import LocalStorage
    from services.story.model import plan_story
    from tasks.captions import lay_out_part
    from tasks.fetch_assets import fetch_and_check_part
    from tasks.narration import narrate_pages

    options = bench_options()
    storage = LocalStorage(story)
    narrator = Narrator(EspeakEngine(), work / "speech-cache")
    parts = []
    for files in plan_story(storage.list_names()).parts:
        part = fetch_and_check_part(files, storage, work)
        pages = lay_out_part(part, options, work)
        parts.append((pages, narrate_pages(pages, narrator, "en")))
    return parts


def moviepy_part(pages: Any, narration: Any, first: bool, last: bool) -> Any:
    """One part as a moviepy clip, on the flow's timeline (services/timeline.py): caption pages
    and the bare picture between them cross-fading, fades to black."""
    from moviepy import CompositeVideoClip, ImageClip, vfx

    from services import timeline

    timing = timeline.narration_timing(narration, bench_options(), first=first, last=last)
    segments, changes = timing.segments, timing.changes
    layers, start = [], 0
    for index, (page, length) in enumerate(segments):
        image = pages.pages[page].image if page is not None else pages.blank
        # Same timing as the flow: a cross-fade is centred on the boundary between two stills.
        before = changes[index - 1] // 2 if index > 0 else 0
        after = changes[index] // 2 if index < len(segments) - 1 else 0
        clip = ImageClip(str(image)).with_start((start - before) / FPS)
        clip = clip.with_duration((length + before + after) / FPS)
        if before:
            clip = clip.with_effects([vfx.CrossFadeIn(2 * before / FPS)])
        layers.append(clip)
        start += length
    part = CompositeVideoClip(layers, size=(WIDTH, HEIGHT)).with_duration(start / FPS)
    return part.with_effects([vfx.FadeIn(timing.fade_in / FPS), vfx.FadeOut(timing.fade_out / FPS)])


def moviepy_worker(story: Path, out: Path, result: Path) -> None:
    """The same story through moviepy 2: pages and narration prepared first, then composited."""
    from moviepy import AudioFileClip, concatenate_videoclips

    from services.media.narration_track import join_narration

    with tempfile.TemporaryDirectory(prefix="bench-moviepy-") as scratch:
        work = Path(scratch)
        prep_started = time.perf_counter()
        prepared = moviepy_pages(story, work)
        prep = time.perf_counter() - prep_started

        before, started = usage_now(), time.perf_counter()
        count = len(prepared)
        parts = [
            moviepy_part(pages, narration, index == 0, index == count - 1)
            for index, (pages, narration) in enumerate(prepared)
        ]
        narration = work / "narration.wav"
        # The flow's own join: each page's speech placed where the timeline starts it.
        join_narration([spoken for _, spoken in prepared], bench_options(), narration)
        video = concatenate_videoclips(parts)
        video = video.with_audio(AudioFileClip(str(narration)))
        video.write_videofile(
            str(out),
            fps=FPS,
            codec="libx264",
            preset=PRESET,
            audio_codec="aac",
            audio_bitrate="128k",
            audio_fps=48_000,  # the flow's output rate
            ffmpeg_params=["-crf", str(CRF), "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
            logger=None,
        )
        report = usage_report(before, time.perf_counter() - started, prep=prep)
    result.write_text(json.dumps(report))


# --- the benchmark -------------------------------------------------------------------------------


@dataclass
class Floor:
    """ffmpeg alone re-encoding a rendered video: the least any renderer can spend on it."""

    wall: float
    cpu: float


@dataclass
class Row:
    name: str
    video: float
    wall: float
    floor: Floor
    cpu_self: float
    cpu_children: float
    rss_self: int
    rss_child: int  # RUSAGE_CHILDREN ru_maxrss (see the note printed under the table)
    child_seen: int  # the largest child process sampled from /proc
    tree_peak: int
    server_cpu: float | None = None
    notes: list[str] = field(default_factory=list)
    goal: float = 0.0  # the ratio this row must stay within
    first: Row | None = None  # for a re-run: the first render it is compared with

    @property
    def cpu(self) -> float:
        return self.cpu_self + self.cpu_children

    @property
    def ratio(self) -> float:
        """Wall time against the floor's, or against the first render's for a re-run."""
        return self.wall / (self.first.wall if self.first else self.floor.wall)

    @property
    def cpu_ratio(self) -> float:
        return self.cpu / (self.first.cpu if self.first else self.floor.cpu)

    @property
    def verdict(self) -> str:
        """`met` when both ratios are within the goal, `met (CPU)` when only the steadier CPU
        ratio is (a loaded machine stretches wall times), else `missed`; memory always counts."""
        if self.rss_self / MB > GOAL_RSS_MB:
            return "missed (RSS)"
        if self.ratio <= self.goal and self.cpu_ratio <= self.goal:
            return "met"
        if self.cpu_ratio <= self.goal:
            return "met (CPU)"
        return "missed"


def measured_row(
    name: str, video: Path, report: dict[str, Any], sampler: TreeSampler, floor: Floor
) -> Row:
    render = sampler.roots[0]
    return Row(
        name=name,
        video=video_seconds(video),
        wall=report["wall"],
        floor=floor,
        cpu_self=report["cpu_self"],
        cpu_children=report["cpu_children"],
        rss_self=report["rss_self"],
        rss_child=report["rss_child"],
        child_seen=sampler.largest_child[render],
        tree_peak=sampler.peak,
    )


class Bench:
    def __init__(self, work: Path, keep_outputs: Path | None):
        self.work = work
        self.outputs = keep_outputs or work / "outputs"
        self.outputs.mkdir(parents=True, exist_ok=True)
        self.log = work / "bench.log"
        self.base_env = clean_env(work / "prefect-home")
        self.server: PrefectServer | None = None
        self.failures: list[str] = []

    def env(
        self, api: bool = True, cache: Path | None = None, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Environment of a child: a fresh cache (speech and finished parts) unless `cache` is
        given, the server when `api`."""
        env = dict(self.base_env)
        env["XDG_CACHE_HOME"] = str(cache or tempfile.mkdtemp(prefix="cache-", dir=self.work))
        if api and self.server:
            env["PREFECT_API_URL"] = self.server.url
        env.update(extra or {})
        return env

    def worker(
        self, mode: str, story: Path, out: Path, cache: Path | None = None
    ) -> tuple[dict[str, Any], TreeSampler, float]:
        result = self.work / f"{out.stem}.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", mode]
        command += [str(story), str(out), str(result)]
        env = self.env(cache=cache)
        if mode == "moviepy":
            env["FFMPEG_BINARY"] = shutil.which("ffmpeg") or "ffmpeg"  # the same x264 as ours
        server_pid = self.server.process.pid if self.server and self.server.process else None
        server_before = sum(cpu_seconds(p) for p in process_tree(server_pid)) if server_pid else 0
        with self.log.open("ab") as out_log:
            process = subprocess.Popen(command, env=env, stdout=out_log, stderr=out_log)
            roots = [process.pid] + ([server_pid] if server_pid else [])
            with TreeSampler(roots) as sampler:
                process.wait()
        server_after = sum(cpu_seconds(p) for p in process_tree(server_pid)) if server_pid else 0
        if process.returncode != 0:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-20:]
            raise RuntimeError(f"{mode} render of {story.name} failed:\n" + "\n".join(tail))
        return json.loads(result.read_text()), sampler, server_after - server_before

    def flow_case(
        self,
        story: Path,
        label: str,
        goal: float,
        zoom: bool = False,
        cache: Path | None = None,
        first: Row | None = None,
    ) -> Row:
        out = self.outputs / f"{label.replace(' ', '-')}.mp4"
        mode = "render-zoom" if zoom else "render"
        try:
            report, sampler, server_cpu = self.worker(mode, story, out, cache)
        except RuntimeError as error:
            # Worth knowing (a render should not fail), but not worth losing the whole run for.
            reason = str(error).strip().splitlines()[-1]
            print(f"  FAILED: {reason}; measuring {label} again", flush=True)
            self.failures.append(f"{label}: a render failed and was measured again: {reason}")
            report, sampler, server_cpu = self.worker(mode, story, out, cache)
        # A re-run is compared with the first render, not with the floor.
        floor = first.floor if first else Floor(*self.floor(out))
        row = measured_row(label, out, report, sampler, floor)
        row.server_cpu = server_cpu
        row.goal = goal
        row.first = first
        render, server = sampler.roots[0], sampler.roots[-1]
        row.notes.append(
            f"{report.get('pages')} caption pages, {report.get('reused')} part(s) re-used; "
            f"tree = render process and its children "
            f"(peak {sampler.peaks[render] / MB:.0f} MB) + Prefect server "
            f"(peak {sampler.peaks[server] / MB:.0f} MB)"
        )
        return row

    def floor(self, video: Path) -> tuple[float, float]:
        return encoding_floor(video, self.work / "floor.mp4", self.env(api=False), self.log)

    def rerun_cases(self, story: Path, first: Row, cache: Path) -> list[Row]:
        """The same story again with the first render's cache, then with one caption edited."""
        unchanged = self.flow_case(
            story, "re-run unchanged", GOAL_RERUN["unchanged"], cache=cache, first=first
        )
        edited = self.work / "edited-story"
        shutil.rmtree(edited, ignore_errors=True)
        shutil.copytree(story, edited)
        caption = edited / str(EDITED_PART) / "1.txt"
        caption.write_text("The gulls were quiet for once.\n", encoding="utf-8")
        one_edited = self.flow_case(
            edited, "re-run 1 edited", GOAL_RERUN["edited"], cache=cache, first=first
        )
        return [unchanged, one_edited]

    def moviepy_case(self, story: Path, floor: Floor, label: str) -> Row:
        out = self.outputs / f"{label}.mp4"
        report, sampler, _ = self.worker("moviepy", story, out)
        row = measured_row(label, out, report, sampler, floor)
        with_prep = (report["wall"] + report["prep"]) / floor.wall
        row.notes.append(
            f"compositing + encoding only; making its pages and narration first took "
            f"{report['prep']:.1f} s more (ratio with them {with_prep:.2f})"
        )
        return row

    def stages(self, story: Path, floor: Floor, parts: int) -> str:
        spent, _, _ = self.worker("stages", story, self.work / "stages.mp4")
        listed = ", ".join(
            f"{stage} {wall:.1f} s ({cpu_self + cpu_children:.1f} CPU s)"
            for stage, (wall, cpu_self, cpu_children) in spent.items()
        )
        return (
            f"stages, {parts} parts, one after another without Prefect: {listed}; "
            f"the floor re-encodes the whole video in {floor.wall:.1f} s ({floor.cpu:.1f} CPU s)"
        )

    def cold_start(self, tiny: Path) -> str:
        cli = [sys.executable, str(REPO / "flows/video.py")]
        helps = []
        for _ in range(3):
            wall, _ = run_measured([*cli, "--help"], self.env(api=False), self.log)
            helps.append(wall)
        small = ["--width", "240", "--height", "360", "--fps", "12", "--preset", "ultrafast"]
        render = [*cli, "--assets-dir", str(tiny), "--tts", "espeak", *small]
        fresh_home = str(Path(tempfile.mkdtemp(prefix="prefect-home-", dir=self.work)))
        out = ["--out", str(self.work / "tiny.mp4")]
        # No PREFECT_API_URL and nothing on the port the command line looks at: a temporary
        # server per run. Then the same with the benchmark's server on that port: re-used.
        nothing_there = {"PREFECT_HOME": fresh_home, "PREFECT_SERVER_API_PORT": str(free_port())}
        first, _ = run_measured([*render, *out], self.env(False, extra=nothing_there), self.log)
        again, _ = run_measured([*render, *out], self.env(False, extra=nothing_there), self.log)
        assert self.server is not None
        found = {"PREFECT_SERVER_API_PORT": str(self.server.port)}
        reused, _ = run_measured([*render, *out], self.env(False, extra=found), self.log)
        served, _ = run_measured([*render, *out], self.env(api=True), self.log)
        return (
            f"cold start: `flows/video.py --help` {statistics.median(helps):.2f} s (median of 3); "
            f"tiny render (1 page, 240x360) {served:.1f} s with PREFECT_API_URL set; "
            f"with no PREFECT_API_URL: {reused:.1f} s when a server runs on the local port "
            f"(found and re-used), {first:.1f} s when none does, on a new PREFECT_HOME "
            f"(+{first - served:.1f} s: temporary server and its database), "
            f"{again:.1f} s on the second such run (+{again - served:.1f} s)"
        )


def clean_env(prefect_home: Path) -> dict[str, str]:
    """This machine's environment without Prefect/cloud settings, plus the benchmark's own."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PREFECT_", "GOOGLE_", "STORAGE_EMULATOR"))
        and name not in {"TTS_ENGINE", "TTS_LANGUAGE", "CAPTION_FONT", "ENV", "XDG_CACHE_HOME"}
    }
    env.update(
        {
            "ENV": "d",
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'case':<18}{'video':>7}{'wall':>7}{'floor':>7}{'ratio':>6} |"
        f"{'CPU':>7}{'(self+child)':>14}{'floor':>7}{'ratio':>6}{'server':>7} |"
        f"{'RSS':>5}{'child':>6}{'seen':>6}{'tree':>6} | goal"
    )
    units = f"{'':<18}{'s':>7}{'s':>7}{'s':>7}{'':>6} |{'s':>7}{'s':>14}{'s':>7}{'':>6}{'s':>7} |"
    print(header)
    print(units + f"{'MB':>5}{'MB':>6}{'MB':>6}{'MB':>6} |")
    print("-" * len(header))
    for row in rows:
        split = f"({row.cpu_self:.1f}+{row.cpu_children:.1f})"
        server = f"{row.server_cpu:.1f}" if row.server_cpu is not None else "-"
        print(
            f"{row.name:<18}{row.video:>7.1f}{row.wall:>7.1f}{row.floor.wall:>7.1f}"
            f"{row.ratio:>6.2f} |{row.cpu:>7.1f}{split:>14}{row.floor.cpu:>7.1f}"
            f"{row.cpu_ratio:>6.2f}{server:>7} |{row.rss_self / MB:>5.0f}{row.rss_child / MB:>6.0f}"
            f"{row.child_seen / MB:>6.0f}{row.tree_peak / MB:>6.0f} | "
            f"<= {row.goal:.2f} {row.verdict}"
        )
    for row in rows:
        for note in row.notes:
            print(f"  {row.name}: {note}")
    print(
        "  ratio: render / floor; for a re-run, re-run / first render (the floor columns then"
        " give the first render's wall and CPU seconds)"
    )
    print(
        "  RSS: the render process's ru_maxrss; child: RUSAGE_CHILDREN ru_maxrss, which Linux"
        " also charges with the parent's pages when it forks a child, so it is never much below"
        " RSS; seen: the largest child actually sampled in /proc; tree: the sampled peak of all"
        " the render's processes plus the Prefect server (an upper bound: shared pages count"
        " once per process)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", type=int, nargs="+", default=[12, 48], help="story sizes")
    parser.add_argument("--repeat", type=int, default=1, help="measure each flow case N times")
    parser.add_argument("--skip-moviepy", action="store_true")
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--skip-stages", action="store_true", help="no per-stage breakdown")
    parser.add_argument("--skip-zoom", action="store_true", help="no render with --zoom")
    parser.add_argument("--skip-reruns", action="store_true", help="no re-run measurements")
    parser.add_argument(
        "--stories", type=Path, default=REPO / "build/bench/stories", help="generated stories"
    )
    parser.add_argument("--keep", type=Path, help="keep the rendered videos in this folder")
    parser.add_argument(
        "--worker",
        choices=["render", "render-zoom", "moviepy", "stages"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("worker_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        story, out, result = (Path(value) for value in args.worker_args)
        workers = {
            "render": render_worker,
            "render-zoom": render_zoom_worker,
            "moviepy": moviepy_worker,
            "stages": stages_worker,
        }
        workers[args.worker](story, out, result)
        return 0

    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
        f"settings {WIDTH}x{HEIGHT} {FPS} fps, x264 {PRESET} CRF {CRF}, espeak",
        flush=True,
    )
    started = time.perf_counter()
    stories = {
        parts: make_story(args.stories / f"{parts}-parts", parts, seed=parts)
        for parts in args.parts
    }
    print(f"stories ready in {time.perf_counter() - started:.1f} s ({args.stories})", flush=True)

    with tempfile.TemporaryDirectory(prefix="story-video-bench-") as scratch:
        bench = Bench(Path(scratch), args.keep)
        bench.server = PrefectServer(bench.base_env, bench.log)
        rows: list[Row] = []
        lines: list[str] = []
        try:
            startup = bench.server.start()
            print(
                f"Prefect server up in {startup:.1f} s; warming it up with a tiny render",
                flush=True,
            )
            tiny = make_tiny_story(bench.work / "tiny")
            bench.worker("render", tiny, bench.work / "warm-up.mp4")

            floors: dict[int, Floor] = {}
            smallest = min(stories)
            for parts, story in stories.items():
                goal = GOAL_RATIO["plain" if parts == smallest else "long"]
                for attempt in range(1, args.repeat + 1):
                    suffix = f" #{attempt}" if args.repeat > 1 else ""
                    label = f"flow {parts} parts{suffix}"
                    print(f"measuring {label} ...", flush=True)
                    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=bench.work))
                    row = bench.flow_case(story, label, goal, cache=cache)
                    floors.setdefault(parts, row.floor)
                    rows.append(row)
                    if parts == smallest and not args.skip_reruns:
                        print(f"measuring re-runs of {label} ...", flush=True)
                        rows += bench.rerun_cases(story, row, cache)
                    if parts == smallest and not args.skip_zoom:
                        label = f"zoom {parts} parts{suffix}"
                        print(f"measuring {label} ...", flush=True)
                        rows.append(bench.flow_case(story, label, GOAL_RATIO["zoom"], zoom=True))
            if not args.skip_moviepy:
                parts = min(stories)
                print(f"measuring moviepy 2, {parts} parts ...", flush=True)
                rows.append(
                    bench.moviepy_case(stories[parts], floors[parts], f"moviepy {parts} parts")
                )
            if not args.skip_stages:
                parts = min(stories)
                print(f"measuring the stages, {parts} parts ...", flush=True)
                lines.append(bench.stages(stories[parts], floors[parts], parts))
            if not args.skip_cold_start:
                lines.append(bench.cold_start(tiny))
        finally:
            bench.server.stop()

    print()
    print_table(rows)
    for line in [*lines, *bench.failures]:
        print(line)
    print(
        f"goals: render/floor <= {GOAL_RATIO['plain']} (12 parts), {GOAL_RATIO['zoom']} (zoom), "
        f"{GOAL_RATIO['long']} (48 parts); re-run/first render <= {GOAL_RERUN['unchanged']} "
        f"(unchanged), {GOAL_RERUN['edited']} (one caption edited); render-process RSS <= "
        f"{GOAL_RSS_MB} MB; "
        f"load average {os.getloadavg()[0]:.2f} at the end "
        f"(a shared machine: figures are noisy, repeat with --repeat 2)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
