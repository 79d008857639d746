"""Loads the C ABI library shipped inside the package and declares its
functions for ctypes. Internal: use :func:`crm_core.open`."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path
from typing import Optional

__all__ = ["Library", "load"]


def _library_file() -> Path:
    here = Path(__file__).resolve().parent
    if sys.platform == "darwin":
        name = "libcrm_ffi.dylib"
    elif sys.platform == "win32":
        name = "crm_ffi.dll"
    else:
        name = "libcrm_ffi.so"
    return here / name


class Library:
    """The loaded library and the optional functions it has."""

    def __init__(self, path: Path) -> None:
        lib = ctypes.CDLL(str(path))
        engine_p = ctypes.c_void_p
        lib.crm_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(engine_p)]
        lib.crm_open.restype = ctypes.c_int
        lib.crm_close.argtypes = [engine_p]
        lib.crm_close.restype = None
        # The response is a library-owned char* that we must free: take it as
        # a void* so ctypes does not copy it and lose the pointer.
        lib.crm_call.argtypes = [engine_p, ctypes.c_char_p, ctypes.c_char_p,
                                 ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.crm_call.restype = ctypes.c_int
        lib.crm_string_free.argtypes = [ctypes.c_void_p]
        lib.crm_string_free.restype = None
        lib.crm_last_error.argtypes = []
        lib.crm_last_error.restype = ctypes.c_char_p
        lib.crm_version.argtypes = []
        lib.crm_version.restype = ctypes.c_char_p
        lib.crm_status_name.argtypes = [ctypes.c_int]
        lib.crm_status_name.restype = ctypes.c_char_p
        # Newer symbols: used when the library has them.
        self.has_error_json = hasattr(lib, "crm_last_error_json")
        if self.has_error_json:
            lib.crm_last_error_json.argtypes = []
            lib.crm_last_error_json.restype = ctypes.c_char_p
        self.has_version_number = hasattr(lib, "crm_version_number")
        if self.has_version_number:
            lib.crm_version_number.argtypes = []
            lib.crm_version_number.restype = ctypes.c_uint32
        self.path = path
        self.lib = lib

    def version(self) -> str:
        return bytes(self.lib.crm_version()).decode()

    def status_name(self, status: int) -> str:
        return bytes(self.lib.crm_status_name(status)).decode()

    def last_error(self) -> str:
        return bytes(self.lib.crm_last_error()).decode("utf-8", "replace")

    def last_error_json(self) -> Optional[str]:
        """The structured form of this thread's last error, when the library
        offers it (``crm_last_error_json``, library-owned like
        ``crm_last_error``)."""
        if not self.has_error_json:
            return None
        raw = self.lib.crm_last_error_json()
        return None if raw is None else bytes(raw).decode("utf-8", "replace")


_loaded: Optional[Library] = None


def load() -> Library:
    """The package's library, loaded once."""
    global _loaded
    if _loaded is None:
        path = _library_file()
        if not path.is_file():
            raise ImportError(
                f"crm_core: the native library {path.name} is missing from {path.parent}; "
                "reinstall the package with `pip install ./crm-ffi/python` from the source tree"
            )
        _loaded = Library(path)
    return _loaded
