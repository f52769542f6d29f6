"""The torch side of a Variant: checking and launching the forward on CUDA
tensors, its autograd Function, and the float64 CPU reference. Imported on
the first call, so that `import lac` needs no torch."""

import ctypes

import torch

from . import _capi, _library

__all__ = ["forward", "random_inputs", "reference"]

_TORCH_DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}
_LAC_DTYPES = {torch.bfloat16: _capi.LAC_BF16, torch.float16: _capi.LAC_F16, torch.float32: _capi.LAC_F32}


# -- checks ------------------------------------------------------------------

def _check_inputs(variant, values):
    """TypeError / ValueError, naming the input, unless every input is a
    CUDA tensor of its declared dtype, all on one device; returns it."""
    device, first = None, None
    for inp, t in zip(variant.info.inputs, values):
        what = f"lac {variant.name}: input '{inp.name}'"
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor, got {type(t).__name__}")
        if t.device.type != "cuda":
            raise ValueError(f"{what} is on {t.device}: lac runs on CUDA tensors")
        if device is None:
            device, first = t.device, inp.name
        elif t.device != device:
            raise ValueError(f"{what} is on {t.device} but '{first}' is on {device}")
        want = _TORCH_DTYPES[inp.dtype]
        if t.dtype != want:
            raise TypeError(f"{what} must be {want} ({inp.dtype}), got {t.dtype}")
    return device


def _split_state(variant, state, what):
    """(S, z) from initial_state: S, (S, z) for normalized variants, or None."""
    if state is None:
        return None, None
    if isinstance(state, (tuple, list)):
        if not variant.info.normalized:
            raise TypeError(f"lac {variant.name}: {what} is one tensor S [B, H, dk, dv] (the variant is "
                            f"not normalized), got a {type(state).__name__}")
        if len(state) != 2:
            raise ValueError(f"lac {variant.name}: {what} must be (S, z), got {len(state)} items")
        return state[0], state[1]
    return state, None


def _check_state(variant, t, what, shape, device):
    """`t` unless it is not a floating tensor of `shape` on `device` (None:
    any device)."""
    where = f"lac {variant.name}: {what}"
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{where} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{where} must be float32, got {t.dtype}")
    if device is not None and t.device != device:
        raise ValueError(f"{where} is on {t.device} but the inputs are on {device}")
    if tuple(t.shape) != shape:
        raise ValueError(f"{where} must have shape {list(shape)}, got {list(t.shape)}")
    return t


def _device_state(variant, t, what, shape, device):
    """A state for lac_forward: contiguous float32 on `device`, or None."""
    if t is None:
        return None
    return _check_state(variant, t, what, shape, device).to(torch.float32).contiguous()


def _host_state(variant, t, what, shape):
    """A state for the reference: a contiguous float64 CPU copy, or None."""
    if t is None:
        return None
    return _host(_check_state(variant, t, what, shape, None), what)


def _state_shapes(variant, B, H):
    info = variant.info
    return (B, H, info.dk, info.dv), (B, H, info.dk)


# -- the launch --------------------------------------------------------------

def _tensor(t):
    """The lac_tensor of a contiguous torch tensor (None: data 0, absent)."""
    if t is None:
        return _capi.Tensor()
    return _capi.Tensor(data=t.data_ptr(), dtype=_LAC_DTYPES[t.dtype], ndim=t.dim(),
                        shape=(ctypes.c_int64 * 4)(*t.shape))  # strides 0: contiguous


def _outputs(variant, B, T, H, device, want_final):
    info = variant.info
    s_shape, z_shape = _state_shapes(variant, B, H)
    o = torch.empty((B, T, H, info.dv), dtype=_TORCH_DTYPES[info.io], device=device)
    s = torch.empty(s_shape, dtype=torch.float32, device=device) if want_final else None
    z = torch.empty(z_shape, dtype=torch.float32, device=device) if want_final and info.normalized else None
    return o, s, z


def _launch(variant, inputs, s0, z0, want_final):
    """lac_forward on checked inputs: (o, S_final or None, z_final or None)."""
    B, T, H = variant.sizes(t.shape for t in inputs)
    device = inputs[0].device
    o, s, z = _outputs(variant, B, T, H, device, want_final)
    if B * T * H == 0:  # nothing to launch: no tokens leave the state as it was
        if s is not None:
            s.copy_(s0) if s0 is not None else s.zero_()
        if z is not None:
            z.copy_(z0) if z0 is not None else z.zero_()
        return o, s, z
    inputs = [t.contiguous() for t in inputs]  # held until lac_forward has queued its kernels
    array = (_capi.Tensor * len(inputs))(*[_tensor(t) for t in inputs])
    args = _capi.ForwardArgs(inputs=array, ninputs=len(inputs), o=_tensor(o), initial_state=_tensor(s0),
                             final_state=_tensor(s), initial_z=_tensor(z0), final_z=_tensor(z),
                             stream=torch.cuda.current_stream(device).cuda_stream)
    _library.call("lac_forward", variant._handle(device.index), ctypes.byref(args))
    return o, s, z


class _Forward(torch.autograd.Function):
    """The forward as an autograd node, for inputs that require grad; its
    backward is not generated yet."""

    @staticmethod
    def forward(ctx, variant, want_final, s0, z0, *inputs):
        ctx.variant_name = variant.name
        return _launch(variant, inputs, s0, z0, want_final)

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError(f"lac: the backward of {ctx.variant_name} is not generated yet")


def _final_state(variant, s, z):
    if s is None:
        return None
    return (s, z) if variant.info.normalized else s


def forward(variant, values, initial_state, output_final_state):
    """Variant.__call__: (o, final_state)."""
    device = _check_inputs(variant, values)
    B, _, H = variant.sizes(t.shape for t in values)
    s_shape, z_shape = _state_shapes(variant, B, H)
    s0, z0 = _split_state(variant, initial_state, "initial_state")
    s0 = _device_state(variant, s0, "initial_state S", s_shape, device)
    z0 = _device_state(variant, z0, "initial_state z", z_shape, device)
    want_final = bool(output_final_state)
    tracked = [t for t in (*values, s0, z0) if t is not None]
    if torch.is_grad_enabled() and any(t.requires_grad for t in tracked):
        o, s, z = _Forward.apply(variant, want_final, s0, z0, *values)
    else:
        o, s, z = _launch(variant, values, s0, z0, want_final)
    return o, _final_state(variant, s, z)


# -- the reference -----------------------------------------------------------

def _host(t, what):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"lac reference: {what} must be a torch.Tensor, got {type(t).__name__}")
    return t.detach().to("cpu", torch.float64).contiguous()


def _address(t):
    return None if t is None else t.data_ptr()


def reference(variant, handle, values, initial_state):
    """Variant.reference: lac_reference_forward on float64 host copies."""
    inputs = [_host(t, f"input '{i.name}'") for i, t in zip(variant.info.inputs, values)]
    B, T, H = variant.sizes(t.shape for t in inputs)
    s_shape, z_shape = _state_shapes(variant, B, H)
    s0, z0 = _split_state(variant, initial_state, "initial_state")
    s0 = _host_state(variant, s0, "initial_state S", s_shape)
    z0 = _host_state(variant, z0, "initial_state z", z_shape)
    o = torch.empty((B, T, H, variant.info.dv), dtype=torch.float64)
    s = torch.empty(s_shape, dtype=torch.float64)
    z = torch.empty(z_shape, dtype=torch.float64) if variant.info.normalized else None
    pointers = (ctypes.c_void_p * len(inputs))(*[t.data_ptr() for t in inputs])
    _library.call("lac_reference_forward", handle, B, T, H, pointers, _address(s0), _address(z0),
                  o.data_ptr(), s.data_ptr(), _address(z))
    return o, _final_state(variant, s, z)


def random_inputs(variant, handle, B, T, H, seed, device):
    """Variant.random_inputs: lac_random_inputs (the seeded inputs of lac's
    own tests: gates in range), rounded to each input's dtype on `device`."""
    sizes = {"B": B, "T": T, "H": H}
    host = [torch.empty([sizes.get(d, d) for d in inp.dims], dtype=torch.float64) for inp in variant.info.inputs]
    pointers = (ctypes.c_void_p * len(host))(*[t.data_ptr() for t in host])
    _library.call("lac_random_inputs", handle, B, T, H, seed, pointers)
    return [t.to(_TORCH_DTYPES[inp.dtype]).to(device) for inp, t in zip(variant.info.inputs, host)]
