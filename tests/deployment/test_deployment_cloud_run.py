"""The Cloud Run job that the cloud-run-v2 worker would create for generate-video/cloud-run.

Built offline with prefect-gcp's own classes, from what we commit: the pool template as
`deployments/pool_template.py` fills it in, and the deployment's job variables from prefect.yaml
templated the way `prefect deploy` does (build step outputs in, `ctx.*` left for the worker).
No Prefect server, no GCP: Application Default Credentials are replaced by anonymous ones.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "demo-project"
BUCKET = "demo-creations"
TAG = "0123456789ab"
IMAGE = f"us-east1-docker.pkg.dev/{PROJECT}/story-video/story-video:{TAG}"
WORKER_API_URL = "https://prefect.internal.example/api"
# Cloud Run: a job name is 1-63 characters, lowercase letters, digits and hyphens, starting with a
# letter and not ending with a hyphen.
CLOUD_RUN_JOB_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def pool_template(**environ: str) -> dict[str, Any]:
    """The base job template exactly as `make cloud-pool` hands it to `prefect work-pool create`."""
    answer = subprocess.run(
        [sys.executable, str(ROOT / "deployments" / "pool_template.py")],
        env={"PATH": "/usr/bin:/bin", **environ},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(answer.stdout)


def deployment(name: str) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    [found] = [entry for entry in config["deployments"] if entry["name"] == name]
    return found


def deployed_job_variables(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """generate-video/cloud-run's job variables after `make deploy-cloud`: the build step's image
    name comes from the environment the Makefile exports, and its outputs fill the rest."""
    from prefect.utilities.templating import apply_values

    for name, value in {
        "GCP_PROJECT": PROJECT,
        "GCP_REGION": "us-east1",
        "AR_REPOSITORY": "story-video",
        "IMAGE_TAG": TAG,
    }.items():
        monkeypatch.setenv(name, value)
    config = deployment("cloud-run")
    [build] = config["build"]
    [(step_name, step)] = build.items()
    assert step_name == "prefect_docker.deployments.steps.build_docker_image"
    step = apply_values(step, {})
    # What prefect-docker's build step returns (image_name, tag, image).
    outputs = {
        step["id"]: {
            "image_name": step["image_name"],
            "tag": step["tag"],
            "image": f"{step['image_name']}:{step['tag']}",
        }
    }
    templated = apply_values(config["work_pool"], outputs, skip_prefixes=["ctx."])
    return templated["job_variables"]


def job_for_run(
    template: dict[str, Any],
    job_variables: dict[str, Any],
    parameters: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
):
    """prefect-gcp's job configuration, prepared for one flow run, as its worker does it."""
    from google.auth.credentials import AnonymousCredentials
    from prefect.client.schemas.objects import Flow, FlowRun
    from prefect.client.schemas.responses import DeploymentResponse
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect_gcp.workers.cloud_run_v2 import CloudRunWorkerJobV2Configuration

    monkeypatch.setattr(
        "google.auth.default", lambda *args, **kwargs: (AnonymousCredentials(), PROJECT)
    )
    flow = Flow(id=uuid.uuid4(), name="generate-video", labels={})
    deployed = DeploymentResponse(
        id=uuid.uuid4(),
        name="cloud-run",
        flow_id=flow.id,
        job_variables=job_variables,
        labels={},
    )
    # A fresh run is named at random; the flow renames it video-<creation_id> once it starts.
    flow_run = FlowRun(
        id=uuid.uuid4(),
        name="sparkling-otter",
        flow_id=flow.id,
        deployment_id=deployed.id,
        parameters=parameters,
    )
    # The worker copies its own Prefect settings into the job: this is how PREFECT_API_URL gets
    # there, so it must be an address Cloud Run can reach.
    with temporary_settings(updates={PREFECT_API_URL: WORKER_API_URL}):
        configuration = asyncio.run(
            CloudRunWorkerJobV2Configuration.from_template_and_values(
                base_job_template=template, values=job_variables
            )
        )
        configuration.prepare_for_flow_run(flow_run=flow_run, deployment=deployed, flow=flow)
    return configuration, flow_run


def container_env(job_body: dict[str, Any]) -> dict[str, str]:
    [container] = job_body["template"]["template"]["containers"]
    return {entry["name"]: entry["value"] for entry in container["env"]}


def test_the_job_carries_our_image_command_env_size_timeout_and_retries(monkeypatch) -> None:
    template = pool_template(GCP_PROJECT=PROJECT, CREATIONS_BUCKET=BUCKET)
    job_variables = deployed_job_variables(monkeypatch)
    creation_id = str(uuid.uuid4())
    configuration, flow_run = job_for_run(
        template, job_variables, {"creation_id": creation_id}, monkeypatch
    )

    body = configuration.job_body
    execution = body["template"]["template"]
    [container] = execution["containers"]
    assert container["image"] == IMAGE
    # The worker's command replaces the image's ENTRYPOINT; no arguments follow it.
    assert container["command"] == ["prefect", "flow-run", "execute"]
    assert not container.get("args")

    env = container_env(body)
    assert env["ENV"] == "p"
    assert env["CREATIONS_BUCKET"] == BUCKET
    assert env["PREFECT__FLOW_RUN_ID"] == str(flow_run.id)
    assert env["PREFECT_API_URL"] == WORKER_API_URL

    assert container["resources"]["limits"] == {"cpu": "4", "memory": "6Gi"}
    assert execution["timeout"] == "3600s"
    assert execution["maxRetries"] == 1
    assert execution["serviceAccount"] == f"story-video-render@{PROJECT}.iam.gserviceaccount.com"
    assert "vpcAccess" not in execution  # no connector unless one is configured
    assert configuration.region == "us-east1"
    assert configuration.project == PROJECT
    assert body["labels"]["prefect-io-flow-run-id"] == str(flow_run.id)

    # The job is named after the creation, not the run's random name, and Cloud Run accepts it.
    name = configuration.job_name
    assert name.startswith(f"video-{creation_id}-")
    assert len(name) <= 63
    assert CLOUD_RUN_JOB_NAME.match(name), name


def test_a_run_can_override_the_size_and_add_env_without_losing_the_defaults(monkeypatch) -> None:
    """run_deployment(job_variables=...) is merged over the deployment's, env key by key."""
    template = pool_template(GCP_PROJECT=PROJECT, CREATIONS_BUCKET=BUCKET)
    job_variables = {
        **deployed_job_variables(monkeypatch),
        "memory": "16Gi",
        "timeout": 7200,
        "env": {"TTS_ENGINE": "espeak"},
    }
    configuration, _ = job_for_run(
        template, job_variables, {"creation_id": str(uuid.uuid4())}, monkeypatch
    )
    execution = configuration.job_body["template"]["template"]
    env = container_env(configuration.job_body)
    assert env["TTS_ENGINE"] == "espeak"
    assert env["ENV"] == "p"
    assert env["CREATIONS_BUCKET"] == BUCKET  # the pool's, kept beside the run's own
    assert env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"  # the grace of the crash automation
    assert execution["containers"][0]["resources"]["limits"] == {"cpu": "4", "memory": "16Gi"}
    assert execution["timeout"] == "7200s"


def test_the_template_is_sized_for_rendering_within_cloud_run_limits() -> None:
    properties = pool_template(GCP_PROJECT=PROJECT, CREATIONS_BUCKET=BUCKET)["variables"][
        "properties"
    ]
    defaults = {name: spec.get("default") for name, spec in properties.items()}
    assert defaults["timeout"] > 600  # Cloud Run's and prefect-gcp's default kills long stories
    assert defaults["timeout"] <= 24 * 3600  # Cloud Run jobs: 24 h at most
    cpu = int(defaults["cpu"])
    assert cpu in (1, 2, 4, 6, 8)  # what Cloud Run jobs offer
    memory_gib = int(defaults["memory"].removesuffix("Gi"))
    assert {1: 0.5, 2: 1, 4: 2, 6: 4, 8: 4}[cpu] <= memory_gib <= 32  # Cloud Run's minimums
    assert 0 <= defaults["max_retries"] <= 10
    assert defaults["image"] is None  # never the stock Prefect image: it cannot render


def test_the_template_needs_a_project_and_names_what_is_missing() -> None:
    answer = subprocess.run(
        [sys.executable, str(ROOT / "deployments" / "pool_template.py")],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert answer.returncode != 0
    assert "GCP_PROJECT" in answer.stderr
