"""Checks deploy/ against the Kubernetes schemas and against the project itself (run by scripts/check-deploy, which
makes the virtualenv with PyYAML, kubernetes-validate and kubectl, and runs yamllint first).

- Every kustomization under deploy/kubernetes is rendered with `kubectl kustomize` and each resource validated
  against the Kubernetes schemas (kubernetes-validate, strict: unknown fields fail) for each version in
  KUBERNETES_VERSIONS; custom resources go to the CRD validator (scripts/crd-validate) or are skipped with the reason.
- deploy/compose.yaml: `docker compose config -q` where a Docker Compose plugin answers, and always a structural
  check (services, dependencies, build files, mounted files, named volumes).
- The Dockerfiles: every COPY source exists, `cargo build` names a workspace package and a binary of it, ENTRYPOINT
  and CMD are that binary and a subcommand of it.
- Every GANTRY_* variable named anywhere in deploy/ is one that `gantry server --help` or `gantry migrate --help`
  prints (clap's `[env: GANTRY_X=...]`).
- Every docker command in deploy/README.md names files that exist; the Grafana dashboard's queries parse as PromQL
  and name only metrics the server exports.

Each problem is printed as `check-deploy: FILE: what is wrong`; the exit status is 1 if there was any.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"

# Kubernetes versions the manifests must be valid for: an older one still in wide use and the newest with schemas.
KUBERNETES_VERSIONS = ["1.31.0", "1.37.0"]

# The metrics the server exports: every name docs/METRICS.md documents in its tables. Histograms are queried through
# _bucket, _sum and _count.
METRICS = set(re.findall(r"^\| `(gantry_[a-z_]+)` \|", (ROOT / "docs" / "METRICS.md").read_text(), re.MULTILINE))

VARIABLE = re.compile(r"\bGANTRY_[A-Z][A-Z0-9_]*")
HELP_ENV = re.compile(r"\[env: (GANTRY_[A-Z0-9_]+)[=\]]")


@dataclass
class Report:
    """The problems found, and what was checked (printed at the end)."""

    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def problem(self, where: Path | str, text: str) -> None:
        self.problems.append(f"{relative(where)}: {text}")

    def ok(self, text: str) -> None:
        self.checked.append(text)


def relative(path: Path | str) -> str:
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# --- Kubernetes


def kustomizations() -> list[Path]:
    """Every directory under deploy/kubernetes with a kustomization.yaml, base and overlays alike."""
    return sorted(path.parent for path in (DEPLOY / "kubernetes").rglob("kustomization.yaml"))


def render(kubectl: str, directory: Path) -> list[dict]:
    """The resources `kubectl kustomize` renders from a kustomization."""
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"kubectl kustomize exited {result.returncode}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def is_builtin(resource: dict) -> bool:
    """Whether a resource's kind is one of Kubernetes' own (its group has no dot, or is a k8s.io group)."""
    api_version = resource.get("apiVersion", "")
    group = api_version.split("/")[0] if "/" in api_version else ""
    return "." not in group or group.endswith(".k8s.io")


def check_kubernetes(report: Report, kubectl: str, crd_validator: list[str] | None, crd_skip_reason: str) -> None:
    import kubernetes_validate

    custom: list[dict] = []
    for directory in kustomizations():
        source = relative(directory)
        try:
            resources = render(kubectl, directory)
        except RuntimeError as error:
            report.problem(directory, f"kubectl kustomize failed: {error}")
            continue
        if not resources:
            report.problem(directory, "renders no resources")
        for resource in resources:
            name = f"{resource.get('kind')} {resource.get('metadata', {}).get('name')}"
            if not is_builtin(resource):
                custom.append({"source": source, "resource": resource})
                continue
            for version in KUBERNETES_VERSIONS:
                try:
                    kubernetes_validate.validate(resource, version, strict=True)
                except kubernetes_validate.ValidationError as error:
                    path = "/".join(str(part) for part in error.path)
                    report.problem(directory, f"{name} invalid for Kubernetes {version} at {path}: {error.message}")
                except kubernetes_validate.SchemaNotFoundError as error:
                    report.problem(directory, f"{name}: no Kubernetes {version} schema ({error})")
        check_shutdown_grace(report, directory, resources)
        versions = ", ".join(KUBERNETES_VERSIONS)
        report.ok(f"{source}: {len(resources)} resources rendered and validated (Kubernetes {versions})")
    kinds = sorted({f"{c['resource']['apiVersion']} {c['resource']['kind']}" for c in custom})
    if not custom:
        return
    if crd_validator is None:
        report.ok(f"SKIPPED {len(custom)} custom resources ({', '.join(kinds)}): {crd_skip_reason}")
        return
    result = subprocess.run(crd_validator, input=json.dumps(custom), capture_output=True, text=True)
    for line in result.stdout.splitlines():
        if "INVALID" in line or "no schema" in line:
            report.problems.append(line)
    if result.returncode != 0 and not any("INVALID" in p or "no schema" in p for p in report.problems):
        report.problems.append(f"the CRD validator failed: {result.stderr.strip()}")
    if result.returncode == 0:
        report.ok(f"{len(custom)} custom resources valid against their CRDs' schemas ({', '.join(kinds)})")


def duration_seconds(text: str) -> float | None:
    """Seconds of a simple duration (`30s`, `1m`, `1m30s`, `500ms`, `45`); None for anything else."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        return None
    return sum(float(n) * units[u] for n, u in parts)


def check_shutdown_grace(report: Report, directory: Path, resources: list[dict]) -> None:
    """The kubelet's grace period must be longer than the server's own, or the drain is cut short by SIGKILL."""
    config = {}
    for resource in resources:
        if resource.get("kind") == "ConfigMap":
            config.update(resource.get("data") or {})
    grace = duration_seconds(config.get("GANTRY_SHUTDOWN_GRACE", "30s"))
    for resource in resources:
        if resource.get("kind") != "Deployment":
            continue
        pod = resource["spec"]["template"]["spec"]
        images = [c.get("image", "") for c in pod.get("containers", [])]
        if not any(image.split("/")[-1].split(":")[0] == "gantry" for image in images):
            continue
        period = pod.get("terminationGracePeriodSeconds", 30)
        if grace is None or period <= grace:
            report.problem(
                directory,
                f"Deployment {resource['metadata']['name']}: terminationGracePeriodSeconds {period} must exceed "
                f"GANTRY_SHUTDOWN_GRACE ({config.get('GANTRY_SHUTDOWN_GRACE')})",
            )


# --- Compose


def check_compose(report: Report, path: Path) -> None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        result = subprocess.run([docker, "compose", "-f", str(path), "config", "-q"], capture_output=True, text=True)
        if result.returncode != 0:
            report.problem(path, f"docker compose config: {result.stderr.strip()}")
        else:
            report.ok(f"{relative(path)}: docker compose config -q")
    else:
        report.ok(f"{relative(path)}: no Docker Compose plugin here, so not `docker compose config`; structure checked")
    for problem in compose_problems(path):
        report.problem(path, problem)


def compose_problems(path: Path) -> list[str]:
    """What is wrong with a compose file's structure: unknown dependencies and conditions, missing build files and
    mounted files, undeclared named volumes, services without an image or a build."""
    problems = []
    data = yaml.safe_load(path.read_text())
    base = path.parent
    services = data.get("services") or {}
    volumes = set((data.get("volumes") or {}).keys())
    if not services:
        problems.append("no services")
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        if "image" not in service and "build" not in service:
            problems.append(f"service {name}: neither image nor build")
        build = service.get("build")
        if isinstance(build, dict):
            context = (base / build.get("context", ".")).resolve()
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not context.is_dir():
                problems.append(f"service {name}: build context {build.get('context')} does not exist")
            if not dockerfile.is_file():
                problems.append(f"service {name}: dockerfile {build.get('dockerfile')} does not exist")
        depends = service.get("depends_on") or {}
        items = depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends)
        for dependency, how in items:
            if dependency not in services:
                problems.append(f"service {name}: depends on unknown service {dependency}")
            condition = (how or {}).get("condition", "service_started")
            if condition not in conditions:
                problems.append(f"service {name}: unknown condition {condition} on {dependency}")
            if condition == "service_healthy" and "healthcheck" not in services.get(dependency, {}):
                problems.append(f"service {name}: waits for {dependency} to be healthy, which has no healthcheck")
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source", "")
            if source.startswith((".", "/")):
                if not (base / source).exists():
                    problems.append(f"service {name}: mounts {source}, which does not exist")
            elif source not in volumes:
                problems.append(f"service {name}: named volume {source} is not declared under volumes")
        for port in service.get("ports") or []:
            if not re.fullmatch(r"(\d+\.\d+\.\d+\.\d+:)?\d+:\d+(/(tcp|udp))?", str(port)):
                problems.append(f"service {name}: port {port!r} is not host:container")
    return problems


# --- Dockerfiles


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        current += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
            current = ""
    return instructions


def cargo_targets() -> dict[str, set[str]]:
    """The workspace's packages and their binaries (`cargo metadata --no-deps`)."""
    result = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--locked"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {
        package["name"]: {t["name"] for t in package["targets"] if "bin" in t["kind"]}
        for package in json.loads(result.stdout)["packages"]
    }


def dockerfile_problems(path: Path, context: Path, packages: dict[str, set[str]], subcommands: set[str]) -> list[str]:
    """What in a Dockerfile does not match the project: COPY sources, the cargo command, ENTRYPOINT and CMD."""
    problems = []
    instructions = dockerfile_instructions(path)
    built_binaries: set[str] = set()
    entrypoint: list[str] = []
    for word, rest in instructions:
        if word == "COPY":
            parts = [p for p in shlex.split(rest) if not p.startswith("--")]
            if "--from=" in rest:
                continue
            for source in parts[:-1]:
                if not (context / source).exists():
                    problems.append(f"COPY {source}: no such file in the build context ({relative(context)})")
        if word == "RUN" and "cargo build" in rest:
            words = shlex.split(rest.replace("&&", " && "))
            index = words.index("build")
            command = words[index:words.index("&&", index)] if "&&" in words[index:] else words[index:]
            for flag, value in zip(command, command[1:]):
                if flag in ("-p", "--package") and value not in packages:
                    problems.append(f"cargo build -p {value}: no such workspace package")
                if flag == "--bin":
                    built_binaries.add(value)
                    owners = [p for p in command if p in packages]
                    if not any(value in packages[owner] for owner in owners):
                        named = ", ".join(owners) or "the packages named"
                        problems.append(f"cargo build --bin {value}: not a binary of {named}")
            if "--locked" not in command:
                problems.append("cargo build without --locked")
            if "--release" not in command:
                problems.append("cargo build without --release")
        if word == "ENTRYPOINT":
            entrypoint = json.loads(rest)
        if word == "CMD" and built_binaries:
            command = json.loads(rest)
            if command and command[0] not in subcommands:
                problems.append(f"CMD {command}: {command[0]} is not a subcommand of gantry")
        if word == "USER" and rest.split(":")[0] in ("root", "0"):
            problems.append("runs as root")
    if built_binaries and entrypoint and entrypoint[0] not in built_binaries:
        problems.append(f"ENTRYPOINT {entrypoint}: not the binary built ({', '.join(sorted(built_binaries))})")
    if not any(word == "USER" for word, _ in instructions):
        problems.append("no USER: the image would run as root")
    return problems


def check_dockerfiles(report: Report, subcommands: set[str]) -> None:
    packages = cargo_targets()
    for path in sorted((DEPLOY / "docker").glob("*.Dockerfile")):
        for problem in dockerfile_problems(path, ROOT, packages, subcommands):
            report.problem(path, problem)
        report.ok(f"{relative(path)}: COPY sources, cargo package and binary, entrypoint")
    # The Python worker's ENTRYPOINT runs the example it copies, as seed.py's own usage says.
    worker = DEPLOY / "docker" / "python-worker.Dockerfile"
    if worker.exists():
        copied = [shlex.split(rest) for word, rest in dockerfile_instructions(worker) if word == "COPY"]
        targets = {parts[-1] for parts in copied}
        entry = next((json.loads(rest) for word, rest in dockerfile_instructions(worker) if word == "ENTRYPOINT"), [])
        if len(entry) < 2 or entry[1] not in targets:
            report.problem(worker, f"ENTRYPOINT {entry} does not run a file the image copies ({sorted(targets)})")


# --- Variables, README, dashboard


def known_variables(gantry: str) -> tuple[set[str], set[str]]:
    """The GANTRY_* variables of `gantry server` and `gantry migrate`, and gantry's subcommands."""
    names = set()
    for subcommand in ("server", "migrate"):
        text = subprocess.run([gantry, subcommand, "--help"], capture_output=True, text=True, check=True).stdout
        names |= set(HELP_ENV.findall(text))
    top = subprocess.run([gantry, "--help"], capture_output=True, text=True, check=True).stdout
    commands = set(re.findall(r"^  ([a-z][a-z-]+)\s", top.split("Commands:")[1].split("Options:")[0], re.MULTILINE))
    return names, commands


def variables_in_deploy() -> dict[str, set[str]]:
    """Every GANTRY_* name in deploy/'s text files, with the files naming it."""
    found: dict[str, set[str]] = {}
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or path.suffix in (".png", ".svg"):
            continue
        for name in VARIABLE.findall(path.read_text(errors="replace")):
            found.setdefault(name, set()).add(relative(path))
    return found


def check_variables(report: Report, known: set[str]) -> None:
    for name, files in sorted(variables_in_deploy().items()):
        if name in known:
            continue
        report.problem(sorted(files)[0], f"{name} is not a variable of `gantry server` or `gantry migrate` (also in: "
                       f"{', '.join(sorted(files))})")
    report.ok(f"GANTRY_* variables in deploy/ are gantry's ({len(known)} known)")


def readme_docker_problems(readme: Path) -> list[str]:
    """Files named by the docker commands of a README (run from the repository's root) that do not exist."""
    problems = []
    for line in readme.read_text().splitlines():
        line = line.strip().lstrip("$ ").strip("`")
        if not re.match(r"^docker( compose| build| run)\b", line):
            continue
        words = shlex.split(line.split("#")[0])
        for flag, value in zip(words, words[1:]):
            if flag in ("-f", "--file") and not (ROOT / value).exists():
                problems.append(f"`{line}`: {value} does not exist")
        if words[1] == "build" and not (ROOT / words[-1]).is_dir():
            problems.append(f"`{line}`: build context {words[-1]} is not a directory")
    return problems


def grafana_to_promql(expr: str) -> str:
    """A Grafana query as Prometheus would get it: its variables replaced by values of their kind."""
    return expr.replace("$__rate_interval", "1m").replace("$instance", ".*").replace("$queue", ".*")


def dashboard_problems(path: Path) -> list[str]:
    """A dashboard's panels with duplicate ids, queries that are not PromQL (promql-parser, the parser of the Rust
    promql-parser crate), or queries of metrics the server does not export."""
    import promql_parser

    problems = []
    dashboard = json.loads(path.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    if len(ids) != len(set(ids)):
        problems.append("duplicate panel ids")
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            try:
                promql_parser.parse(grafana_to_promql(target["expr"]))
            except ValueError as error:
                problems.append(f"panel {panel['title']!r}: not PromQL ({error}): {target['expr']}")
            for metric in re.findall(r"\bgantry_[a-z_]+", target["expr"]):
                base = re.sub(r"_(bucket|sum|count)$", "", metric)
                if metric not in METRICS and base not in METRICS:
                    problems.append(f"panel {panel['title']!r}: {metric} is not a metric of the server")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gantry", required=True, help="the gantry binary built from this checkout")
    parser.add_argument("--kubectl", required=True, help="kubectl, for `kubectl kustomize`")
    parser.add_argument("--crd-validator", help="command validating custom resources (scripts/crd-validate)")
    parser.add_argument("--crd-skip-reason", default="no CRD validator")
    args = parser.parse_args()

    report = Report()
    known, subcommands = known_variables(args.gantry)
    crd_validator = shlex.split(args.crd_validator) if args.crd_validator else None
    check_kubernetes(report, args.kubectl, crd_validator, args.crd_skip_reason)
    check_compose(report, DEPLOY / "compose.yaml")
    check_dockerfiles(report, subcommands)
    check_variables(report, known)
    readme = DEPLOY / "README.md"
    for problem in readme_docker_problems(readme):
        report.problem(readme, problem)
    report.ok(f"{relative(readme)}: docker commands name existing files")
    dashboard = DEPLOY / "grafana" / "gantry-dashboard.json"
    for problem in dashboard_problems(dashboard):
        report.problem(dashboard, problem)
    report.ok(f"{relative(dashboard)}: queries parse as PromQL and name only the server's metrics")

    for line in report.checked:
        print(f"check-deploy: {line}", file=sys.stderr)
    for line in report.problems:
        print(f"check-deploy: {line}", file=sys.stderr)
    if report.problems:
        print(f"check-deploy: {len(report.problems)} problem(s)", file=sys.stderr)
        return 1
    print("check-deploy: deploy/ is consistent with the project", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
