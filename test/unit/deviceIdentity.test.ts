// The adapter and driver identity read from the OS (it names the adapter in `easel doctor`, decides
// WebGPU's precision, and keys the provider memory), with each platform's sources injected.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type IdentitySources, readDeviceIdentity } from "../../extension/engine/onnx/deviceIdentity";

function sources(files: Record<string, string>, commands: Record<string, string> = {}, osRelease = "6.8.0"): IdentitySources {
  return {
    readFile: (f) => files[f],
    listDir: (dir) => [...new Set(Object.keys(files).filter((f) => f.startsWith(`${dir}/`)).map((f) => f.slice(dir.length + 1).split("/")[0]))],
    run: (command, args) => commands[[command, ...args].join(" ")],
    osRelease,
    ortVersion: "1.30.0",
  };
}

const NVIDIA_LINUX = {
  "/proc/driver/nvidia/version": "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n",
  "/proc/driver/nvidia/gpus/0000:01:00.0/information": "Model: \t\t NVIDIA GeForce RTX 3060\nIRQ:   130\n",
  "/sys/class/drm/card0/device/uevent": "DRIVER=nvidia\nPCI_CLASS=30000\nPCI_ID=10DE:2504\n",
  "/sys/class/drm/card1/device/uevent": "DRIVER=i915\nPCI_ID=8086:4680\n",
  "/sys/class/drm/card0-HDMI-A-1/status": "connected",
};

describe("device identity", () => {
  it("Linux: DRM cards with their drivers, NVIDIA's name and version from /proc", () => {
    const id = readDeviceIdentity({ os: "linux", arch: "x64" }, sources(NVIDIA_LINUX));
    assert.deepEqual(id.adapters, [
      { name: "NVIDIA GeForce RTX 3060", vendor: "nvidia", driver: "nvidia 550.54.14" },
      { name: "INTEL 8086:4680", vendor: "intel", driver: "i915" },
    ]);
  });

  it("a driver update, another adapter, an OS or ONNX Runtime update each change the key", () => {
    const key = readDeviceIdentity({ os: "linux", arch: "x64" }, sources(NVIDIA_LINUX)).key;
    const updated = { ...NVIDIA_LINUX, "/proc/driver/nvidia/version": "NVRM version: NVIDIA UNIX x86_64 Kernel Module  555.42.02  …\n" };
    assert.notEqual(readDeviceIdentity({ os: "linux", arch: "x64" }, sources(updated)).key, key);
    assert.notEqual(readDeviceIdentity({ os: "linux", arch: "x64" }, sources(NVIDIA_LINUX, {}, "6.9.0")).key, key);
    assert.equal(readDeviceIdentity({ os: "linux", arch: "x64" }, sources(NVIDIA_LINUX)).key, key, "the same machine, the same key");
  });

  it("Windows: WMI's adapters and driver versions", () => {
    const out = "NVIDIA GeForce RTX 4070|32.0.15.6094\r\nIntel(R) UHD Graphics 770|31.0.101.4502\r\n";
    const id = readDeviceIdentity(
      { os: "win32", arch: "x64" },
      sources({}, { "powershell.exe -NoProfile -NonInteractive -Command Get-CimInstance Win32_VideoController | ForEach-Object { $_.Name + '|' + $_.DriverVersion }": out }),
    );
    assert.deepEqual(id.adapters, [
      { name: "NVIDIA GeForce RTX 4070", vendor: "nvidia", driver: "32.0.15.6094" },
      { name: "Intel(R) UHD Graphics 770", vendor: "intel", driver: "31.0.101.4502" },
    ]);
  });

  it("macOS: the chip, its Metal driver being the OS release", () => {
    const id = readDeviceIdentity({ os: "darwin", arch: "arm64" }, sources({}, { "sysctl -n machdep.cpu.brand_string": "Apple M2 Pro\n" }, "24.1.0"));
    assert.deepEqual(id.adapters, [{ name: "Apple M2 Pro", vendor: "apple", driver: "macOS (Darwin 24.1.0)" }]);
  });

  it("a machine with no GPU reports none (a VM)", () => {
    assert.deepEqual(readDeviceIdentity({ os: "linux", arch: "x64" }, sources({})).adapters, []);
  });
});
