"""Tests of scripts/check_deploy.py: each check passes on deploy/ as it is and fails on a broken copy.
Run by scripts/check-deploy (python scripts/check_deploy_test.py), with the virtualenv's PyYAML."""

from __future__ import annotations

import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_deploy as check  # noqa: E402

PACKAGES = {"gantry": {"gantry"}, "gantry-core": set()}
SUBCOMMANDS = {"server", "migrate"}


class Scratch:
    """A temporary directory with files written into it."""

    def __enter__(self) -> Path:
        self.directory = tempfile.TemporaryDirectory()
        return Path(self.directory.name)

    def __exit__(self, *exc: object) -> None:
        self.directory.cleanup()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


class DockerfileTest(unittest.TestCase):
    def test_the_server_dockerfile_matches_the_project(self) -> None:
        path = check.DEPLOY / "docker" / "server.Dockerfile"
        self.assertEqual(check.dockerfile_problems(path, check.ROOT, PACKAGES, SUBCOMMANDS), [])

    def test_the_python_worker_dockerfile_copies_what_exists(self) -> None:
        path = check.DEPLOY / "docker" / "python-worker.Dockerfile"
        self.assertEqual(check.dockerfile_problems(path, check.ROOT, PACKAGES, SUBCOMMANDS), [])

    def test_missing_sources_wrong_packages_binaries_and_commands_are_found(self) -> None:
        with Scratch() as root:
            write(root / "Cargo.toml", "")
            path = write(
                root / "x.Dockerfile",
                "FROM rust AS build\nCOPY Cargo.toml nowhere/ ./\n"
                "RUN cargo build --release --locked -p gantry-srv --bin gantryd \\\n    && cp x y\n"
                "FROM debian\nUSER 10001\nENTRYPOINT [\"gantryd\"]\nCMD [\"serve\"]\n",
            )
            problems = check.dockerfile_problems(path, root, PACKAGES, SUBCOMMANDS)
        self.assertIn("COPY nowhere/: no such file in the build context (" + str(root) + ")", problems)
        self.assertIn("cargo build -p gantry-srv: no such workspace package", problems)
        self.assertTrue(any(p.startswith("cargo build --bin gantryd: not a binary") for p in problems), problems)
        self.assertIn("CMD ['serve']: serve is not a subcommand of gantry", problems)

    def test_an_image_without_a_user_runs_as_root(self) -> None:
        with Scratch() as root:
            path = write(root / "x.Dockerfile", "FROM debian\nENTRYPOINT [\"true\"]\n")
            problems = check.dockerfile_problems(path, root, PACKAGES, SUBCOMMANDS)
        self.assertEqual(problems, ["no USER: the image would run as root"])


class ComposeTest(unittest.TestCase):
    def test_the_compose_file_is_consistent(self) -> None:
        self.assertEqual(check.compose_problems(check.DEPLOY / "compose.yaml"), [])

    def test_unknown_services_missing_files_and_volumes_are_found(self) -> None:
        with Scratch() as root:
            path = write(
                root / "compose.yaml",
                "services:\n"
                "  db:\n    image: postgres\n"
                "  app:\n    build: {context: ., dockerfile: missing.Dockerfile}\n"
                "    depends_on:\n      db: {condition: service_healthy}\n      cache: {condition: service_started}\n"
                "    volumes: [./missing.yml:/etc/x.yml, data:/data]\n"
                "    ports: ['80']\n",
            )
            problems = check.compose_problems(path)
        self.assertEqual(
            sorted(problems),
            sorted([
                "service app: dockerfile missing.Dockerfile does not exist",
                "service app: waits for db to be healthy, which has no healthcheck",
                "service app: depends on unknown service cache",
                "service app: mounts ./missing.yml, which does not exist",
                "service app: named volume data is not declared under volumes",
                "service app: port '80' is not host:container",
            ]),
        )  # fmt: skip


class ReadmeTest(unittest.TestCase):
    def test_the_readme_names_existing_files(self) -> None:
        self.assertEqual(check.readme_docker_problems(check.DEPLOY / "README.md"), [])

    def test_a_command_naming_a_missing_file_is_found(self) -> None:
        with Scratch() as root:
            readme = write(root / "README.md", "```sh\ndocker build -f deploy/docker/gone.Dockerfile -t x .\n```\n")
            problems = check.readme_docker_problems(readme)
        command = "docker build -f deploy/docker/gone.Dockerfile -t x ."
        self.assertEqual(problems, [f"`{command}`: deploy/docker/gone.Dockerfile does not exist"])


class DashboardTest(unittest.TestCase):
    def test_the_dashboard_queries_only_exported_metrics(self) -> None:
        self.assertEqual(check.dashboard_problems(check.DEPLOY / "grafana" / "gantry-dashboard.json"), [])

    def test_an_unknown_metric_is_found(self) -> None:
        dashboard = {"panels": [{"id": 1, "title": "t", "targets": [{"expr": "rate(gantry_rpc_requests_totl[5m])"}]},
                                {"id": 1, "title": "u", "targets": [{"expr": "gantry_ready_bucket"}]},
                                {"id": 2, "title": "v", "targets": [{"expr": "sum by (le (gantry_ready)"}]}]}
        with Scratch() as root:
            path = write(root / "d.json", json.dumps(dashboard))
            problems = check.dashboard_problems(path)
        self.assertEqual(
            problems,
            [
                "duplicate panel ids",
                "panel 't': gantry_rpc_requests_totl is not a metric of the server",
                "panel 'v': not PromQL (unclosed left parenthesis): sum by (le (gantry_ready)",
            ],
        )


class SmallPartsTest(unittest.TestCase):
    def test_clap_help_names_variables_with_and_without_values(self) -> None:
        text = "  --listen <LISTEN>  Address [env: GANTRY_LISTEN=] [default: 127.0.0.1:50051]\n" \
               "  --token <TOKEN>    Token [env: GANTRY_TOKEN]\n  --x  see GANTRY_NOT_AN_ENV\n"
        self.assertEqual(check.HELP_ENV.findall(text), ["GANTRY_LISTEN", "GANTRY_TOKEN"])

    def test_durations(self) -> None:
        self.assertEqual(check.duration_seconds("30s"), 30)
        self.assertEqual(check.duration_seconds("1m30s"), 90)
        self.assertEqual(check.duration_seconds("45"), 45)
        self.assertEqual(check.duration_seconds("500ms"), 0.5)
        self.assertIsNone(check.duration_seconds("soon"))

    def test_a_grace_period_below_the_shutdown_grace_is_found(self) -> None:
        resources = [
            {"kind": "ConfigMap", "data": {"GANTRY_SHUTDOWN_GRACE": "60s"}},
            {"kind": "Deployment", "metadata": {"name": "gantry"},
             "spec": {"template": {"spec": {"terminationGracePeriodSeconds": 45,
                                            "containers": [{"image": "registry.internal/gantry:1"}]}}}},
        ]  # fmt: skip
        report = check.Report()
        check.check_shutdown_grace(report, Path("x"), resources)
        self.assertEqual(len(report.problems), 1)
        self.assertIn("terminationGracePeriodSeconds 45 must exceed GANTRY_SHUTDOWN_GRACE (60s)", report.problems[0])

    def test_builtin_and_custom_kinds(self) -> None:
        self.assertTrue(check.is_builtin({"apiVersion": "v1"}))
        self.assertTrue(check.is_builtin({"apiVersion": "apps/v1"}))
        self.assertTrue(check.is_builtin({"apiVersion": "networking.k8s.io/v1"}))
        self.assertFalse(check.is_builtin({"apiVersion": "monitoring.coreos.com/v1"}))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=0).result
    run, failed = result.testsRun, len(result.failures) + len(result.errors)
    print(f"check_deploy_test: {run - failed} passed, {failed} failed", file=sys.stderr)
    sys.exit(1 if failed else 0)
