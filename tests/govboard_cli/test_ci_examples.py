"""The CI guide works as written: ``docs/ci/github-actions.yml`` runs, step by step, against
a live server, and every ``govboard`` call in both examples parses with the real CLI.

The workflow's ``run:`` scripts are taken from the parsed YAML and run with ``bash -e`` (as
GitHub runs them) in a temporary workspace, in order, with ``GITHUB_OUTPUT`` a file per
step and the ``${{ … }}`` expressions resolved from a small context (``github``, ``vars``,
``secrets``, ``inputs``, ``steps.<id>.outputs``, ``needs.<job>.outputs``). ``$GOVBOARD`` is
the YAML's own value, ``python3 -m govboard_cli``, where the test vendors the
``govboard_cli/`` folder at the workspace's root as the guide says, and ``python3`` is a
fresh Python with nothing installed (as on a bare runner: no Django, no Celery). Steps
that build things (``make adapter``, ``pip install …``, ``make provenance``, ``make
deploy``) are not run: the test writes what they would produce at the paths the YAML names
(provenance DSSE-signed with the test CI key, registered as a trusted signing key). Rename
a flag, a path or a step id in the YAML and this test fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

import govboard_cli as cli
from approvals import services as approval_services
from approvals.models import PromotionRequest
from registry.models import Deployment, ModelVersion, VersionDataset
from tests.approvals.factories import (
    SAMPLES,
    board_policy,
    provenance_statement,
    signed_provenance,
)
from tests.govboard_cli.support import vendor_client
from tests.registry.factories import PASSWORD, UserFactory, approver

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "ci"
GITHUB_WORKFLOW = DOCS / "github-actions.yml"
GITLAB_PIPELINE = DOCS / "gitlab-ci.yml"
GUIDE = DOCS / "README.md"

RUN_NUMBER = "7"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# The workflow's `if:` conditions, evaluated by hand. A condition that is not in this table
# fails the test: someone changed the workflow's logic and must look at it here.
CONDITIONS: dict[str, Callable[[Callable[[str], str]], bool]] = {
    "!inputs.version_id": lambda value: not value("inputs.version_id"),
    "always() && (inputs.version_id || needs.register.outputs.gate == 'approved')": (
        lambda value: (
            bool(value("inputs.version_id")) or value("needs.register.outputs.gate") == "approved"
        )
    ),
}


# ---------------------------------------------------------------------- the workflow runner
@dataclass
class StepResult:
    job: str
    name: str
    step_id: str | None
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Workflow:
    """A literal runner for the `run:` steps of one GitHub Actions workflow file."""

    document: dict[str, Any]
    workspace: Path
    context: dict[str, Any]
    # What the test wrote in place of the build steps' output, by the path the YAML names.
    stand_ins: dict[str, Path] = field(default_factory=dict)
    # The interpreter the steps find as `python3` (first on their PATH).
    python: Path = field(default_factory=lambda: Path(sys.executable))
    # Called before the step with this id runs (the board signing while CI waits, say).
    before_step: dict[str, Callable[[], None]] = field(default_factory=dict)
    results: list[StepResult] = field(default_factory=list)
    skipped_build_steps: list[str] = field(default_factory=list)
    jobs_run: list[str] = field(default_factory=list)

    def value(self, path: str) -> str:
        """A dotted context path; an unset input or step output is "" as on GitHub, but
        a step or job that does not exist is an error (a renamed id)."""
        node: Any = self.context
        parts = path.split(".")
        for index, part in enumerate(parts):
            if not isinstance(node, dict):
                raise AssertionError(f"${{{{ {path} }}}}: {'.'.join(parts[:index])} is a value")
            if part not in node:
                if parts[0] == "inputs" or (index == 3 and parts[0] in ("steps", "needs")):
                    return ""
                raise AssertionError(f"${{{{ {path} }}}} names nothing ({part!r} is unknown)")
            node = node[part]
        return "" if node is None else str(node)

    def evaluate(self, expression: str) -> str:
        # `a || b`: the first non-empty operand. Anything else must be a plain path.
        for operand in expression.split("||"):
            operand = operand.strip()
            if not re.fullmatch(r"[A-Za-z_][\w-]*(\.[\w-]+)+", operand):
                raise AssertionError(f"unsupported expression ${{{{ {expression} }}}}")
            if found := self.value(operand):
                return found
        return ""

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda match: self.evaluate(match.group(1)), str(text))

    def condition(self, text: str | None) -> bool:
        if text is None:
            return True
        match = EXPRESSION.fullmatch(str(text).strip())
        expression = match.group(1) if match else str(text).strip()
        if expression not in CONDITIONS:
            raise AssertionError(f"no evaluation in CONDITIONS for `if: {text}`")
        return CONDITIONS[expression](self.evaluate)

    def run(self) -> None:
        self.context.setdefault("needs", {})
        for job_name, job in self.document["jobs"].items():
            needs = job.get("needs") or []
            for needed in [needs] if isinstance(needs, str) else needs:
                assert needed in self.context["needs"], f"{job_name} needs {needed} first"
            if not self.condition(job.get("if")):
                self.context["needs"][job_name] = {"outputs": {}, "result": "skipped"}
                continue
            self.jobs_run.append(job_name)
            # Every step id of the job is known (a step that did not run has no outputs).
            self.context["steps"] = {
                step["id"]: {"outputs": {}} for step in job["steps"] if "id" in step
            }
            passed = self._run_job(job_name, job)
            outputs = {
                name: self.substitute(expression)
                for name, expression in (job.get("outputs") or {}).items()
            }
            self.context["needs"][job_name] = {
                "outputs": outputs,
                "result": "success" if passed else "failure",
            }

    def _run_job(self, job_name: str, job: dict[str, Any]) -> bool:
        env = {**self._scoped(self.document.get("env")), **self._scoped(job.get("env"))}
        for index, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or f"step {index}"
            if "uses" in step:
                continue  # actions/checkout, setup-python, upload-artifact: not ours to run
            script = str(step["run"])
            if "$GOVBOARD" not in script:
                self.skipped_build_steps.append(script)  # stood in for by the test's files
                continue
            if step.get("id") in self.before_step:
                self.before_step[step["id"]]()
            result = self._run_step(job_name, name, step, script, env)
            self.results.append(result)
            if result.returncode != 0:
                return False
        return True

    def _scoped(self, variables: dict[str, Any] | None) -> dict[str, str]:
        return {key: self.substitute(value) for key, value in (variables or {}).items()}

    def _run_step(
        self, job: str, name: str, step: dict[str, Any], script: str, env: dict[str, str]
    ) -> StepResult:
        output_file = self.workspace.parent / f"github-output-{len(self.results)}"
        output_file.write_text("")
        script_file = self.workspace.parent / f"step-{len(self.results)}.sh"
        script_file.write_text(self.substitute(script))
        step_env = {
            "PATH": f"{self.python.parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.workspace.parent),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_SHA": self.context["github"]["sha"],
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(output_file),
            **env,
            **self._scoped(step.get("env")),
        }
        completed = subprocess.run(
            ["bash", "-e", str(script_file)],  # GitHub's default `run` shell on Linux
            cwd=self.workspace,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if step.get("id"):
            self.context["steps"][step["id"]] = {"outputs": _read_outputs(output_file)}
        return StepResult(
            job, name, step.get("id"), completed.returncode, completed.stdout, completed.stderr
        )

    def step(self, step_id: str) -> StepResult:
        found = [result for result in self.results if result.step_id == step_id]
        assert found, f"step {step_id} did not run; ran: {[r.name for r in self.results]}"
        return found[-1]


def _read_outputs(path: Path) -> dict[str, str]:
    outputs = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        assert "=" in line and "<<" not in line.split("=", 1)[0], f"unsupported output {line!r}"
        key, value = line.split("=", 1)
        outputs[key] = value
    return outputs


# ---------------------------------------------------------------------- the stand-ins
def _guide_metadata_example() -> dict[str, Any]:
    """The `--metadata` example of docs/ci/README.md, verbatim."""
    blocks = re.findall(r"```json\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    assert blocks, "docs/ci/README.md lost its --metadata example"
    return json.loads(blocks[0])


def _write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def _build_outputs(
    workspace: Path, *, dependency_scan: str, sign_provenance: bool
) -> dict[str, Path]:
    """What `make adapter`, the evidence tools and `make provenance` would leave behind,
    plus the repository files the workflow reads (its metadata file and lock file)."""
    artifact = _write(workspace / "dist" / "adapter.safetensors", b"support-lora weights")
    checksum = hashlib.sha256(artifact.read_bytes()).hexdigest()
    eval_package = json.loads((SAMPLES / "eval-passing.json").read_bytes())
    eval_package["checkpoint_id"] = checksum
    built = {
        "dist/adapter.safetensors": artifact,
        "evidence/sbom.cdx.json": (SAMPLES / "sbom-cyclonedx-1.6.json").read_bytes(),
        "evidence/artifact-scan.json": (
            SAMPLES / "artifacts" / "modelscan-report-benign.json"
        ).read_bytes(),
        "evidence/dependency-scan.json": (SAMPLES / dependency_scan).read_bytes(),
        "evidence/eval-package.json": json.dumps(eval_package),
        # One line (it is a .jsonl file): the DSSE envelope, signed by the trusted CI key.
        "evidence/provenance.intoto.jsonl": json.dumps(
            signed_provenance(checksum) if sign_provenance else provenance_statement(checksum)
        )
        + "\n",
    }
    paths = {}
    for relative, content in built.items():
        paths[relative] = (
            content if isinstance(content, Path) else _write(workspace / relative, content)
        )
    _write(workspace / "model" / "govboard.json", json.dumps(_guide_metadata_example()))
    _write(workspace / "uv.lock", "version = 1\n")
    vendor_client(workspace)
    return paths


# ---------------------------------------------------------------------- fixtures
@pytest.fixture
def release(ci, tmp_path, bare_python) -> Iterator[Callable[..., Workflow]]:
    """The team set up as docs/ci/README.md says, and a factory of workflow runs."""
    if shutil.which("jq") is None:
        pytest.skip("the example workflow uses jq, which is not installed here")
    UserFactory(username="root", is_superuser=True)
    out = StringIO()
    call_command(
        "create_service_account", "ci-release", "--team", "assistants", "--admin", "root",
        stdout=out,
    )  # fmt: skip
    token = out.getvalue().strip().splitlines()[-1]
    board_policy(ci.team)  # the team's board: platform, product and security sign

    def make(
        *, dependency_scan: str = "pip-audit-clean.json", sign_provenance: bool = True
    ) -> Workflow:
        workspace = tmp_path / "workspace"
        return Workflow(
            document=yaml.safe_load(GITHUB_WORKFLOW.read_text()),
            workspace=workspace,
            python=bare_python,
            stand_ins=_build_outputs(
                workspace, dependency_scan=dependency_scan, sign_provenance=sign_provenance
            ),
            context={
                "github": {"run_number": RUN_NUMBER, "sha": "c0ffee" * 6 + "c0ff"},
                "vars": {"GOVBOARD_URL": ci.url},
                "secrets": {"GOVBOARD_TOKEN": token, "PROVENANCE_SIGNING_KEY": "unused"},
                "inputs": {},
            },
        )

    yield make


def _board_signs() -> None:
    request = PromotionRequest.objects.get(state="in_review")
    for role in ("platform", "product", "security"):
        signer = approver(request.version.registered_model.team, role, username=f"{role}-lead")
        approval_services.signoff_record(
            actor=signer, request=request.pk, role=role, password=PASSWORD
        )


def _failure_report(workflow: Workflow) -> str:
    return "\n".join(
        f"--- {r.job} / {r.name}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        for r in workflow.results
    )


# ---------------------------------------------------------------------- the tests
def test_the_github_workflow_runs_as_written_from_register_to_the_recorded_deployment(release):
    workflow = release()
    workflow.before_step["wait"] = _board_signs  # the board signs while CI waits

    workflow.run()

    report = _failure_report(workflow)
    assert [r.returncode for r in workflow.results] == [0] * len(workflow.results), report
    assert workflow.jobs_run == ["register", "deploy"], report
    # The stand-ins are what the build steps name.
    built_text = "\n".join(workflow.skipped_build_steps)
    for relative in workflow.stand_ins:
        assert relative in built_text, f"no build step in the workflow produces {relative}"

    version = ModelVersion.objects.get(version=f"1.4.{RUN_NUMBER}")
    assert workflow.context["needs"]["register"]["outputs"]["version_id"] == str(version.pk)
    assert version.source_commit == workflow.context["github"]["sha"]
    uses = sorted(
        VersionDataset.objects.filter(model_version=version).values_list("use", flat=True)
    )
    assert uses == ["eval", "train"]

    promote = workflow.step("promote")
    request = json.loads((workflow.workspace / "request.json").read_text())
    assert request["state"] == "in_review", promote.stderr
    assert f"::notice::promotion request {request['id']} is in review" in promote.stdout
    assert all(check["passed"] for check in request["checks"]), request["checks"]

    assert workflow.context["needs"]["register"]["outputs"]["gate"] == "approved", report
    envelope = json.loads((workflow.workspace / "decision.dsse.json").read_text())
    assert envelope["payloadType"] and envelope["signatures"]
    deployment = Deployment.objects.get()
    assert (deployment.version_id, deployment.environment) == (version.pk, "production")


@pytest.mark.parametrize(
    ("spoiled", "failed_check"),
    [
        ({"dependency_scan": "trivy-vulnerable.json"}, "dependency_scan"),  # open critical CVEs
        ({"sign_provenance": False}, "artifact_checksum"),  # only the registrant's word
    ],
    ids=["critical-cve", "unsigned-provenance"],
)
def test_evidence_that_fails_a_check_stops_the_workflow_at_request_promotion(
    release, spoiled, failed_check
):
    workflow = release(**spoiled)

    workflow.run()

    promote = workflow.step("promote")
    assert promote.returncode == 1, _failure_report(workflow)
    # The case branch for exit 4 of `govboard request-promotion`, and the reasons on stderr.
    assert "::error::governance checks blocked the promotion" in promote.stdout
    assert f"  - {failed_check}: " in promote.stderr  # the reason, named by its check
    request = json.loads((workflow.workspace / "request.json").read_text())
    assert request["state"] == "changes_requested"
    assert [r.step_id for r in workflow.results][-1] == "promote"  # the job stopped there
    assert workflow.jobs_run == ["register"]
    assert ModelVersion.objects.get().state == "draft"
    assert Deployment.objects.count() == 0


# ---------------------------------------------------------------------- both examples parse
SHELL_OPERATORS = set("();<>|&")


def govboard_invocations(script: str) -> list[list[str]]:
    """The argument lists of every `$GOVBOARD …` call in a shell script; a value the
    shell would expand (`"$VERSION_ID"`, `"$(jq …)"`) stands in as 1."""
    calls = []
    for line in script.replace("\\\n", " ").splitlines():
        if "$GOVBOARD" not in line:
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        while "$GOVBOARD" in tokens:
            tokens = tokens[tokens.index("$GOVBOARD") + 1 :]
            args = []
            for token in tokens:
                if set(token) <= SHELL_OPERATORS:
                    break
                args.append("1" if "$" in token else token)
            calls.append(args)
    return calls


def _github_scripts() -> list[str]:
    document = yaml.safe_load(GITHUB_WORKFLOW.read_text())
    return [
        str(step["run"])
        for job in document["jobs"].values()
        for step in job["steps"]
        if "run" in step
    ]


def _gitlab_scripts() -> list[str]:
    document = yaml.safe_load(GITLAB_PIPELINE.read_text())
    scripts = []
    for name, job in document.items():
        if not isinstance(job, dict) or name in ("variables", "workflow"):
            continue
        for key in ("before_script", "script", "after_script"):
            scripts.extend(str(line) for line in job.get(key) or [])
    return scripts


@pytest.mark.parametrize(
    "scripts", [_github_scripts, _gitlab_scripts], ids=["github-actions", "gitlab-ci"]
)
def test_every_govboard_call_in_the_ci_examples_parses_with_the_cli(scripts, capsys):
    parser = cli.build_parser()
    calls = [call for script in scripts() for call in govboard_invocations(script)]
    used = set()
    for call in calls:
        try:
            args = parser.parse_args(call)
        except SystemExit:
            pytest.fail(f"govboard {shlex.join(call)}: {capsys.readouterr().err}")
        used.add(args.command)

    assert used >= {
        "register",
        "link-dataset",
        "upload-evidence",
        "request-promotion",
        "status",
        "decision",
        "record-deployment",
    }
    linked = [call for call in calls if call[0] == "link-dataset"]
    assert {call[call.index("--use") + 1] for call in linked} == {"train", "eval"}


def test_the_gitlab_example_branches_only_on_exit_codes_the_cli_has():
    document = yaml.safe_load(GITLAB_PIPELINE.read_text())
    codes = set()
    for job in document.values():
        if isinstance(job, dict):
            allow = job.get("allow_failure")
            codes |= set(allow.get("exit_codes", [])) if isinstance(allow, dict) else set()
            retry = job.get("retry")
            codes |= set(retry.get("exit_codes", [])) if isinstance(retry, dict) else set()
    assert codes and codes <= set(cli.EXIT_CODES)
    assert cli.EXIT_PENDING in codes and cli.EXIT_SERVER in codes


def test_the_guide_documents_every_command_and_names_only_real_ones():
    text = GUIDE.read_text()
    named = set(re.findall(r"^govboard ([a-z][a-z-]+)", text, flags=re.MULTILINE))

    assert named == set(cli.COMMANDS)
