"""Sources, `sets`, offline compilation and the version: no GPU needed."""

import ctypes
import os

from . import _capi, _library
from ._errors import LacError

__all__ = ["compile_ptx", "version", "normalize_sets", "split_source"]


def normalize_sets(sets):
    """`sets` as a list of "NAME=VALUE" strings (as `lac compile --set`):
    None, a dict {NAME: VALUE}, one string, or an iterable of strings."""
    if sets is None:
        return []
    if isinstance(sets, dict):
        items = [f"{name}={value}" for name, value in sets.items()]
    elif isinstance(sets, str):
        items = [sets]
    else:
        items = list(sets)
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise ValueError(f"lac: a set must be 'NAME=VALUE', got {item!r}")
    return items


def _is_path(path_or_text):
    if isinstance(path_or_text, os.PathLike):
        return True
    if isinstance(path_or_text, str):
        return "\n" not in path_or_text and "{" not in path_or_text
    if isinstance(path_or_text, (bytes, bytearray)):
        return False
    raise TypeError(f"lac: expected a path or .la source text, got {type(path_or_text).__name__}")


def split_source(path_or_text, name=None):
    """(path, None) for a file path, or (name, text bytes) for source text.
    Text is a str holding a newline or a brace, or bytes; anything else is
    a path. `name` names source text in diagnostics ("<string>")."""
    if _is_path(path_or_text):
        return os.fspath(path_or_text), None
    text = path_or_text.encode() if isinstance(path_or_text, str) else bytes(path_or_text)
    return name or "<string>", text


def _read(path_or_text, name):
    where, text = split_source(path_or_text, name)
    if text is None:
        with open(where, "rb") as f:
            text = f.read()
        where = name or where
    return where, text


def compile_ptx(path_or_text, arch="sm_90a", sets=None, name=None):
    """The PTX of the forward kernels of a .la file or source text for
    `arch` ("sm_80", "sm_90", "sm_90a"), at the configuration that the tile
    settings among `sets` give (else the default). Needs no GPU.

    Raises LacError (status LAC_ERR_SOURCE or LAC_ERR_UNSUPPORTED, the
    diagnostics with file:line:col as its message) for a source lac rejects.
    """
    where, text = _read(path_or_text, name)
    array, count = _capi.string_array(normalize_sets(sets))
    ptx = ctypes.c_void_p()
    _library.call("lac_compile_ptx", where.encode(), text, len(text), arch.encode(), array, count,
                  ctypes.byref(ptx))
    if not ptx.value:
        raise LacError("lac_compile_ptx returned LAC_OK and no PTX", "LAC_ERR_INTERNAL", 11, "lac_compile_ptx")
    try:
        return ctypes.string_at(ptx.value).decode()
    finally:
        _library.free(ptx)


def version():
    """The version of liblac ("0.1.0")."""
    return _library.function("lac_version")().decode()
