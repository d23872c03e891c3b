"""scripts/check, which scripts/test.sh (the README's test command, and so CI) runs before the
tests: clean code passes, and each of its four tools fails it on a finding of its own.

Run on a small tree laid out like this repository (its pyproject.toml, its scripts/check, this
virtualenv), so the findings are planted there and not in the real code.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent

CLEAN = '''"""A module that every check accepts."""


def double(value: int) -> int:
    return value * 2
'''


def tree(root: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "check", root / "scripts" / "check")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / ".venv").symlink_to(VENV)
    for package in ("flows", "tasks", "services", "api", "tests", "bench"):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    (root / "services" / "clean.py").write_text(CLEAN)
    for module in contract_modules():  # the import rules name them: empty stand-ins
        path = root.joinpath(*module.split("."))
        for folder in [*reversed(path.parents[: len(module.split(".")) - 1])]:
            folder.mkdir(exist_ok=True)
            (folder / "__init__.py").touch()
        path.with_suffix(".py").touch()
    return root


def contract_modules() -> set[str]:
    """The project's modules the import contracts name (not external packages, not wildcards),
    and two tasks to plant a forbidden import between."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    roots = tuple(config["root_packages"])
    named: set[str] = {"tasks.stage_one", "tasks.stage_two"}
    for contract in config["contracts"]:
        for key in ("source_modules", "forbidden_modules", "modules"):
            named.update(
                module
                for module in contract.get(key, [])
                if module.split(".")[0] in roots and "*" not in module and "." in module
            )
    return named


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/check"], cwd=root, capture_output=True, text=True, timeout=300
    )


def test_check_passes_clean_code_and_fails_on_each_tool_s_findings(tmp_path: Path) -> None:
    root = tree(tmp_path / "repo")
    clean = check(root)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    # One finding for each tool: a noqa that suppresses nothing (ruff's RUF100), code that is
    # not formatted, a type error, and a task importing another task.
    (root / "tasks" / "lint.py").write_text('NAME = "x"  # noqa: E501\n')
    (root / "api" / "layout.py").write_text("VALUES = [1,2,  3]\n")
    (root / "flows" / "types.py").write_text('COUNT: int = "three"\n')
    (root / "tasks" / "stage_two.py").write_text("from tasks import stage_one\n\nstage_one\n")
    found = check(root)
    assert found.returncode == 1
    report = found.stdout + found.stderr
    assert "RUF100" in report and "tasks/lint.py" in report
    assert "api/layout.py" in report
    assert "flows/types.py" in report and "incompatible types" in report.lower()
    assert "no task imports another BROKEN" in report
    assert "tasks.stage_two is not allowed to import tasks.stage_one" in report
    assert found.stderr.splitlines()[-4:] == [
        "check: failed: ruff check",
        "check: failed: ruff format (run .venv/bin/ruff format .)",
        "check: failed: mypy",
        "check: failed: import rules (lint-imports)",
    ]
