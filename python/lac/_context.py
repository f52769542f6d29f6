"""One lac context per CUDA device, created on first use and kept for the
life of the process (variants of it may live until the interpreter exits,
and a context must outlive its variants)."""

import ctypes
import sys
import threading

from . import _capi, _library

__all__ = ["context", "device_index", "device_info"]

_lock = threading.Lock()
_contexts = {}  # device ordinal -> lac_context * (c_void_p)


def context(device):
    """The lac context of CUDA device `device` (an int), created once."""
    with _lock:
        cx = _contexts.get(device)
        if cx is None:
            cx = ctypes.c_void_p()
            options = _capi.ContextOptions(device=device)  # the rest zero: defaults and $LAC_*
            _library.call("lac_context_create", ctypes.byref(options), ctypes.byref(cx))
            _contexts[device] = cx
        return cx


def _default_device():
    """torch's current CUDA device when torch is already imported and sees a
    GPU, else 0 (torch is not imported for this)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.current_device()
    return 0


def device_index(device):
    """The CUDA ordinal of `device`: None (the default device), an int,
    "cuda" or "cuda:N", or a torch.device of type cuda."""
    if device is None:
        return _default_device()
    if isinstance(device, int):
        if device < 0:
            raise ValueError(f"lac: bad CUDA device ordinal {device}")
        return device
    kind, index = getattr(device, "type", None), getattr(device, "index", None)
    if kind is None and isinstance(device, str):
        kind, _, number = device.partition(":")
        index = int(number) if number.isdigit() else None
        if number and index is None:
            raise ValueError(f"lac: bad device {device!r}")
    if kind != "cuda":
        raise ValueError(f"lac: device {device!r} is not a CUDA device")
    return _default_device() if index is None else index


def device_info(device=None):
    """What lac knows about a CUDA device: a dict with name, cc (major,
    minor), sm_count, driver_version, arch (the PTX target) and cache_dir."""
    info = _capi.DeviceInfo()
    _library.call("lac_context_device", context(device_index(device)), ctypes.byref(info))
    return {
        "name": info.name.decode(),
        "cc": (info.cc_major, info.cc_minor),
        "sm_count": info.sm_count,
        "driver_version": info.driver_version,
        "arch": info.arch.decode(),
        "cache_dir": info.cache_dir.decode(),
    }
