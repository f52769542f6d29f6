"""Tests of the lac Python package (unittest; pytest runs them too).

    cd python && LAC_LIBRARY=../build-ci/liblac.so python3 -m unittest discover -s tests -v

OfflineTest needs only liblac.so: no torch, no GPU. CudaTest needs torch and
a CUDA device, and is skipped otherwise.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parent.parent  # python/
REPO = PYTHON_DIR.parent
EXAMPLES = REPO / "dsl_examples"
sys.path.insert(0, str(PYTHON_DIR))  # the package of this checkout, installed or not

import lac  # noqa: E402
from lac._compile import normalize_sets, split_source  # noqa: E402
from lac._context import device_index  # noqa: E402

BAD_SOURCE = """attention bad {
  param K = 16, V = 16;
  input q, k : bf16[B, T, H, K];
  input v : bf16[B, T, H, V];
  query = q + nope;
}
"""

TOLERANCE = 3e-3  # relative L2 error of bf16 outputs


def run_python(code, **env):
    """Run `code` in a fresh interpreter that imports this checkout's lac,
    with `env` added to the environment; returns the CompletedProcess."""
    environment = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment, cwd=str(REPO),
                          capture_output=True, text=True, timeout=600)


def cuda_available():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def gpu_driver_present():
    import ctypes
    try:
        ctypes.CDLL(os.environ.get("LAC_CUDA_DRIVER") or "libcuda.so.1")
    except OSError:
        return False
    return True


class OfflineTest(unittest.TestCase):
    """Everything that needs neither torch nor a GPU."""

    def assert_ran(self, result):
        self.assertEqual(result.returncode, 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")

    def test_import_without_torch(self):
        # torch made unimportable: import, version and compile_ptx still work.
        result = run_python(f"""
            import sys
            sys.modules["torch"] = None
            import lac
            assert lac.version()
            assert ".entry" in lac.compile_ptx({str(EXAMPLES / "linear.la")!r})
            print("ok")
            """)
        self.assert_ran(result)
        self.assertIn("ok", result.stdout)

    def test_version(self):
        self.assertRegex(lac.version(), r"^\d+\.\d+\.\d+")
        self.assertRegex(lac.__version__, r"^\d+\.\d+\.\d+")
        self.assertIn("liblac.so", lac.library_path())

    def test_error_pickles(self):
        import pickle
        error = pickle.loads(pickle.dumps(lac.LacError("x.la:1:2: error", "LAC_ERR_SOURCE", 2, "lac_compile_ptx")))
        self.assertEqual((error.status, error.code, error.message), ("LAC_ERR_SOURCE", 2, "x.la:1:2: error"))
        self.assertEqual(str(error), "LAC_ERR_SOURCE: x.la:1:2: error")

    def test_compile_ptx_file(self):
        ptx = lac.compile_ptx(EXAMPLES / "linear.la", arch="sm_90a")
        self.assertIn(".entry", ptx)
        self.assertIn("sm_90a", ptx)

    def test_compile_ptx_text_and_sets(self):
        text = (EXAMPLES / "linear.la").read_text()
        ptx = lac.compile_ptx(text, arch="sm_80", sets={"K": 64}, name="linear.la")
        self.assertIn(".entry", ptx)
        self.assertIn("sm_80", ptx)

    def test_source_error(self):
        with self.assertRaises(lac.LacError) as caught:
            lac.compile_ptx(BAD_SOURCE, name="bad.la")
        error = caught.exception
        self.assertIsInstance(error, RuntimeError)
        self.assertEqual(error.status, "LAC_ERR_SOURCE")
        self.assertRegex(str(error), r"bad\.la:5:15")
        self.assertIn("nope", error.message)

    def test_missing_file(self):
        with self.assertRaises(FileNotFoundError):
            lac.compile_ptx(str(EXAMPLES / "no_such_file.la"))

    def test_no_driver(self):
        # A driver library that does not exist: LAC_ERR_NO_DRIVER on any machine.
        result = run_python(f"""
            import lac
            try:
                lac.load({str(EXAMPLES / "linear.la")!r})
            except lac.LacError as e:
                print("status", e.status)
                assert e.message, "an empty message"
            """, LAC_CUDA_DRIVER="/nonexistent/libcuda.so.1")
        self.assert_ran(result)
        self.assertIn("status LAC_ERR_NO_DRIVER", result.stdout)

    @unittest.skipIf(gpu_driver_present(), "this machine has a CUDA driver")
    def test_load_without_gpu(self):
        with self.assertRaises(lac.LacError) as caught:
            lac.load(EXAMPLES / "linear.la")
        self.assertIn(caught.exception.status, ("LAC_ERR_NO_DRIVER", "LAC_ERR_NO_DEVICE"))
        self.assertTrue(caught.exception.message)

    def test_library_not_found(self):
        result = run_python("""
            import lac
            try:
                lac.version()
            except lac.LacError as e:
                print("status", e.status)
                print(e)
            """, LAC_LIBRARY="/nonexistent/liblac.so")
        self.assert_ran(result)
        self.assertIn("status LAC_ERR_NO_LIBRARY", result.stdout)
        self.assertIn("liblac.so not found", result.stdout)
        self.assertIn("LAC_LIBRARY", result.stdout)

    def test_sets(self):
        self.assertEqual(normalize_sets(None), [])
        self.assertEqual(normalize_sets({"K": 64, "block_v": 32}), ["K=64", "block_v=32"])
        self.assertEqual(normalize_sets("K=64"), ["K=64"])
        with self.assertRaises(ValueError):
            normalize_sets(["K"])

    def test_sources(self):
        self.assertEqual(split_source("dsl_examples/gla.la"), ("dsl_examples/gla.la", None))
        self.assertEqual(split_source(BAD_SOURCE, "x.la"), ("x.la", BAD_SOURCE.encode()))
        self.assertEqual(split_source(b"attention a {}")[0], "<string>")

    def test_device_index(self):
        self.assertEqual(device_index(1), 1)
        self.assertEqual(device_index("cuda:2"), 2)
        with self.assertRaises(ValueError):
            device_index("cpu")


def c_compiler():
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class LayoutTest(unittest.TestCase):
    """The ctypes structures against runtime/lac_runtime.h, compiled."""

    HEADER = REPO / "runtime" / "lac_runtime.h"
    maxDiff = None

    @unittest.skipUnless(c_compiler(), "needs a C compiler")
    @unittest.skipUnless(HEADER.exists(), "needs runtime/lac_runtime.h (a source checkout)")
    def test_struct_layout(self):
        import ctypes
        from lac import _capi
        lines, expected = [], []
        for struct, c_name in _capi.STRUCTS:
            lines.append(f'printf("%zu\\n", sizeof({c_name}));')
            expected.append(f"sizeof({c_name}) = {ctypes.sizeof(struct)}")
            for field, *_ in struct._fields_:
                lines.append(f'printf("%zu\\n", offsetof({c_name}, {field}));')
                expected.append(f"offsetof({c_name}, {field}) = {getattr(struct, field).offset}")
        program = ("#include <stddef.h>\n#include <stdio.h>\n#include \"lac_runtime.h\"\n"
                   "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
        with tempfile.TemporaryDirectory() as tmp:
            source, binary = Path(tmp) / "layout.c", Path(tmp) / "layout"
            source.write_text(program)
            subprocess.run([c_compiler(), f"-I{self.HEADER.parent}", str(source), "-o", str(binary)], check=True)
            values = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.split()
        actual = [f"{line.rsplit(' = ', 1)[0]} = {value}" for line, value in zip(expected, values)]
        self.assertEqual(actual, expected, "lac/_capi.py no longer matches lac_runtime.h")


def rel_l2(actual, expected):
    actual, expected = actual.double().cpu(), expected.double().cpu()
    return ((actual - expected).norm() / expected.norm()).item()


@unittest.skipUnless(cuda_available(), "needs torch and a CUDA device")
class CudaTest(unittest.TestCase):
    """The forward on the GPU against lac's float64 reference."""

    VARIANTS = ("linear.la", "retnet.la", "gla.la", "simple_gla.la")
    B, T, H = 2, 300, 4

    @classmethod
    def setUpClass(cls):
        import torch
        cls.torch = torch
        cls.device = torch.device("cuda", torch.cuda.current_device())
        cls.loaded = {}

    def variant(self, file):
        if file not in self.loaded:
            self.loaded[file] = lac.load(EXAMPLES / file)
        return self.loaded[file]

    def inputs(self, f, T=None, seed=0):
        """Random inputs in f's declared dtypes and dims; log-space gates
        (the per-token / per-key decay inputs) are logsigmoid(randn)."""
        torch = self.torch
        generator = torch.Generator(device=self.device).manual_seed(seed)
        sizes = {"B": self.B, "T": T or self.T, "H": self.H}
        dtypes = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}
        values = []
        for inp in f.info.inputs:
            shape = [sizes.get(d, d) for d in inp.dims]
            x = torch.randn(shape, generator=generator, device=self.device, dtype=torch.float32)
            if inp.name not in ("q", "k", "v") and f.info.decay in ("per_token", "per_key"):
                x = torch.nn.functional.logsigmoid(x)
            values.append(x.to(dtypes[inp.dtype]))
        return values

    def assert_close(self, actual, expected, what):
        error = rel_l2(actual, expected)
        self.assertLess(error, TOLERANCE, f"{what}: relative L2 error {error:.2e}")

    def test_info(self):
        f = self.variant("gla.la")
        self.assertEqual(f.info.name, "gla")
        self.assertEqual((f.info.dk, f.info.dv, f.info.normalized), (128, 128, 0))
        self.assertEqual(f.info["decay"], "per_key")
        self.assertEqual(f.input_names, ["q", "k", "v", "g"])
        self.assertEqual(f.info.inputs[3].dtype, "f32")
        self.assertEqual(f.info.inputs[3].dims, ("B", "T", "H", 128))
        self.assertEqual(len(f.info.hash), 16)
        self.assertGreaterEqual(f.info.nconfigs, 1)
        self.assertIn("gla", repr(f))

    def test_device_info(self):
        info = lac.device_info(self.device)
        self.assertTrue(info["name"])
        self.assertRegex(info["arch"], r"^sm_\d+")

    def test_forward_matches_reference(self):
        for file in self.VARIANTS:
            with self.subTest(variant=file):
                f = self.variant(file)
                xs = self.inputs(f)
                o, s = f(*xs, output_final_state=True)
                self.assertEqual(o.dtype, self.torch.bfloat16)
                self.assertEqual(tuple(o.shape), (self.B, self.T, self.H, f.info.dv))
                self.assertEqual(tuple(s.shape), (self.B, self.H, f.info.dk, f.info.dv))
                self.assertEqual(s.dtype, self.torch.float32)
                o_ref, s_ref = lac.reference(f, *xs)
                self.assertEqual(o_ref.dtype, self.torch.float64)
                self.assert_close(o, o_ref, f"{file} o")
                self.assert_close(s, s_ref, f"{file} final state")

    def test_every_example(self):
        """Every file of dsl_examples/ through the JIT with tuning, on the
        seeded inputs of lac's tests, against the reference."""
        files = sorted(p.name for p in EXAMPLES.glob("*.la"))
        self.assertGreaterEqual(len(files), 11)
        for file in files:
            with self.subTest(variant=file):
                f = self.variant(file)
                xs = f.random_inputs(self.B, self.T, self.H, seed=3, device=self.device)
                o, s = f(*xs, output_final_state=True)
                o_ref, s_ref = lac.reference(f, *xs)
                self.assert_close(o, o_ref, f"{file} o")
                if f.info.normalized:
                    self.assert_close(s[0], s_ref[0], f"{file} final state S")
                    self.assert_close(s[1], s_ref[1], f"{file} final normalizer z")
                else:
                    self.assert_close(s, s_ref, f"{file} final state")

    def test_state_round_trip(self):
        half = self.T // 2
        for file in self.VARIANTS:
            with self.subTest(variant=file):
                f = self.variant(file)
                xs = self.inputs(f, seed=1)
                o, s = f(*xs, output_final_state=True)
                first = [x[:, :half] for x in xs]  # not contiguous: the package copies them
                second = [x[:, half:] for x in xs]
                o1, s1 = f(*first, output_final_state=True)
                o2, s2 = f(*second, initial_state=s1, output_final_state=True)
                self.assert_close(self.torch.cat([o1, o2], dim=1), o, f"{file} o in two calls")
                self.assert_close(s2, s, f"{file} final state in two calls")
                o2_ref, s2_ref = lac.reference(f, *second, initial_state=s1)
                self.assert_close(o2, o2_ref, f"{file} o from an initial state")
                self.assert_close(s2, s2_ref, f"{file} final state from an initial state")

    def test_normalized_state(self):
        f = self.variant("linear_elu.la")
        self.assertEqual(f.info.normalized, 1)
        xs = self.inputs(f, seed=2)
        half = self.T // 2
        o, (s, z) = f(*xs, output_final_state=True)
        self.assertEqual(tuple(z.shape), (self.B, self.H, f.info.dk))
        o_ref, (s_ref, z_ref) = lac.reference(f, *xs)
        self.assert_close(o, o_ref, "o")
        self.assert_close(z, z_ref, "z")
        o1, state = f(*[x[:, :half] for x in xs], output_final_state=True)
        o2, (s2, z2) = f(*[x[:, half:] for x in xs], initial_state=state, output_final_state=True)
        self.assert_close(self.torch.cat([o1, o2], dim=1), o, "o in two calls")
        self.assert_close(s2, s, "S in two calls")
        self.assert_close(z2, z, "z in two calls")

    def test_no_final_state(self):
        f = self.variant("linear.la")
        o, s = f(*self.inputs(f, T=64))
        self.assertIsNone(s)

    def test_side_stream(self):
        torch = self.torch
        f = self.variant("retnet.la")
        xs = self.inputs(f, T=128, seed=3)
        expected, _ = f(*xs)
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            o, _ = f(*xs)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        self.assertTrue(torch.equal(o, expected))

    def test_keyword_inputs(self):
        f = self.variant("simple_gla.la")
        q, k, v, g = self.inputs(f, T=100)
        o_positional, _ = f(q, k, v, g)
        o_named, _ = f(q, k, g=g, v=v)
        self.assertTrue(self.torch.equal(o_positional, o_named))

    def test_input_checks(self):
        torch = self.torch
        f = self.variant("gla.la")
        q, k, v, g = self.inputs(f, T=64)
        with self.assertRaisesRegex(TypeError, "'g' must be torch.float32"):
            f(q, k, v, g.bfloat16())
        with self.assertRaisesRegex(ValueError, "'q' is on cpu"):
            f(q.cpu(), k, v, g)
        with self.assertRaisesRegex(TypeError, "missing input.*g"):
            f(q, k, v)
        with self.assertRaisesRegex(TypeError, "unexpected input 'x'"):
            f(q, k, v, g, x=g)
        with self.assertRaisesRegex(ValueError, "'k' has T=32 but 'q' has T=64"):
            f(q, k[:, :32], v, g)
        with self.assertRaisesRegex(ValueError, "'v' must have shape"):
            f(q, k, v[..., :64], g)
        with self.assertRaisesRegex(ValueError, "initial_state S must have shape"):
            f(q, k, v, g, initial_state=torch.zeros(2, 4, 128, 64, device=self.device))

    def test_autograd_wiring(self):
        f = self.variant("linear.la")
        q, k, v = self.inputs(f, T=64)
        o, _ = f(q, k, v)
        self.assertFalse(o.requires_grad)
        q.requires_grad_()
        o, _ = f(q, k, v)
        self.assertTrue(o.requires_grad)
        with self.assertRaisesRegex(NotImplementedError, "backward of linear is not generated yet"):
            o.float().sum().backward()

    def test_tuning(self):
        f = self.variant("linear.la")
        chosen = f.tune(self.B, 256, self.H)
        self.assertIn("block_v=", chosen.config)
        self.assertTrue(chosen.shape_class)
        self.assertIsInstance(chosen.from_database, bool)
        self.assertEqual(f.tuned_config(self.B, 256, self.H).config, chosen.config)


if __name__ == "__main__":
    unittest.main()
