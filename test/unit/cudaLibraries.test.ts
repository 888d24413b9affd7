// Finding the CUDA 12 / cuDNN 9 libraries the CUDA provider needs, with injected `ldconfig -p`
// output, environment and folder listings: what counts as loadable, what is found only in NVIDIA's
// pip wheels, and the one line that says exactly what to install or export.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CudaProbeDeps, findCudaLibraries, ldconfigSonames } from "../../extension/engine/gpu/cudaLibraries";

const ALL = ["libcuda.so.1", "libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcufft.so.11", "libcurand.so.10", "libcudnn.so.9"];
const line = (n: string, arch = "libc6,x86-64") => `\t${n} (${arch}) => /usr/lib/x86_64-linux-gnu/${n}`;
const ldconfig = (names: readonly string[]) => `${names.length} libs found in cache \`/etc/ld.so.cache'\n${names.map((n) => line(n)).join("\n")}\n`;

function machine(names: readonly string[], extra: Partial<CudaProbeDeps> = {}, dirs: Record<string, readonly string[]> = {}): CudaProbeDeps {
  return { ldconfig: async () => ldconfig(names), env: {}, home: "/home/u", listDir: async (d) => dirs[d] ?? [], ...extra };
}

describe("CUDA library detection", () => {
  it("reads ldconfig -p's 64-bit x86 entries only", () => {
    const names = ldconfigSonames(`${line("libcudnn.so.9", "libc6")}\n${line("libcudart.so.12")}\n\tlibfoo.so (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/libfoo.so\ngarbage\n`);
    assert.deepEqual([...names].sort(), ["libcudart.so.12", "libfoo.so"]);
  });

  it("everything in ldconfig's cache: nothing to say", async () => {
    const r = await findCudaLibraries(machine(ALL));
    assert.deepEqual(r, { driver: true, missing: [], offPath: [], advice: "" });
  });

  it("cuDNN missing: the exact pip and apt packages", async () => {
    const r = await findCudaLibraries(machine(ALL.filter((n) => n !== "libcudnn.so.9")));
    assert.deepEqual(r.missing, ["libcudnn.so.9"]);
    assert.equal(
      r.advice,
      "CUDA needs cuDNN 9 (libcudnn.so.9) not found by ldconfig, LD_LIBRARY_PATH or NVIDIA's pip wheels: install them with 'pip install nvidia-cudnn-cu12' or, from NVIDIA's CUDA repository, 'apt install libcudnn9-cuda-12' (X: your CUDA 12 minor version)",
    );
  });

  it("no driver and no CUDA: both, with every package once", async () => {
    const r = await findCudaLibraries(machine([]));
    assert.equal(r.driver, false);
    assert.equal(r.missing.length, 6);
    assert.match(r.advice, /^CUDA needs the NVIDIA driver \(libcuda\.so\.1 not found\): install your distribution's NVIDIA driver package; and the CUDA 12 runtime \(libcudart\.so\.12\), cuBLAS 12/);
    assert.match(r.advice, /'pip install nvidia-cuda-runtime-cu12 nvidia-cublas-cu12 nvidia-cufft-cu12 nvidia-curand-cu12 nvidia-cudnn-cu12'/);
    assert.match(r.advice, /'apt install cuda-cudart-12-X libcublas-12-X libcufft-12-X libcurand-12-X libcudnn9-cuda-12'/);
  });

  it("LD_LIBRARY_PATH counts as the loader's path", async () => {
    const r = await findCudaLibraries(machine(["libcuda.so.1"], { env: { LD_LIBRARY_PATH: "/opt/cuda/lib::/opt/cudnn/lib" } }, { "/opt/cuda/lib": ALL.slice(1, 6), "/opt/cudnn/lib": ["libcudnn.so.9", "libcudnn_graph.so.9"] }));
    assert.equal(r.advice, "");
  });

  it("NVIDIA's pip wheels in a virtualenv: found, with the export line that makes the loader see them", async () => {
    const site = "/venv/lib/python3.12/site-packages";
    const r = await findCudaLibraries(
      machine(["libcuda.so.1", "libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcufft.so.11", "libcurand.so.10"], { env: { VIRTUAL_ENV: "/venv" } }, { "/venv/lib": ["python3.12", "site-python"], [`${site}/nvidia/cudnn/lib`]: ["libcudnn.so.9", "libcudnn_ops.so.9"] }),
    );
    assert.deepEqual(r.missing, []);
    assert.deepEqual(r.offPath, [{ soname: "libcudnn.so.9", dir: `${site}/nvidia/cudnn/lib` }]);
    assert.equal(r.advice, `CUDA needs libcudnn.so.9 found outside the loader's path: start VS Code or easel with 'export LD_LIBRARY_PATH=${site}/nvidia/cudnn/lib:$LD_LIBRARY_PATH'`);
  });

  it("a user's pip install and a CUDA toolkit under /usr/local are looked at too", async () => {
    const r = await findCudaLibraries(
      machine(["libcuda.so.1"], {}, { "/home/u/.local/lib": ["python3.10"], "/home/u/.local/lib/python3.10/site-packages/nvidia/cudnn/lib": ["libcudnn.so.9"], "/usr/local": ["bin", "cuda-12.4", "cuda-11.8"], "/usr/local/cuda-12.4/lib64": ALL.slice(1, 6) }),
    );
    assert.deepEqual(r.missing, []);
    assert.deepEqual(new Set(r.offPath.map((o) => o.dir)), new Set(["/home/u/.local/lib/python3.10/site-packages/nvidia/cudnn/lib", "/usr/local/cuda-12.4/lib64"]));
  });

  it("without ldconfig, the system library folders are listed instead", async () => {
    const r = await findCudaLibraries(machine([], { ldconfig: async () => undefined }, { "/usr/lib/x86_64-linux-gnu": ALL }));
    assert.equal(r.advice, "");
  });
});
