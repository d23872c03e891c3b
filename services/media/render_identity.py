"""What decides a render besides its inputs and options: the project code the render stages run,
and the native tools that draw and encode. Both are in every render cache key
(services/storage/part_store.py), so a deploy that changes either never re-uses a stale part.

The code is found by construction, not listed by hand: starting from the stage modules, every
project module they import (at any depth, inside functions too, found by reading the source with
`ast`) is hashed, with the packages whose `__init__` runs on the way. A module added to the render
is in the key as soon as a stage imports it. Over-counting (a module imported only for a type)
costs a needless re-render after a change there, never a stale part.

The native tools: ffmpeg (its version banner, and the x264 build, read from what it writes into a
one-frame encode), Pango, cairo and HarfBuzz (asked through their C interface), ImageMagick (from
Wand), and the installed fonts fontconfig picks fallback glyphs from (path and size of each). The
caption font itself is hashed by its bytes in the part key.

Everything is computed once per process (the ffmpeg binary and the root it was asked for are part
of the cache's key: tests point `FFMPEG_BINARY` elsewhere).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from services.media import ffmpeg

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("services", "tasks")
# The stages that make a part (its pages, narration and clip; the title card's) and those that
# join a story.
PART_STAGES = ("tasks.captions", "tasks.narration", "tasks.clips", "tasks.title")
STORY_STAGES = ("tasks.soundtrack", "tasks.assembly")


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The source file of a project module or package, or None when `name` is not one."""
    if name.split(".")[0] not in PROJECT_PACKAGES:
        return None
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports_of(name: str, source: Path, root: Path) -> set[str]:
    """The project modules `source` imports (at any depth of its code), with their packages."""
    package = name if source.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_bytes(), str(source))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            # `from package import module` imports the module too
            found.update(f"{base}.{alias.name}" for alias in node.names)
    modules = {module for module in found if module_file(module, root) is not None}
    return modules | {parent for module in modules for parent in _packages_of(module)}


def _packages_of(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:depth]) for depth in range(1, len(parts))]


def code_modules(stages: Iterable[str], root: Path = ROOT) -> dict[str, Path]:
    """Every project module the stages import, directly or not, and the stages: name -> file."""
    pending = [*stages]
    seen: dict[str, Path] = {}
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        source = module_file(name, root)
        if source is None:
            raise ValueError(f"{name} is not a module of this project (under {root})")
        seen[name] = source
        pending.extend(_packages_of(name))
        pending.extend(_imports_of(name, source, root) - seen.keys())
    return dict(sorted(seen.items()))


@lru_cache(maxsize=8)
def code_digest(stages: tuple[str, ...], root: Path = ROOT) -> str:
    """sha256 over the name and source of every module in `code_modules(stages)`."""
    digest = hashlib.sha256()
    for name, source in code_modules(stages, root).items():
        code = source.read_bytes()
        digest.update(f"{name}\0{len(code)}\0".encode())
        digest.update(code)
    return digest.hexdigest()


def tool_versions() -> dict[str, str]:
    """The native tools that draw and encode, by name: version strings and the font set."""
    return _tool_versions(ffmpeg.binary("FFMPEG_BINARY", "ffmpeg"))


@lru_cache(maxsize=4)
def _tool_versions(ffmpeg_binary: str) -> dict[str, str]:
    from wand.version import MAGICK_VERSION

    from services.media.native import library_versions

    return {
        **_ffmpeg_versions(ffmpeg_binary),
        **library_versions(),
        "imagemagick": MAGICK_VERSION,
        "fonts": _font_set_digest(),
    }


def _ffmpeg_versions(binary: str) -> dict[str, str]:
    """ffmpeg's banner (its version and its libraries') and the x264 build it encodes with.

    x264 names itself in every stream it writes (an SEI message, "x264 - core 164 r3095 ..."):
    the one-frame encode shows the library ffmpeg actually loads, whatever its package says."""
    completed = subprocess.run(
        [
            binary,
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            "color=size=16x16:duration=0.04",
            "-frames:v",
            "1",
            "-c:v",
            "libx264",
            "-f",
            "h264",
            "-",
        ],
        capture_output=True,
        check=False,
    )
    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise ffmpeg.FfmpegError(
            f"asking {binary} for its version failed (exit {completed.returncode}): "
            + " | ".join(tail)
        )
    banner = completed.stderr.decode("utf-8", "replace").splitlines()
    libraries = [line.strip() for line in banner if line.strip().startswith("lib")]
    x264 = completed.stdout.partition(b"x264 - ")[2].partition(b" - ")[0]
    return {
        "ffmpeg": banner[0] if banner else "",
        "ffmpeg_libraries": " ".join(" ".join(line.split()) for line in libraries),
        "x264": x264.decode("ascii", "replace") or "unknown",
    }


def _font_set_digest() -> str:
    """The installed fonts fontconfig chooses fallback glyphs from: each file's path and size."""
    listing = shutil.which("fc-list")
    if listing is None:
        return "no fontconfig"
    completed = subprocess.run(
        [listing, "--format", "%{file}\n"], capture_output=True, text=True, check=False
    )
    files = sorted(set(completed.stdout.split("\n")) - {""})
    sizes = [f"{path}:{os.stat(path).st_size if os.path.exists(path) else -1}" for path in files]
    return hashlib.sha256("\n".join(sizes).encode()).hexdigest()


def render_identity(stages: tuple[str, ...]) -> str:
    """One string for a cache key: the stages' code and the native tools' versions."""
    return json.dumps(
        {"code": code_digest(stages), "tools": tool_versions()}, sort_keys=True, ensure_ascii=False
    )
