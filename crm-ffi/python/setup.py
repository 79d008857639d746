"""Build step of the crm-core Python package.

`pip install ./crm-ffi/python` runs this: it builds the C ABI library of the
Rust workspace (`cargo build -p crm-ffi`, the crate one directory up) and
puts `libcrm_ffi.so` (`.dylib` on macOS, `crm_ffi.dll` on Windows) inside
the `crm_core` package, which loads it with ctypes. Needs `cargo` on PATH.

The build uses cargo's release profile. `CRM_CORE_CARGO_PROFILE=dev` builds
the debug profile instead (CI does, to reuse the library its C tests
already built); `CARGO_TARGET_DIR` is honoured as cargo honours it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1 ships it in the wheel package
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
CRATE = HERE.parent  # crm-ffi/
WORKSPACE = CRATE.parent


def library_name() -> str:
    if sys.platform == "darwin":
        return "libcrm_ffi.dylib"
    if sys.platform == "win32":
        return "crm_ffi.dll"
    return "libcrm_ffi.so"


def target_dir() -> Path:
    configured = os.environ.get("CARGO_TARGET_DIR")
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else WORKSPACE / path
    return WORKSPACE / "target"


def build_library() -> Path:
    manifest = CRATE / "Cargo.toml"
    if not manifest.is_file():
        raise SystemExit(
            f"crm-core: the Rust crate is not at {manifest}. Build the package from "
            "the source tree (pip install ./crm-ffi/python), not from a copy of "
            "crm-ffi/python alone."
        )
    cargo = shutil.which(os.environ.get("CARGO", "cargo"))
    if cargo is None:
        raise SystemExit(
            "crm-core: cargo is not on PATH; install a Rust toolchain (rustup) to build it."
        )
    profile = os.environ.get("CRM_CORE_CARGO_PROFILE", "release")
    if profile not in ("release", "dev"):
        raise SystemExit(
            f"crm-core: CRM_CORE_CARGO_PROFILE={profile!r}; use 'release' or 'dev'."
        )
    cmd = [cargo, "build", "--locked", "--manifest-path", str(manifest), "-p", "crm-ffi",
           "--lib", "--profile", profile]
    print("crm-core: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=WORKSPACE)
    built = target_dir() / ("release" if profile == "release" else "debug") / library_name()
    if not built.is_file():
        raise SystemExit(f"crm-core: cargo finished but {built} does not exist")
    return built


class BuildWithCargo(build_py):
    """build_py that also builds the Rust library and copies it in."""

    def run(self) -> None:
        super().run()
        library = build_library()
        destination = Path(self.build_lib) / "crm_core" / library_name()
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library, destination)


class BinaryDistribution(Distribution):
    """The package holds a native library: its wheel is platform-specific."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    """One wheel per platform for every Python 3: the library is loaded with
    ctypes, so it does not depend on the interpreter's ABI."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    distclass=BinaryDistribution,
    cmdclass={"build_py": BuildWithCargo, "bdist_wheel": PlatformWheel},
)
