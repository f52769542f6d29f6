"""ctypes mirror of the C API: runtime/lac_runtime.h and lac_version() of
compiler/lac.h.

The structures follow the header field by field (enums are C ints); the
PROTOTYPES table gives each function's result and argument types. Pointers
that Python fills from integers (device and host addresses) are c_void_p.
"""

from ctypes import (POINTER, Structure, c_char, c_char_p, c_double, c_int, c_int64, c_long, c_size_t,
                    c_uint64, c_void_p)

# enum lac_dtype
LAC_BF16, LAC_F16, LAC_F32 = 0, 1, 2
DTYPE_NAMES = {LAC_BF16: "bf16", LAC_F16: "f16", LAC_F32: "f32"}

# the symbolic sizes of lac_input_info.dims
LAC_DIM_B, LAC_DIM_T, LAC_DIM_H = -1, -2, -3
DIM_NAMES = {LAC_DIM_B: "B", LAC_DIM_T: "T", LAC_DIM_H: "H"}

# enum lac_tune_mode
LAC_TUNE_DEFAULT, LAC_TUNE_FIRST, LAC_TUNE_NEVER, LAC_TUNE_FORCE = 0, 1, 2, 3

LAC_OK = 0


class ContextOptions(Structure):
    """lac_context_options"""
    _fields_ = [
        ("device", c_int),
        ("driver", c_char_p),
        ("cache_dir", c_char_p),
        ("tune", c_int),  # lac_tune_mode
        ("verbose", c_int),
    ]


class DeviceInfo(Structure):
    """lac_device_info"""
    _fields_ = [
        ("name", c_char * 256),
        ("cc_major", c_int),
        ("cc_minor", c_int),
        ("sm_count", c_int),
        ("driver_version", c_int),
        ("arch", c_char * 16),
        ("cache_dir", c_char * 1024),
    ]


class VariantInfo(Structure):
    """lac_variant_info"""
    _fields_ = [
        ("name", c_char_p),
        ("dk", c_int),
        ("dv", c_int),
        ("normalized", c_int),
        ("ninputs", c_int),
        ("io", c_int),  # lac_dtype
        ("decay", c_char_p),
        ("nconfigs", c_long),
        ("hash", c_char * 17),
    ]


class InputInfo(Structure):
    """lac_input_info"""
    _fields_ = [
        ("name", c_char_p),
        ("dtype", c_int),  # lac_dtype
        ("ndim", c_int),
        ("dims", c_int * 4),
    ]


class Tensor(Structure):
    """lac_tensor: a device tensor; strides all zero mean contiguous."""
    _fields_ = [
        ("data", c_uint64),
        ("dtype", c_int),  # lac_dtype
        ("ndim", c_int),
        ("shape", c_int64 * 4),
        ("strides", c_int64 * 4),
    ]


class ForwardArgs(Structure):
    """lac_forward_args"""
    _fields_ = [
        ("inputs", POINTER(Tensor)),
        ("ninputs", c_int),
        ("o", Tensor),
        ("initial_state", Tensor),
        ("final_state", Tensor),
        ("initial_z", Tensor),
        ("final_z", Tensor),
        ("stream", c_void_p),
    ]


class TuneResult(Structure):
    """lac_tune_result"""
    _fields_ = [
        ("config", c_char * 160),
        ("shape_class", c_char * 64),
        ("ms", c_double),
        ("from_database", c_int),
        ("candidates", c_int),
        ("pruned", c_int),
        ("seconds", c_double),
    ]


# Each structure with its C name, for the layout test (tests/test_lac.py
# compiles offsetof/sizeof of these against lac_runtime.h).
STRUCTS = (
    (ContextOptions, "lac_context_options"),
    (DeviceInfo, "lac_device_info"),
    (VariantInfo, "lac_variant_info"),
    (InputInfo, "lac_input_info"),
    (Tensor, "lac_tensor"),
    (ForwardArgs, "lac_forward_args"),
    (TuneResult, "lac_tune_result"),
)

_handle = c_void_p           # lac_context *, lac_variant *
_out_handle = POINTER(c_void_p)
_sets = POINTER(c_char_p)    # const char *const *

# name: (restype, argtypes). lac_status results are c_int.
PROTOTYPES = {
    "lac_version": (c_char_p, []),
    "lac_status_name": (c_char_p, [c_int]),
    "lac_last_error": (c_char_p, []),
    "lac_dtype_name": (c_char_p, [c_int]),
    "lac_context_create": (c_int, [POINTER(ContextOptions), _out_handle]),
    "lac_context_destroy": (None, [_handle]),
    "lac_context_device": (c_int, [_handle, POINTER(DeviceInfo)]),
    "lac_variant_load": (c_int, [_handle, c_char_p, _sets, c_int, _out_handle]),
    "lac_variant_load_source": (c_int, [_handle, c_char_p, c_char_p, c_size_t, _sets, c_int, _out_handle]),
    "lac_variant_destroy": (None, [_handle]),
    "lac_variant_get_info": (c_int, [_handle, POINTER(VariantInfo)]),
    "lac_variant_input": (c_int, [_handle, c_int, POINTER(InputInfo)]),
    "lac_forward": (c_int, [_handle, POINTER(ForwardArgs)]),
    # v, B, T, H, inputs (const double *const *), s0, z0, o, s_final, z_final
    "lac_reference_forward": (c_int, [_handle, c_int, c_int, c_int, POINTER(c_void_p),
                                      c_void_p, c_void_p, c_void_p, c_void_p, c_void_p]),
    # v, B, T, H, seed, inputs (double *const *)
    "lac_random_inputs": (c_int, [_handle, c_int, c_int, c_int, c_uint64, POINTER(c_void_p)]),
    "lac_tune": (c_int, [_handle, c_int, c_int, c_int, c_int, POINTER(TuneResult)]),
    "lac_tuned_config": (c_int, [_handle, c_int, c_int, c_int, POINTER(TuneResult)]),
    # name, text, len, arch, sets, nsets, char **ptx (c_void_p: the pointer is freed by us)
    "lac_compile_ptx": (c_int, [c_char_p, c_char_p, c_size_t, c_char_p, _sets, c_int, POINTER(c_void_p)]),
}


def string_array(strings):
    """A `const char *const *` for a list of str: (array, count), or (None, 0)
    for an empty list. The array keeps its bytes objects alive."""
    if not strings:
        return None, 0
    encoded = [s.encode() for s in strings]
    return (c_char_p * len(encoded))(*encoded), len(encoded)
