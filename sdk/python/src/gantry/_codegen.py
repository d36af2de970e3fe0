"""Generation of the protobuf and gRPC modules (`gantry.v1`) from the IDL in `proto/`, and the check that installed
modules match what the protos produce.

Used by `setup.py` at build time and by `python -m gantry._codegen --check` (run by the tests). It must not import
the generated modules: it runs before they exist.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
import tempfile
from pathlib import Path

PACKAGE_DIR = Path("gantry") / "v1"
INIT_TEXT = '"""Generated from proto/gantry/v1 by grpcio-tools at build time; do not edit."""\n'


def find_proto_dir(start: Path) -> Path:
    """The directory holding `gantry/v1/*.proto`: `GANTRY_PROTO_DIR`, else `proto/` beside `start` or up to three
    levels above it (the repository's `proto/` when building from `sdk/python`)."""
    explicit = os.environ.get("GANTRY_PROTO_DIR")
    if explicit:
        candidate = Path(explicit)
        if not (candidate / PACKAGE_DIR).is_dir():
            raise FileNotFoundError(f"GANTRY_PROTO_DIR={explicit} has no gantry/v1 directory")
        return candidate.resolve()
    for base in [start, *list(start.parents)[:3]]:
        candidate = base / "proto"
        if (candidate / PACKAGE_DIR).is_dir():
            return candidate.resolve()
    raise FileNotFoundError(f"no proto/gantry/v1 found at or above {start}; set GANTRY_PROTO_DIR")


def proto_files(proto_dir: Path) -> list[Path]:
    files = sorted((proto_dir / PACKAGE_DIR).glob("*.proto"))
    if not files:
        raise FileNotFoundError(f"no .proto files in {proto_dir / PACKAGE_DIR}")
    return files


def generate(proto_dir: Path, out_dir: Path) -> list[Path]:
    """Runs grpcio-tools' protoc on every `gantry/v1/*.proto`, writing `gantry/v1/*_pb2.py`, `*_pb2.pyi`,
    `*_pb2_grpc.py` and `__init__.py` under `out_dir`. Returns the generated files."""
    import grpc_tools
    from grpc_tools import protoc

    # The well-known types (google/protobuf/timestamp.proto, ...) ship inside grpcio-tools.
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(path.relative_to(proto_dir)) for path in proto_files(proto_dir)],
    ]
    # protoc resolves the relative file names against the -I paths, not the working directory.
    status = protoc.main(args)
    if status != 0:
        raise RuntimeError(f"protoc failed with status {status} on {proto_dir}")
    package = out_dir / PACKAGE_DIR
    (package / "__init__.py").write_text(INIT_TEXT)
    return sorted(package.iterdir())


def generated_protobuf_version(package: Path) -> str | None:
    """The protobuf runtime version the generated modules ask for (`Protobuf Python Version: X.Y.Z`)."""
    for path in sorted(package.glob("*_pb2.py")):
        for line in path.read_text().splitlines()[:10]:
            marker = "# Protobuf Python Version:"
            if line.startswith(marker):
                return line[len(marker) :].strip()
    return None


def differences(expected: Path, actual: Path) -> list[str]:
    """How the generated package directory `actual` differs from `expected`, one line per file; empty if equal."""

    def names(directory: Path) -> set[str]:
        if not directory.is_dir():
            return set()
        return {p.name for p in directory.iterdir() if p.is_file() and p.suffix in (".py", ".pyi")}

    expected_names, actual_names = names(expected), names(actual)
    problems = [f"missing: {name}" for name in sorted(expected_names - actual_names)]
    problems += [f"unexpected: {name}" for name in sorted(actual_names - expected_names)]
    for name in sorted(expected_names & actual_names):
        if not filecmp.cmp(expected / name, actual / name, shallow=False):
            problems.append(f"differs: {name}")
    return problems


def check(proto_dir: Path, installed: Path) -> list[str]:
    """Regenerates from `proto_dir` into a temporary directory and compares with the installed `gantry/v1`."""
    with tempfile.TemporaryDirectory(prefix="gantry-stubs-") as scratch:
        generate(proto_dir, Path(scratch))
        return differences(Path(scratch) / PACKAGE_DIR, installed)


def installed_package_dir() -> Path:
    import gantry.v1

    return Path(gantry.v1.__file__).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gantry._codegen",
        description="Generate gantry.v1 from the protos, or check that the installed modules match them.",
    )
    parser.add_argument("--proto-dir", type=Path, help="directory holding gantry/v1/*.proto (default: found)")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="exit 1 if the installed modules differ from the protos")
    action.add_argument("--out", type=Path, help="generate into this directory")
    args = parser.parse_args(argv)
    proto_dir = args.proto_dir or find_proto_dir(Path.cwd())
    if args.out:
        for path in generate(proto_dir, args.out):
            print(path)
        return 0
    installed = installed_package_dir()
    problems = check(proto_dir, installed)
    if problems:
        print(f"installed gantry.v1 at {installed} does not match {proto_dir}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print("reinstall the SDK (scripts/python.sh) to regenerate", file=sys.stderr)
        return 1
    print(f"gantry.v1 matches {proto_dir} ({len(proto_files(proto_dir))} protos)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
