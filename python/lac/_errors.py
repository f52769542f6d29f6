"""The exception of the lac package."""

__all__ = ["LacError", "STATUS_NAMES", "NO_LIBRARY"]

# lac_status of lac_runtime.h, by value. lac_status_name() is preferred when
# the library has it; this table names the codes when it does not.
STATUS_NAMES = {
    0: "LAC_OK",
    1: "LAC_ERR_INVALID",
    2: "LAC_ERR_SOURCE",
    3: "LAC_ERR_UNSUPPORTED",
    4: "LAC_ERR_IO",
    5: "LAC_ERR_NO_DRIVER",
    6: "LAC_ERR_NO_DEVICE",
    7: "LAC_ERR_JIT",
    8: "LAC_ERR_OUT_OF_MEMORY",
    9: "LAC_ERR_LAUNCH",
    10: "LAC_ERR_DRIVER",
    11: "LAC_ERR_INTERNAL",
}

# The status of a LacError raised by Python itself when liblac.so cannot be
# found or loaded, or lacks a function (not a value of the C enum).
NO_LIBRARY = "LAC_ERR_NO_LIBRARY"


class LacError(RuntimeError):
    """A failure reported by liblac.

    Attributes:
        status:  the status name, e.g. "LAC_ERR_SOURCE" or "LAC_ERR_NO_DRIVER"
                 ("LAC_ERR_NO_LIBRARY" when liblac.so itself is missing).
        code:    the numeric lac_status, or None for LAC_ERR_NO_LIBRARY.
        message: lac_last_error() of the failed call (diagnostics with
                 file:line:col for a bad .la source, the driver's JIT log for
                 rejected PTX).
        call:    the C function that failed ("lac_variant_load"), or None.
    """

    def __init__(self, message, status, code=None, call=None):
        self.message = message or ""
        self.status = status
        self.code = code
        self.call = call
        if not message:
            message = f"{call} failed" if call else "failed"
        super().__init__(f"{status}: {message}")

    def __reduce__(self):  # picklable (multiprocessing) despite the extra arguments
        return (LacError, (self.message, self.status, self.code, self.call))
