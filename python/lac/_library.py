"""Finding and loading liblac.so, and calling it.

The library is looked for, in order:
  1. $LAC_LIBRARY (a full path; when set, nothing else is tried);
  2. a liblac.so* next to the package, in lac/_lib/;
  3. the build folders of the repository the package sits in
     (build-ci/liblac.so, build/liblac.so, .dev/liblac.so.0);
  4. the system's search path (ctypes.util.find_library("lac"), then
     "liblac.so.0").
It is loaded on first use, so `import lac` works without it; a call then
raises LacError with status LAC_ERR_NO_LIBRARY.
"""

import ctypes
import ctypes.util
import os
import threading
from pathlib import Path

from . import _capi
from ._errors import NO_LIBRARY, STATUS_NAMES, LacError

__all__ = ["library", "function", "status_name", "check", "call", "free"]

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE_DIR.parent.parent
_REPO_BUILDS = ("build-ci/liblac.so", "build/liblac.so", ".dev/liblac.so.0")

_lock = threading.Lock()
_loaded = None  # the _Library once loaded


class _Library:
    """A loaded liblac.so with its functions bound on first use."""

    def __init__(self, cdll, path):
        self.cdll = cdll
        self.path = path
        self._functions = {}

    def function(self, name):
        fn = self._functions.get(name)
        if fn is None:
            fn = self._bind(name)
            self._functions[name] = fn
        return fn

    def _bind(self, name):
        try:
            fn = getattr(self.cdll, name)
        except AttributeError:
            raise LacError(f"{self.path} has no {name}: it predates this package (rebuild liblac.so, "
                           f"or point LAC_LIBRARY at a newer one)", NO_LIBRARY) from None
        fn.restype, fn.argtypes = _capi.PROTOTYPES[name]
        return fn


def _candidates():
    """The paths or names to try, in order (see the module docstring)."""
    env = os.environ.get("LAC_LIBRARY")
    if env:
        return [env]
    found = sorted(str(p) for p in (_PACKAGE_DIR / "_lib").glob("liblac.so*"))
    found += [str(_REPO_ROOT / rel) for rel in _REPO_BUILDS if (_REPO_ROOT / rel).exists()]
    system = ctypes.util.find_library("lac")
    if system:
        found.append(system)
    found.append("liblac.so.0")
    return found


def _load():
    tried = []
    for candidate in _candidates():
        try:
            return _Library(ctypes.CDLL(candidate), candidate)
        except OSError as e:
            tried.append(f"{candidate} ({e})")
    hint = ("LAC_LIBRARY is set but cannot be loaded" if os.environ.get("LAC_LIBRARY")
            else "set LAC_LIBRARY to its full path, or copy it into lac/_lib/")
    raise LacError(f"liblac.so not found: {hint}; tried: " + "; ".join(tried), NO_LIBRARY)


def library():
    """The loaded library (loading it on the first call); LacError if none."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _load()
        return _loaded


def function(name):
    """The ctypes function `name` of liblac, with its prototype."""
    return library().function(name)


def _text(ptr):
    return ptr.decode("utf-8", "replace") if ptr else ""


def status_name(code):
    try:
        name = _text(function("lac_status_name")(code))
    except LacError:
        name = ""
    return name or STATUS_NAMES.get(code, "LAC_STATUS_UNKNOWN")


def check(code, call):
    """Raise LacError for a lac_status other than LAC_OK, with the message of
    lac_last_error() (read on this thread, right after the failing call)."""
    if code == _capi.LAC_OK:
        return
    message = _text(function("lac_last_error")())
    raise LacError(message, status_name(code), code, call)


def call(name, *args):
    """Call the lac function `name` and check its status."""
    check(function(name)(*args), name)


_libc_free = None


def free(ptr):
    """free() of the C library, for the malloc'ed strings liblac returns."""
    global _libc_free
    if _libc_free is None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        libc.free.restype, libc.free.argtypes = None, [ctypes.c_void_p]
        _libc_free = libc.free
    _libc_free(ptr)
