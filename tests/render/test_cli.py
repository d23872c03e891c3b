"""The command line, end to end: `python flows/video.py --assets-dir DIR ...` as a subprocess.

Success prints the video's path on stdout and exits 0; failure exits non-zero with a one-line
`error: ...` as the last line on stderr. Most runs talk to the session's Prefect test server (set
through PREFECT_API_URL) because a temporary server per run costs 12-20 s here; the runs marked
"no server" check the plain local command a developer types.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import build_parser, main
from services import timeline
from services.media import ffmpeg
from tests import media
from tests.gcs_emulator import free_port
from tests.stories import PartSpec

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--width", "160", "--height", "240", "--fps", "10", "--preset", "ultrafast"]


def run_cli(
    *args: str, api_url: str | None = None, local_port: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command line. Without `api_url` it looks for a server on `local_port`; by default
    on a port where nothing listens, so a server someone runs on 4200 does not count."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env["PREFECT_SERVER_API_PORT"] = str(local_port or free_port())
    return subprocess.run(
        [sys.executable, str(ROOT / "flows" / "video.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@pytest.fixture(autouse=True)
def _keep_signal_handlers():
    """main() installs a SIGTERM handler for the process; in-process calls must not leak it."""
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


@pytest.fixture(scope="module")
def api_url(prefect_harness) -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the test harness did not set an API URL"
    return url


def outputs_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("video."))


# --- success ------------------------------------------------------------------------------------


def test_no_server_default_options_render_the_predecessor_like_video(make_story) -> None:
    """The plain developer command, nothing running, every option at its default."""
    story = make_story({1: ["Hello from the command line."]})
    done = run_cli("--assets-dir", str(story))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(story / "video.mp4")

    video = story / "video.mp4"
    info = media.inspect(video)
    assert (info.video_codec, info.pixel_format, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height, info.frame_rate) == (720, 1080, 24)
    assert media.is_faststart(video)
    assert info.audio_seconds is not None
    assert abs(info.audio_seconds - info.video_seconds) <= 1 / 24
    # The relaxed pace: the opening, the speech, the last caption held, the ending.
    spoken = media.espeak_seconds("Hello from the command line.", audible=True)
    pace = timeline.pace_of("relaxed")
    wanted = pace.opening + spoken + pace.ending_hold + pace.caption_fade + pace.ending_fade
    assert abs(info.frames / 24 - wanted) <= 3 / 24
    encoder = media.x264_options(video)
    assert encoder["crf"] == "23.0"
    assert (encoder["subme"], encoder["me"], encoder["ref"]) == ("6", "hex", "2")  # preset fast
    assert outputs_in(story) == ["video.jpg", "video.json", "video.mp4", "video.srt", "video.vtt"]


def test_every_option_is_obeyed_and_out_moves_all_outputs(make_story, api_url, tmp_path) -> None:
    caption = "Der Leuchtturm leuchtet über dem Meer."
    story = make_story(
        {
            1: PartSpec([caption], colour=(40, 80, 220), size=(320, 200)),
            2: PartSpec(["Gute Nacht."], colour=(230, 200, 30)),
        }
    )
    (story / "notes").mkdir()
    (story / "notes" / "plan.txt").write_text("draft", encoding="utf-8")
    (story / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    out = tmp_path / "elsewhere" / "my-film.mp4"
    out.parent.mkdir()
    args = ["--assets-dir", str(story), "--out", str(out)]
    args += ["--width", "160", "--height", "240", "--fps", "12", "--crf", "30"]
    args += ["--preset", "ultrafast", "--zoom", "--tts", "espeak", "--language", "de"]
    args += ["--pace", "normal"]
    music = tmp_path / "tune.ogg"
    ffmpeg.ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:duration=2", "-ac", "2", str(music))
    args += ["--music", str(music), "--music-volume", "-6", "--caption-position", "top"]
    done = run_cli(*args, api_url=api_url)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(out)
    assert "ignored (not a story part, image or caption): .DS_Store, notes/" in done.stderr

    # Captions and record beside the video, same stem; nothing written into the story.
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "my-film.jpg",
        "my-film.json",
        "my-film.mp4",
        "my-film.srt",
        "my-film.vtt",
    ]
    assert outputs_in(story) == []
    record = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert (record["status"], record["video"], record["parts"]) == ("completed", "my-film.mp4", 2)
    assert (record["poster"], record["music"]) == ("my-film.jpg", str(music))
    streams = ffmpeg.probe(out)["streams"]
    assert [s["channels"] for s in streams if s["codec_type"] == "audio"] == [2]  # music: stereo

    info = media.inspect(out)
    assert (info.width, info.height, info.frame_rate) == (160, 240, 12)
    encoder = media.x264_options(out)
    assert encoder["crf"] == "30.0"
    assert (encoder["subme"], encoder["cabac"]) == ("0", "0")  # preset ultrafast

    # German narration, at the normal pace: each page lasts as long as espeak-ng's German voice
    # speaks it, with the opening and a page turn (part 1), or the lead-in and the ending (part 2).
    assert (record["pace"], record["speech_rate"]) == ("normal", 1.0)
    pace = timeline.pace_of("normal")
    cues = media.parse_srt(out.with_suffix(".srt").read_text(encoding="utf-8"))
    assert [cue.text for cue in cues] == [caption, "Gute Nacht."]
    around = [pace.opening + pace.page_turn - 0.4 - pace.lead_in, 0.4 + pace.lead_in]
    around[1] += pace.ending_hold
    for cue, gaps in zip(cues, around, strict=True):
        german = media.espeak_seconds(cue.text, "de", audible=True)
        assert abs(cue.end - cue.start - gaps - german) <= 2 / 12 + 0.0015, cue
    german = media.espeak_seconds(caption, "de", audible=True)
    english = media.espeak_seconds(caption, "en", audible=True)
    assert abs(english - german) > 2 / 12 + 0.0015, "the check could not tell English from German"

    # Zoom: the picture is bigger late in the part than early on (its lower edge, away from the
    # caption at the top, is lower).
    start, end = round(cues[0].start * 12), round(cues[0].end * 12)
    early = media.frame_number(out, start + 6, 12)
    late = media.frame_number(out, end - 7, 12)

    def picture_bottom(frame: media.Frame) -> int:
        return max(
            y
            for y in range(frame.height)
            if media.distance(frame.mean(80, y, 1), (40, 80, 220)) < 45
        )

    assert picture_bottom(late) > picture_bottom(early)

    # Captions at the top: the top third of the frame holds the caption's white letters.
    top_rows = early.region(0, 240 // 3)
    assert max(media.luma(pixel) for pixel in top_rows) > 200


def test_music_flags_parse_and_conflict(capsys) -> None:
    parser = build_parser()
    parsed = parser.parse_args(["--assets-dir", "x", "--no-music", "--music-volume", "-3"])
    assert (parsed.no_music, parsed.music, parsed.music_volume) == (True, None, -3.0)
    with pytest.raises(SystemExit):
        main(["--assets-dir", "x", "--music", "a.mp3", "--no-music"])
    assert "give --music FILE or --no-music, not both" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--assets-dir", "x", "--music-volume", "12"])
    assert "--music-volume: " in capsys.readouterr().err


def test_no_zoom_and_zoom_flags_parse() -> None:
    parser = build_parser()
    assert parser.parse_args(["--assets-dir", "x", "--zoom"]).zoom is True
    assert parser.parse_args(["--assets-dir", "x", "--zoom", "--no-zoom"]).zoom is False
    assert parser.parse_args(["--assets-dir", "x"]).zoom is False


# --- failure ------------------------------------------------------------------------------------


def test_bad_story_exits_non_zero_with_one_line_naming_part_and_file(make_story, api_url) -> None:
    story = make_story({1: ["One."], 2: ["Two."]})
    (story / "2" / "1.txt").write_text("  \n", encoding="utf-8")
    earlier = b"the video from last week"
    (story / "video.mp4").write_bytes(earlier)

    done = run_cli("--assets-dir", str(story), *TINY, api_url=api_url)
    assert done.returncode != 0
    assert last_line(done.stderr) == "error: story is not valid: part 2: 2/1.txt is empty"
    assert done.stdout.strip() == ""
    assert (story / "video.mp4").read_bytes() == earlier
    assert outputs_in(story) == ["video.mp4"]


def test_a_server_running_on_the_local_port_is_used_instead_of_a_temporary_one(
    make_story, api_url
) -> None:
    """No PREFECT_API_URL, but a Prefect server where `prefect server start` puts one: the run
    reports to it (and says so) instead of starting a temporary server."""
    from prefect.client.orchestration import get_client

    story = make_story({1: ["Found a server."]})
    port = int(api_url.rsplit(":", 1)[1].split("/")[0])
    done = run_cli("--assets-dir", str(story), *TINY, local_port=port)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"using the Prefect server running at http://127.0.0.1:{port}/api" in done.stderr
    assert "temporary server" not in done.stderr.lower()
    with get_client(sync_client=True) as client:
        names = {run.name for run in client.read_flow_runs()}
    assert any(name.startswith(f"video-{story.name}-en-") for name in names), names


def test_no_server_failure_ends_stderr_with_the_reason(make_story) -> None:
    story = make_story({1: ["One."]})
    (story / "1" / "image.png").unlink()
    done = run_cli("--assets-dir", str(story), *TINY)
    assert done.returncode != 0
    assert "starting a temporary one for this run" in done.stderr  # nothing on the local port
    assert "error: story is not valid: part 1: no image in 1/" in done.stderr
    assert last_line(done.stderr).startswith("error: story is not valid: part 1: no image")


def test_an_odd_width_is_rejected_before_anything_runs(make_story) -> None:
    story = make_story({1: ["One."]})
    done = run_cli("--assets-dir", str(story), "--width", "161")
    assert done.returncode != 0
    line = last_line(done.stderr)
    assert "error:" in line and re.search(r"width.*multiple of 2", line), line
    assert outputs_in(story) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--preset", "warp-speed"], "preset"),
        (["--height", "100000"], "height"),
        (["--fps", "0"], "fps"),
        (["--crf", "52"], "crf"),
        (["--tts", "polly"], "--tts"),
        (["--language", "en us"], "--language: 'en us' is not a language tag"),
        (["--language", "xx"], "--language: no narration engine speaks 'xx'"),
        ([], "give either --assets-dir DIR or a CREATION_ID"),
    ],
    ids=[
        "unknown preset",
        "huge height",
        "zero fps",
        "crf over 51",
        "unknown engine",
        "bad language",
        "unknown language",
        "no source",
    ],
)
def test_option_errors_name_the_option(make_story, capsys, args, expected) -> None:
    story = make_story({1: ["One."]})
    source = ["--assets-dir", str(story)] if args else []
    with pytest.raises(SystemExit) as exited:
        main([*source, *args])
    assert exited.value.code != 0
    line = last_line(capsys.readouterr().err)
    assert "error:" in line and expected in line, line
    assert outputs_in(story) == []


def test_out_must_name_an_mp4(make_story, prefect_harness, capsys, tmp_path) -> None:
    story = make_story({1: ["One."]})
    code = main(["--assets-dir", str(story), *TINY, "--out", str(tmp_path / "film.mov")])
    assert code != 0
    line = last_line(capsys.readouterr().err)
    assert line == f"error: --out {tmp_path / 'film.mov'} must name an .mp4 file", line
    assert outputs_in(story) == [] and list(tmp_path.glob("film.*")) == []


@pytest.mark.parametrize("taken", ["videos", "film.mp4", "film.srt"])
def test_an_out_taken_by_a_folder_is_refused_before_rendering(
    make_story, prefect_harness, capsys, tmp_path, monkeypatch, taken
) -> None:
    """`--out` naming a folder, or an output name beside it that is a folder: refused in the
    user's words before any part renders (no finished part is kept), and nothing is written."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    story = make_story({1: ["One."]})
    (tmp_path / taken).mkdir()
    out = tmp_path / ("videos" if taken == "videos" else "film.mp4")
    code = main(["--assets-dir", str(story), *TINY, "--out", str(out)])
    assert code != 0
    line = last_line(capsys.readouterr().err)
    if taken != "film.srt":
        assert line == f"error: --out {out} is a folder; give a file name ending in .mp4", line
    else:
        assert line == (
            f"error: {tmp_path / taken} is a folder; move it away or choose another --out"
        ), line
    assert outputs_in(story) == []
    assert {path.name for path in tmp_path.iterdir()} - {"cache"} == {taken, "story"}
    assert not list((tmp_path / "cache").rglob("part.json"))  # no part was rendered


def test_a_language_the_engine_cannot_speak_stops_the_run_before_it_renders(
    make_story, prefect_harness, capsys
) -> None:
    story = make_story({1: ["One."]})
    code = main(["--assets-dir", str(story), *TINY, "--tts", "espeak", "--language", "jv"])
    assert code != 0
    line = last_line(capsys.readouterr().err)
    assert line.startswith("error: espeak-ng cannot speak Javanese ('jv')"), line
    assert "gtts" in line
    assert outputs_in(story) == []


def test_a_creation_id_that_is_not_a_uuid_is_refused(prefect_harness, capsys) -> None:
    code = main(["../../etc", *TINY])
    assert code != 0
    line = last_line(capsys.readouterr().err)
    assert line.startswith("error: creation id '../../etc' is not a UUID"), line


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--out", "{tmp}/film.mov"], "error: --out {tmp}/film.mov must name an .mp4 file"),
        (["not-a-uuid"], "error: creation id 'not-a-uuid' is not a UUID"),
    ],
    ids=["out not mp4", "id not uuid"],
)
def test_the_reason_is_the_last_line_of_stderr_in_a_real_process(
    make_story, api_url, tmp_path, args, reason
) -> None:
    """Prefect sends its events and logs from background threads; whatever they print must come
    before the reason, never after it."""
    story = make_story({1: ["One."]})
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    source = [] if not args[0].startswith("--") else ["--assets-dir", str(story)]
    done = run_cli(*source, *args, *TINY, api_url=api_url)
    assert done.returncode == 1
    line = done.stderr.rstrip("\n").splitlines()[-1]
    assert line.startswith(reason.replace("{tmp}", str(tmp_path))), done.stderr[-1500:]
