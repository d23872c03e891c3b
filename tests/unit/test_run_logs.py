"""The run log's filters (flows/run_logs.py) on Prefect's run loggers, as a handler sees them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from flows.run_logs import InputError, configure_run_logging, is_user_error
from flows.run_report import artifact_slug
from services.storage.base import StorageError
from services.story.model import StoryError


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(levelname)s %(message)s").format(record))


@pytest.fixture
def seen() -> Iterator[tuple[Collect, logging.Logger, logging.Logger]]:
    configure_run_logging()
    collect = Collect()
    flows, tasks = logging.getLogger("prefect.flow_runs"), logging.getLogger("prefect.task_runs")
    levels = [flows.level, tasks.level]
    for logger in (flows, tasks):
        logger.addHandler(collect)
        logger.setLevel(logging.INFO)  # as Prefect's logging setup leaves them
    yield collect, flows, tasks
    for logger, level in zip((flows, tasks), levels, strict=True):
        logger.removeHandler(collect)
        logger.setLevel(level)


def failing(error: BaseException, logger: logging.Logger) -> None:
    try:
        raise error
    except BaseException as raised:
        logger.exception("Encountered exception during execution: %r", raised)


def test_completed_tasks_are_quiet_and_failed_ones_are_not(seen) -> None:
    collect, flows, tasks = seen
    tasks.info("Finished in state Completed()")
    tasks.error("Finished in state Failed('Task run encountered an exception')")
    flows.info("Finished in state Completed()")  # the run's own end stays
    assert collect.lines == [
        "ERROR Finished in state Failed('Task run encountered an exception')",
        "INFO Finished in state Completed()",
    ]


def test_a_story_problem_is_one_line_and_a_bug_keeps_its_traceback(seen) -> None:
    collect, flows, _ = seen
    failing(StoryError(["part 2: 1.txt is empty"]), flows)
    failing(KeyError("frames"), flows)
    story, bug = collect.lines
    assert story == "ERROR run stopped: story is not valid: part 2: 1.txt is empty"
    assert bug.startswith("ERROR Encountered exception during execution: KeyError('frames')")
    assert "Traceback (most recent call last)" in bug


def test_which_errors_are_the_users() -> None:
    from google.auth.exceptions import DefaultCredentialsError

    assert is_user_error(StoryError(["x"]))
    assert is_user_error(InputError("nothing to render"))
    assert is_user_error(StorageError("no bucket", transient=False))
    assert is_user_error(DefaultCredentialsError("Your default credentials were not found"))
    assert not is_user_error(KeyError("frames"))
    assert not is_user_error(ValueError("a bug's ValueError"))


def test_artifact_keys_are_what_prefect_allows() -> None:
    creation = "6D49A9C0-57ab-403d-af55-c02ad3dfcd70"
    assert artifact_slug(creation, None) == creation.lower()
    assert artifact_slug(None, "/stories/Lighthouse Cat_2/") == "lighthouse-cat-2"
    assert artifact_slug(None, "/stories/Ünïcode!/") == "n-code"
    assert artifact_slug(None, None) == "no-story"
    assert len(artifact_slug(None, "x" * 200)) == 60
