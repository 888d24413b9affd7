import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";

// ONNX Runtime's CPU kernels scale with physical cores; hyper-threads only add contention.
let cached: number | undefined;

export function physicalCoreCount(): number {
  if (cached !== undefined) return cached;
  const logical = os.availableParallelism();
  let physical: number | undefined;
  try {
    if (process.platform === "linux") physical = linuxPhysicalCores();
    else if (process.platform === "darwin") physical = Number(execFileSync("sysctl", ["-n", "hw.physicalcpu"], { encoding: "utf8" }).trim());
  } catch {
    physical = undefined;
  }
  cached = physical && Number.isFinite(physical) && physical > 0 ? Math.min(physical, logical) : logical;
  return cached;
}

function linuxPhysicalCores(): number | undefined {
  const text = fs.readFileSync("/proc/cpuinfo", "utf8");
  const cores = new Set<string>();
  for (const block of text.split(/\n\s*\n/)) {
    const phys = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
    const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
    if (phys !== undefined && core !== undefined) cores.add(`${phys}:${core}`);
  }
  return cores.size > 0 ? cores.size : undefined;
}
