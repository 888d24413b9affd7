// `easel gpu install cuda [--yes]`: downloads the CUDA provider libraries that onnxruntime-node
// leaves out (gpu/cudaInstall.ts), after checking the system's CUDA 12 / cuDNN 9 libraries and
// asking (or --yes). Nothing of this runs at npm install.
import { createInterface } from "node:readline/promises";
import { badArgument, EaselError } from "../errors";
import { type CudaInstallOptions, INSTALL_COMMAND, installCuda } from "../gpu/cudaInstall";
import type { NugetPackage } from "../gpu/nuget";
import { formatBytes } from "../hub/progress";
import { parseCommandArgs } from "./args";
import { type CommandIo, withProcessIo } from "./commandIo";
import { StatusLine } from "./progressBar";

export const GPU_HELP = `Usage: easel gpu install cuda [--yes]

  install cuda   Linux x64 with an NVIDIA GPU: download ONNX Runtime's CUDA provider libraries
                 (NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux of the onnxruntime-node
                 version Easel uses, about 250 MB, verified against the feed's SHA-512,
                 resumable) into Easel's cache; --provider cuda and auto use them from then on.
                 Needs the NVIDIA driver, CUDA 12 and cuDNN 9 (checked first: when they are
                 missing it says what to install and downloads nothing).
  --yes          do not ask before downloading (needed when not on a terminal)

The cache is $EASEL_HOME/gpu, else $XDG_CACHE_HOME/easel/gpu, else the OS cache folder.
EASEL_NUGET_ENDPOINT points at another NuGet v3 feed (its service index URL);
HTTPS_PROXY / NO_PROXY choose a proxy.`;

const OPTIONS = {
  yes: { type: "boolean", short: "y" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export function gpuCommand(args: readonly string[]): Promise<number> {
  return withProcessIo((io) => runGpuCommand(args, io));
}

export async function runGpuCommand(args: readonly string[], io: CommandIo, install: Partial<CudaInstallOptions> = {}): Promise<number> {
  const { values, positionals } = parseCommandArgs("gpu", args, OPTIONS, true);
  const [sub, what, ...extra] = positionals;
  if (values.help || sub === undefined || sub === "help") {
    io.stdout.write(`${GPU_HELP}\n`);
    return sub === undefined && !values.help ? 2 : 0;
  }
  if (sub !== "install") throw badArgument(`unknown gpu command "${sub}": use '${INSTALL_COMMAND}' (see 'easel gpu --help')`);
  if (what === undefined) throw badArgument(`say what to install: '${INSTALL_COMMAND}' (CUDA is the only GPU runtime Easel downloads)`);
  if (what !== "cuda" || extra.length > 0) throw badArgument(`easel gpu install takes one name, cuda (got "${[what, ...extra].join(" ")}"): DirectML, Core ML and WebGPU come with Easel`);

  const status = new StatusLine(io.stderr, io.stderr.isTTY === true);
  try {
    const result = await installCuda({
      signal: io.signal,
      onProgress: status.pull,
      progressIntervalMs: 200,
      confirm: (pkg) => confirmDownload(io, pkg, values.yes === true),
      onWait: (pid) => io.stderr.write(`another Easel process (${pid}) is installing CUDA's libraries: waiting for it to finish\n`),
      ...install,
    });
    status.clear();
    switch (result.status) {
      case "present":
        io.stderr.write(`CUDA's provider libraries are already installed\n`);
        break;
      case "declined":
        io.stderr.write(`nothing downloaded\n`);
        return 1;
      case "installed":
        io.stderr.write(`installed ${result.package.id} ${result.package.version}'s CUDA provider (${formatBytes(result.sizeBytes)} on disk); --provider cuda and auto use it from now on\n`);
        break;
    }
    io.stdout.write(`${result.folder}\n`);
    return 0;
  } finally {
    status.clear();
  }
}

async function confirmDownload(io: CommandIo, pkg: NugetPackage, yes: boolean): Promise<boolean> {
  const line = `${pkg.id} ${pkg.version} from ${pkg.url.host}: ${formatBytes(pkg.size)} to download`;
  if (yes) {
    io.stderr.write(`${line} (--yes)\n`);
    return true;
  }
  if (!io.stdin.isTTY || !io.stderr.isTTY) throw new EaselError("bad-argument", `${line}: confirm it with '${INSTALL_COMMAND} --yes' (there is no terminal to ask on)`);
  const rl = createInterface({ input: io.stdin, output: io.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${line}. Download it? [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
