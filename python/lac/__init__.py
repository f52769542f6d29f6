"""lac: linear-attention kernels compiled from .la files, in Python.

ctypes bindings over liblac.so (runtime/lac_runtime.h); no compiled
extension. torch is needed only to run kernels (and the reference), not to
import the package or to compile PTX offline.

    import lac, torch
    gla = lac.load("dsl_examples/gla.la")          # q, k, v, g
    o, s = gla(q, k, v, g, output_final_state=True)  # fla's layout [B, T, H, D]
    o_ref, s_ref = lac.reference(gla, q, k, v, g)   # float64 CPU oracle

    ptx = lac.compile_ptx("dsl_examples/linear.la", arch="sm_90a")  # no GPU

Errors of liblac raise lac.LacError (a RuntimeError) with .status, e.g.
"LAC_ERR_SOURCE" (the diagnostics, file:line:col, are the message) or
"LAC_ERR_NO_DRIVER". liblac.so is found through $LAC_LIBRARY, lac/_lib/,
the repository's build folders, then the system (see lac._library).
"""

from ._compile import compile_ptx, version
from ._context import device_info
from ._errors import LacError
from ._variant import Record, Variant, load, reference

__version__ = "0.1.0"

__all__ = ["LacError", "Record", "Variant", "compile_ptx", "device_info", "library_path", "load", "reference",
           "version"]


def library_path():
    """The path (or name) liblac.so was loaded from; LacError if none."""
    from ._library import library
    return library().path
