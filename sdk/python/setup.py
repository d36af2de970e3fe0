"""Build step: generate `gantry.v1` (protobuf messages and gRPC stubs) from the protos with grpcio-tools, into the
build directory only. The generated modules are never committed; `python -m gantry._codegen --check` fails when
installed ones differ from what the protos produce.

The protos are the repository's `proto/` when building from `sdk/python`; the source distribution carries a copy in
its own `proto/`, so that it builds anywhere (scripts/python-sdist-test builds one outside the repository)."""

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).parent.resolve()


def load_codegen():
    # Loaded by path: importing the `gantry` package would need the modules this step generates.
    spec = importlib.util.spec_from_file_location("gantry_codegen", HERE / "src" / "gantry" / "_codegen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithStubs(build_py):
    def run(self):
        super().run()
        codegen = load_codegen()
        codegen.generate(codegen.find_proto_dir(HERE), Path(self.build_lib))


class SdistWithProtos(sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        codegen = load_codegen()
        source = codegen.find_proto_dir(HERE)
        target = Path(base_dir) / "proto" / codegen.PACKAGE_DIR
        target.mkdir(parents=True, exist_ok=True)
        for path in codegen.proto_files(source):
            shutil.copyfile(path, target / path.name)


def dependencies():
    # Generated code refuses to import with a grpcio or protobuf older than the generator's.
    import tempfile
    from importlib.metadata import version

    codegen = load_codegen()
    with tempfile.TemporaryDirectory() as scratch:
        codegen.generate(codegen.find_proto_dir(HERE), Path(scratch))
        protobuf = codegen.generated_protobuf_version(Path(scratch) / codegen.PACKAGE_DIR)
    return [f"grpcio>={version('grpcio-tools')}", f"protobuf>={protobuf}" if protobuf else "protobuf"]


setup(cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithProtos}, install_requires=dependencies())
