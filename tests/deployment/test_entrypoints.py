"""Wiring: every deployment in prefect.yaml names a flow that loads, with parameters that validate,
on a work pool of the right type, with steps whose functions exist and accept their arguments."""

from __future__ import annotations

import importlib
import inspect
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = CONFIG["deployments"]
# CONTRACTS.md: deployment -> work pool type.
EXPECTED = {"generate-video/cloud-run": "cloud-run-v2", "generate-video/local": "process"}


def load_flow(entrypoint: str):
    """The flow as a worker loads it: by file path and function name, from the project root."""
    from prefect.flows import load_flow_from_entrypoint

    path, _, function = entrypoint.partition(":")
    assert (ROOT / path).is_file(), f"{entrypoint}: no file {path}"
    return load_flow_from_entrypoint(f"{ROOT / path}:{function}")


def makefile_pools() -> dict[str, str]:
    """Pool names the make targets create, keyed by work pool type."""
    text = (ROOT / "deployments" / "Makefile").read_text(encoding="utf-8")
    names = dict(re.findall(r"^(\w+_POOL) := (\S+)$", text, flags=re.MULTILINE))
    return {"process": names["LOCAL_POOL"], "cloud-run-v2": names["CLOUD_POOL"]}


def test_prefect_yaml_declares_the_deployments_of_the_contract() -> None:
    names = {f"{load_flow(entry['entrypoint']).name}/{entry['name']}" for entry in DEPLOYMENTS}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("entry", DEPLOYMENTS, ids=lambda entry: entry["name"])
def test_deployment_flow_loads_and_its_parameters_validate(entry: dict[str, Any]) -> None:
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools import validate

    flow = load_flow(entry["entrypoint"])
    assert flow.name == "generate-video"
    defaults = entry.get("parameters") or {}
    schema = parameter_schema(flow).model_dump_for_openapi()

    # The server checks parameters against the schema (enforce_parameter_schema), then the flow
    # validates them into its types; a run adds the creation id to the deployment's defaults.
    assert entry.get("enforce_parameter_schema") is True
    run_parameters = {**defaults, "creation_id": str(uuid.uuid4())}
    validate(run_parameters, schema, raise_on_error=True, ignore_required=False)
    validated = flow.validate_parameters(run_parameters)
    options = validated["options"]
    for field, value in defaults.get("options", {}).items():
        assert getattr(options, field) == value

    # A typo in the defaults would be caught, not silently ignored.
    broken = {"options": {**defaults.get("options", {}), "preset": "warp-speed"}}
    with pytest.raises(Exception, match="preset"):
        flow.validate_parameters(broken)


@pytest.mark.parametrize("entry", DEPLOYMENTS, ids=lambda entry: entry["name"])
def test_deployment_goes_to_a_pool_of_the_contracted_type(entry: dict[str, Any]) -> None:
    pool_type = EXPECTED[f"generate-video/{entry['name']}"]
    assert entry["work_pool"]["name"] == makefile_pools()[pool_type]


@pytest.mark.parametrize("entry", DEPLOYMENTS, ids=lambda entry: entry["name"])
def test_every_step_names_a_function_that_takes_its_arguments(entry: dict[str, Any]) -> None:
    steps = [
        step
        for section in ("build", "push", "pull")
        for step in (entry.get(section) or CONFIG.get(section) or [])
    ]
    for step in steps:
        [(path, arguments)] = step.items()
        module_name, _, function_name = path.rpartition(".")
        arguments = {k: v for k, v in arguments.items() if k not in ("id", "requires")}
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            # Installed on demand by `prefect deploy` from the step's `requires`.
            assert step[path]["requires"].startswith(module_name.split(".")[0].replace("_", "-"))
            continue
        signature = inspect.signature(getattr(module, function_name))
        signature.bind(**arguments)


def test_cloud_run_deployment_builds_pushes_and_moves_into_the_image_code() -> None:
    [entry] = [e for e in DEPLOYMENTS if e["name"] == "cloud-run"]
    assert entry["work_pool"]["job_variables"]["image"] == "{{ build-image.image }}"
    [pull] = entry["pull"]
    assert pull == {"prefect.deployments.steps.set_working_directory": {"directory": "/app"}}
    # Runs wait on the work pool's limit (deployments/Makefile), not a deployment limit whose
    # waiting runs are re-scheduled 30 s later each time.
    assert "concurrency_limit" not in entry
    assert entry["tags"]


def test_local_deployment_builds_nothing() -> None:
    [entry] = [e for e in DEPLOYMENTS if e["name"] == "local"]
    assert entry["build"] == [] and entry["push"] == []
    assert "build" not in CONFIG and "push" not in CONFIG and "pull" not in CONFIG
