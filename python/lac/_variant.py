"""lac.load() and the Variant it returns: a .la variant, callable on torch
CUDA tensors. torch is imported only by the calls that need it (the
forward and the reference, in _torch.py)."""

import ctypes
import os
import threading
import weakref

from . import _capi, _library
from ._compile import normalize_sets, split_source
from ._context import context, device_index
from ._errors import LacError

__all__ = ["Record", "Variant", "load", "reference"]


class Record(dict):
    """A dict whose keys are also attributes (info.normalized)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def _dtype_name(code):
    try:
        name = _library.function("lac_dtype_name")(code)
    except LacError:
        name = None
    return name.decode() if name else _capi.DTYPE_NAMES.get(code, f"dtype{code}")


def _load_handle(cx, source, sets):
    """lac_variant_load(_source) of `source`, a (path, None) or (name, text)."""
    where, text = source
    array, count = _capi.string_array(sets)
    out = ctypes.c_void_p()
    if text is None:
        _library.call("lac_variant_load", cx, os.fsencode(where), array, count, ctypes.byref(out))
    else:
        _library.call("lac_variant_load_source", cx, where.encode(), text, len(text), array, count,
                      ctypes.byref(out))
    return out


def _read_input(handle, i):
    raw = _capi.InputInfo()
    _library.call("lac_variant_input", handle, i, ctypes.byref(raw))
    dims = tuple(_capi.DIM_NAMES.get(d, d) for d in raw.dims[:raw.ndim])
    return Record(name=raw.name.decode(), dtype=_dtype_name(raw.dtype), dims=dims)


def _read_info(handle):
    """lac_variant_get_info and lac_variant_input as a Record. Input dims
    are ints, or "B", "T", "H" for the call's sizes."""
    raw = _capi.VariantInfo()
    _library.call("lac_variant_get_info", handle, ctypes.byref(raw))
    return Record(
        name=raw.name.decode(),
        dk=raw.dk,
        dv=raw.dv,
        normalized=raw.normalized,
        ninputs=raw.ninputs,
        io=_dtype_name(raw.io),
        decay=raw.decay.decode() if raw.decay else "none",
        nconfigs=raw.nconfigs,
        hash=raw.hash.decode(),
        inputs=[_read_input(handle, i) for i in range(raw.ninputs)],
    )


def _tune_record(raw):
    return Record(
        config=raw.config.decode(),
        shape_class=raw.shape_class.decode(),
        ms=raw.ms,
        from_database=bool(raw.from_database),
        candidates=raw.candidates,
        pruned=raw.pruned,
        seconds=raw.seconds,
    )


def _destroy_handles(handles):
    for handle in handles.values():
        _library.function("lac_variant_destroy")(handle)
    handles.clear()


class Variant:
    """A .la variant loaded by lac.load(): call it like fla's ops,

        o, final_state = f(q, k, v, g, initial_state=None, output_final_state=False)

    on CUDA tensors in fla's layout [B, T, H, D] (inputs in the variant's
    declaration order, or by name). final_state is None unless asked for;
    for a normalized variant (info.normalized) it is the pair (S, z), and
    initial_state may be (S, z) or S alone. S is float32 [B, H, dk, dv], z
    float32 [B, H, dk].

    The variant is loaded (compiled) for each CUDA device its inputs are on,
    on first use there; kernels are JIT-compiled, and their configuration
    tuned, by liblac on the first call of a shape class.
    """

    def __init__(self, path_or_text, sets=None, device=None, name=None):
        self._source = split_source(path_or_text, name)
        self._sets = normalize_sets(sets)
        self._lock = threading.Lock()
        self._handles = {}  # CUDA ordinal -> lac_variant *
        finalizer = weakref.finalize(self, _destroy_handles, self._handles)
        finalizer.atexit = False  # at exit the process frees everything; the driver may be gone
        self._finalizer = finalizer
        self.device = device_index(device)
        self.info = _read_info(self._handle(self.device))

    # -- loading ---------------------------------------------------------

    def _handle(self, device):
        """The lac_variant of this variant on CUDA device `device`."""
        with self._lock:
            handle = self._handles.get(device)
            if handle is None:
                handle = _load_handle(context(device), self._source, self._sets)
                self._handles[device] = handle
            return handle

    def close(self):
        """Free the compiled variant now, rather than when it is collected
        (a later call loads it again)."""
        with self._lock:
            _destroy_handles(self._handles)

    # -- description -----------------------------------------------------

    @property
    def name(self):
        return self.info.name

    @property
    def input_names(self):
        return [i.name for i in self.info.inputs]

    def __repr__(self):
        info = self.info
        return (f"<lac.Variant {info.name}({', '.join(self.input_names)}) dk={info.dk} dv={info.dv} "
                f"decay={info.decay} normalized={info.normalized} hash={info.hash}>")

    # -- inputs ----------------------------------------------------------

    def bind(self, args, kwargs):
        """The inputs in declaration order, from positional and named ones."""
        names = self.input_names
        if len(args) > len(names):
            raise TypeError(f"lac {self.name}: takes {len(names)} inputs ({', '.join(names)}), "
                            f"got {len(args)}")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"lac {self.name}: unexpected input {key!r} (inputs: {', '.join(names)})")
            if key in values:
                raise TypeError(f"lac {self.name}: input {key!r} given twice")
            values[key] = value
        missing = [n for n in names if n not in values]
        if missing:
            raise TypeError(f"lac {self.name}: missing input(s) {', '.join(missing)}")
        return [values[n] for n in names]

    def sizes(self, shapes):
        """(B, T, H) from the inputs' shapes, checked against their dims."""
        seen = {}  # "B" -> (size, the input it came from)
        for inp, shape in zip(self.info.inputs, shapes):
            shape = tuple(shape)
            if len(shape) != len(inp.dims):
                raise ValueError(f"lac {self.name}: input '{inp.name}' must have shape "
                                 f"{_dims_text(inp.dims)}, got {shape}")
            for dim, size in zip(inp.dims, shape):
                if isinstance(dim, str):
                    first = seen.setdefault(dim, (size, inp.name))
                    if first[0] != size:
                        raise ValueError(f"lac {self.name}: input '{inp.name}' has {dim}={size} but "
                                         f"'{first[1]}' has {dim}={first[0]}")
                elif dim != size:
                    raise ValueError(f"lac {self.name}: input '{inp.name}' must have shape "
                                     f"{_dims_text(inp.dims)}, got {shape}")
        missing = [d for d in "BTH" if d not in seen]
        if missing:
            raise ValueError(f"lac {self.name}: no input gives {', '.join(missing)}")
        return seen["B"][0], seen["T"][0], seen["H"][0]

    # -- running ---------------------------------------------------------

    def __call__(self, *args, initial_state=None, output_final_state=False, **kwargs):
        from . import _torch
        return _torch.forward(self, self.bind(args, kwargs), initial_state, output_final_state)

    def reference(self, *args, initial_state=None, **kwargs):
        """The float64 CPU reference of the forward (lac_reference_forward)
        on copies of the inputs: (o, final_state) as float64 CPU tensors,
        final_state being (S, z) for a normalized variant. Needs torch, no GPU."""
        from . import _torch
        return _torch.reference(self, self._handle(self.device), self.bind(args, kwargs), initial_state)

    def random_inputs(self, B, T, H, seed=0, device="cuda"):
        """Seeded random inputs for a shape, as lac's tests make them (normal
        q, k, v; gates and other inputs in their valid ranges), as tensors
        of each input's dtype on `device`, in declaration order."""
        from . import _torch
        return _torch.random_inputs(self, self._handle(self.device), B, T, H, int(seed), device)

    # -- tuning ----------------------------------------------------------

    def tune(self, B, T, H, force=False, device=None):
        """Choose (tuning now unless the database knows it, or `force`) the
        configuration for a shape: a Record with config, shape_class, ms,
        from_database, candidates, pruned, seconds."""
        raw = _capi.TuneResult()
        handle = self._handle(self.device if device is None else device_index(device))
        _library.call("lac_tune", handle, B, T, H, int(bool(force)), ctypes.byref(raw))
        return _tune_record(raw)

    def tuned_config(self, B, T, H, device=None):
        """The configuration the forward would use for a shape, without
        tuning (a Record as tune's)."""
        raw = _capi.TuneResult()
        handle = self._handle(self.device if device is None else device_index(device))
        _library.call("lac_tuned_config", handle, B, T, H, ctypes.byref(raw))
        return _tune_record(raw)


def _dims_text(dims):
    return "[" + ", ".join(str(d) for d in dims) + "]"


def load(path_or_text, sets=None, device=None, name=None):
    """Load a .la variant: a path ("dsl_examples/gla.la") or source text.

    sets:   "NAME=VALUE" strings (a list, or a dict), as `lac compile --set`:
            params of the file (K=64) or tile settings (block_v=64).
    device: the CUDA device to load it on first (None: torch's current
            device if torch is imported, else 0); calls load it again on
            the device of their inputs when that differs.
    name:   names source text in diagnostics.

    Raises LacError: LAC_ERR_SOURCE with the diagnostics for a bad source,
    LAC_ERR_NO_DRIVER / LAC_ERR_NO_DEVICE without a usable GPU.
    """
    return Variant(path_or_text, sets, device, name)


def reference(variant, *args, initial_state=None, **kwargs):
    """lac.reference(f, q, k, v, ...): f.reference(...)."""
    return variant.reference(*args, initial_state=initial_state, **kwargs)
