"""The render cache cannot go stale: a part is re-used only when the code and the native tools that
made it are the ones running now (services/media/render_identity.py).

Each test renders a two-part story through the command line (`flows/video.py` as a subprocess)
from a copy of the project's code, with one speech and part cache shared by its runs, and changes
one thing between them: the caption-drawing code (Pango's part of it), the narration-track code,
the soundtrack code, or the ffmpeg that runs. What the viewer gets after the change (the
caption's colour, the sound's loudness) shows the re-render used the new code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.media import render_identity
from tests import media

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--width", "160", "--height", "240", "--fps", "10", "--preset", "ultrafast"]
STORY = {1: ["A red fox ran."], 2: ["It slept."]}

# Project modules a render loads that decide nothing in a part's pixels, sound or timing, so the
# key leaves them out. A module missing from both this list and the key fails the test below.
OUTSIDE_THE_RENDER = {
    "flows": "the package",
    "flows.cli": "arguments in, options out (the options are in the key)",
    "flows.video": "runs the stages (the stages' code is in the key)",
    "flows.part_futures": "futures plumbing",
    "flows.run_record": "video.json",
    "flows.render": "runs the stages in order (the stages' code is in the key)",
    "flows.form": "the Prefect form's field descriptions",
    "flows.run_logs": "which failures log a traceback",
    "flows.run_report": "the Prefect UI's progress and result artifacts",
    "services.work_area": "where a run's temporary files live",
    "tasks.fetch_assets": "reads the story (its bytes are in the key)",
    "tasks.reuse": "looks the key up",
    "services.record": "video.json",
    "services.story.language_id": "resolves `auto` (the language it finds is in the key)",
    "services.storage.part_store": "the cache itself",
    "services.media.render_identity": "computes the key",
    "services.storage.base": "where files live",
    "services.storage.folder": "where files live",
    "services.storage.sources": "where files live",
}


@pytest.fixture(scope="module")
def api_url(prefect_harness) -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the test harness did not set an API URL"
    return url


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """A copy of the project's code, to edit."""
    copy = tmp_path / "repo"
    for package in ("flows", "tasks", "services"):
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return copy


def render(
    code: Path, story: Path, out: Path, api_url: str, cache: Path, **env: str
) -> dict[str, object]:
    """One run of the command line from `code`; its record (video.json, beside the video)."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(code),
        "PREFECT_API_URL": api_url,
        "XDG_CACHE_HOME": str(cache),
        **env,
    }
    args = ["--assets-dir", str(story), "--out", str(out / "video.mp4"), "--tts", "espeak"]
    run_python([str(code / "flows" / "video.py"), *args, *TINY], out.parent, environment)
    return json.loads((out / "video.json").read_text())


def run_python(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {path}"
    path.write_text(text.replace(old, new))


def green_caption_pixels(video: Path) -> int:
    """Pixels of the first part's caption band that are clearly green (the text re-coloured)."""
    frame = media.frame_at(video, 0.6)
    band = frame.region(frame.height * 2 // 3, frame.height)
    return sum(1 for r, g, b in band if g > 180 and r < 90 and b < 90)


def test_edited_caption_drawing_code_redraws_every_part(
    code: Path, make_story, tmp_path: Path, api_url: str
) -> None:
    story, cache = make_story(STORY), tmp_path / "cache"
    first = render(code, story, tmp_path / "first", api_url, cache)
    assert first["parts_reused"] == 0
    assert green_caption_pixels(tmp_path / "first" / "video.mp4") == 0

    again = render(code, story, tmp_path / "again", api_url, cache)
    assert again["parts_reused"] == 2  # nothing changed: the key is stable across processes

    # Pango's drawing of the lines (a module a hand-kept list of "render code" once left out):
    # now green, whatever colour it is asked for.
    drawing = code / "services" / "media" / "pango_text.py"
    edit(
        drawing,
        "cairo.cairo_set_source_rgba(context, *colour)",
        "cairo.cairo_set_source_rgba(context, 0.0, colour[1], 0.0, colour[3])",
    )
    edited = render(code, story, tmp_path / "edited", api_url, cache)
    assert edited["parts_reused"] == 0
    assert green_caption_pixels(tmp_path / "edited" / "video.mp4") > 20


def test_edited_narration_or_soundtrack_code_renders_again(
    code: Path, make_story, tmp_path: Path, api_url: str
) -> None:
    story, cache = make_story(STORY), tmp_path / "cache"
    first = render(code, story, tmp_path / "first", api_url, cache)
    assert first["parts_reused"] == 0
    assert abs(float(first["loudness_lufs"]) + 16) <= 1  # type: ignore[arg-type]

    # The narration track (each page padded to its frame edges): parts are made again.
    track = code / "services" / "media" / "narration_track.py"
    track.write_text(track.read_text() + "\n# a change to the narration track's code\n")
    edited = render(code, story, tmp_path / "track", api_url, cache)
    assert edited["parts_reused"] == 0

    # The soundtrack's loudness target: the story's sound is made again, at the new level.
    soundtrack = code / "services" / "media" / "soundtrack.py"
    edit(soundtrack, "TARGET_LUFS = -16.0", "TARGET_LUFS = -23.0")
    quieter = render(code, story, tmp_path / "quieter", api_url, cache)
    assert abs(float(quieter["loudness_lufs"]) + 23) <= 1  # type: ignore[arg-type]
    measured, _ = media.loudness(tmp_path / "quieter" / "video.mp4")
    assert abs(measured + 23) <= 1


def test_another_ffmpeg_version_renders_again(
    code: Path, make_story, tmp_path: Path, api_url: str
) -> None:
    story, cache = make_story(STORY), tmp_path / "cache"
    assert render(code, story, tmp_path / "first", api_url, cache)["parts_reused"] == 0

    # The same ffmpeg, under a wrapper that calls itself another version.
    real = shutil.which("ffmpeg")
    wrapper = tmp_path / "bin" / "ffmpeg"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/bash\n"
        f'exec {real} "$@" 2> >(sed "s/^ffmpeg version [^ ]*/ffmpeg version 99.0-test/" >&2)\n'
    )
    wrapper.chmod(0o755)
    other = render(code, story, tmp_path / "other", api_url, cache, FFMPEG_BINARY=str(wrapper))
    assert other["parts_reused"] == 0
    again = render(code, story, tmp_path / "again", api_url, cache, FFMPEG_BINARY=str(wrapper))
    assert again["parts_reused"] == 2


def test_every_project_module_a_render_loads_is_in_the_key_or_decides_nothing(
    make_story, tmp_path: Path, api_url: str
) -> None:
    """The modules a real render has loaded when it ends (sys.modules, in that process) against
    the modules the key hashes: one that decides output and is left out fails here."""
    story = make_story({1: ["One.", "Two."], 2: ["Three."]})
    script = (
        "import atexit, runpy, sys\n"
        "def dump():\n"
        "    ours = ('services', 'tasks', 'flows')\n"
        "    names = [n for n in sys.modules if n.split('.')[0] in ours]\n"
        f"    open({str(tmp_path / 'loaded.txt')!r}, 'w').write('\\n'.join(sorted(names)))\n"
        "atexit.register(dump)\n"
        "sys.argv = ['video.py', *sys.argv[1:]]\n"
        f"runpy.run_path({str(ROOT / 'flows' / 'video.py')!r}, run_name='__main__')\n"
    )
    env = {**os.environ, "PREFECT_API_URL": api_url, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ["--assets-dir", str(story), "--out", str(tmp_path / "out" / "video.mp4"), *TINY]
    run_python(["-c", script, *args], ROOT, env)
    loaded = set((tmp_path / "loaded.txt").read_text().split())
    assert "services.media.caption_drawing" in loaded and "tasks.clips" in loaded

    keyed = set(render_identity.code_modules(render_identity.PART_STAGES)) | set(
        render_identity.code_modules(render_identity.STORY_STAGES)
    )
    assert loaded - keyed - OUTSIDE_THE_RENDER.keys() == set()
