// Which graphics adapters and driver this machine has, as the operating system reports them.
// onnxruntime-node does not report its WebGPU adapter or DirectML device, so Easel reads them from
// the OS: they name the adapter in `easel doctor`, decide WebGPU's precision (NVIDIA under Vulkan
// runs fp32), and key the remembered provider verdicts (providerMemory.ts), which a driver update
// or another adapter must clear. Every source is injectable, so tests can be any machine.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { PlatformId } from "./providers";

export type GpuVendor = "nvidia" | "amd" | "intel" | "apple" | "other";

export interface GpuAdapter {
  /** As the OS names it ("NVIDIA GeForce RTX 3060"), or its PCI ids when it gives no name. */
  readonly name: string;
  readonly vendor: GpuVendor;
  /** The kernel or display driver and its version where the OS says ("nvidia 550.54.14"). */
  readonly driver?: string;
}

export interface DeviceIdentity {
  readonly adapters: readonly GpuAdapter[];
  /** What remembered verdicts are keyed on: adapters, drivers, OS release and ONNX Runtime's version. */
  readonly key: string;
}

/** Where the identity is read from; tests give fixed answers. */
export interface IdentitySources {
  readFile(file: string): string | undefined;
  listDir(dir: string): readonly string[];
  /** A command's standard output, or undefined when it fails or is missing. */
  run(command: string, args: readonly string[]): string | undefined;
  readonly osRelease: string;
  readonly ortVersion: string;
}

function ortVersion(): string {
  try {
    const pkg: unknown = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve("onnxruntime-node")), "..", "package.json"), "utf8"));
    return typeof pkg === "object" && pkg !== null && typeof (pkg as { version?: unknown }).version === "string" ? (pkg as { version: string }).version : "unknown";
  } catch {
    return "unknown";
  }
}

export function realIdentitySources(): IdentitySources {
  return {
    readFile: (file) => {
      try {
        return fs.readFileSync(file, "utf8");
      } catch {
        return undefined;
      }
    },
    listDir: (dir) => {
      try {
        return fs.readdirSync(dir);
      } catch {
        return [];
      }
    },
    run: (command, args) => {
      try {
        return execFileSync(command, [...args], { encoding: "utf8", timeout: 8000, windowsHide: true, stdio: ["ignore", "pipe", "ignore"] });
      } catch {
        return undefined;
      }
    },
    osRelease: os.release(),
    ortVersion: ortVersion(),
  };
}

const PCI_VENDORS: Readonly<Record<string, GpuVendor>> = { "10de": "nvidia", "1002": "amd", "8086": "intel", "106b": "apple" };

function vendorOf(text: string): GpuVendor {
  const t = text.toLowerCase();
  if (t.includes("nvidia")) return "nvidia";
  if (t.includes("amd") || t.includes("radeon")) return "amd";
  if (t.includes("intel")) return "intel";
  if (t.includes("apple")) return "apple";
  return "other";
}

/** Linux: the DRM cards (PCI ids, kernel driver and its version), NVIDIA's names and driver from /proc. */
function linuxAdapters(s: IdentitySources): GpuAdapter[] {
  const nvidiaDriver = /Kernel Module\s+(\S+)/.exec(s.readFile("/proc/driver/nvidia/version") ?? "")?.[1];
  const nvidiaNames = s
    .listDir("/proc/driver/nvidia/gpus")
    .map((bus) => /^Model:\s*(.+)$/m.exec(s.readFile(`/proc/driver/nvidia/gpus/${bus}/information`) ?? "")?.[1]?.trim())
    .filter((n): n is string => n !== undefined);
  const adapters: GpuAdapter[] = [];
  for (const card of s.listDir("/sys/class/drm").filter((c) => /^card\d+$/.test(c)).sort()) {
    const uevent = s.readFile(`/sys/class/drm/${card}/device/uevent`) ?? "";
    const driver = /^DRIVER=(.+)$/m.exec(uevent)?.[1]?.trim();
    const pci = /^PCI_ID=([0-9A-Fa-f]{4}):([0-9A-Fa-f]{4})$/m.exec(uevent);
    if (!driver && !pci) continue;
    const vendor = pci ? (PCI_VENDORS[pci[1].toLowerCase()] ?? "other") : vendorOf(driver ?? "");
    const version = driver === "nvidia" ? nvidiaDriver : s.readFile(`/sys/module/${driver}/version`)?.trim();
    const name = vendor === "nvidia" && nvidiaNames.length > 0 ? nvidiaNames.shift()! : `${vendor === "other" ? "GPU" : vendor.toUpperCase()} ${pci ? `${pci[1]}:${pci[2]}`.toLowerCase() : card}`;
    adapters.push({ name, vendor, driver: driver ? `${driver}${version ? ` ${version}` : ""}` : undefined });
  }
  // An NVIDIA driver without a DRM card (no nvidia-drm modeset) still names its GPUs.
  if (adapters.length === 0) for (const name of nvidiaNames) adapters.push({ name, vendor: "nvidia", driver: nvidiaDriver ? `nvidia ${nvidiaDriver}` : undefined });
  return adapters;
}

/** Windows: the display adapters and driver versions WMI reports. */
function windowsAdapters(s: IdentitySources): GpuAdapter[] {
  const out = s.run("powershell.exe", ["-NoProfile", "-NonInteractive", "-Command", "Get-CimInstance Win32_VideoController | ForEach-Object { $_.Name + '|' + $_.DriverVersion }"]);
  return (out ?? "")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const [name, version] = line.split("|");
      return { name: name.trim(), vendor: vendorOf(name), driver: version?.trim() || undefined };
    });
}

/** macOS: the chip (its GPU and Metal driver ship with the OS, whose release is in the key). */
function macAdapters(s: IdentitySources): GpuAdapter[] {
  const chip = s.run("sysctl", ["-n", "machdep.cpu.brand_string"])?.trim();
  return chip ? [{ name: chip, vendor: vendorOf(chip), driver: `macOS (Darwin ${s.osRelease})` }] : [];
}

export function readDeviceIdentity(platform: PlatformId, sources: IdentitySources = realIdentitySources()): DeviceIdentity {
  const adapters = platform.os === "linux" ? linuxAdapters(sources) : platform.os === "win32" ? windowsAdapters(sources) : platform.os === "darwin" ? macAdapters(sources) : [];
  const key = JSON.stringify({ adapters: adapters.map((a) => [a.name, a.driver ?? ""]), os: `${platform.os}-${platform.arch} ${sources.osRelease}`, ort: sources.ortVersion });
  return { adapters, key };
}

let cached: DeviceIdentity | undefined;

/** This machine's identity, read once per process (a driver update needs a restart to load anyway). */
export function machineIdentity(platform: PlatformId): DeviceIdentity {
  cached ??= readDeviceIdentity(platform);
  return cached;
}
