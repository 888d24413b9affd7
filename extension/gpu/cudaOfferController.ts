// When Easel offers CUDA on Linux x64: the provider setting is `auto` or `cuda`, the libraries are
// not installed yet, and the machine has an NVIDIA driver. With CUDA 12 and cuDNN 9 present, it
// offers the download once per window, with its size (Install / Not now / Never); with them
// missing, it says what to install instead (once), since 250 MB that cannot load help no one.
// "Never" is remembered. No `vscode` here: registerCudaOffer.ts supplies the dialogs and the
// progress notification.
import { EaselError, firstLine } from "../engine/errors";
import type { CudaInstallResult, CudaStatus } from "../engine/gpu/cudaInstall";
import type { NugetPackage } from "../engine/gpu/nuget";
import { formatBytes } from "../engine/hub/progress";
import type { ProviderChoice } from "../engine/onnx/providers";

export const OFFER_ANSWERS = ["Install", "Not now", "Never"] as const;
export type OfferAnswer = (typeof OFFER_ANSWERS)[number];

export interface CudaOfferDeps {
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  readonly providerSetting: () => ProviderChoice;
  readonly status: () => Promise<CudaStatus>;
  /** The package on the feed, for its size; nothing is downloaded. */
  readonly lookup: () => Promise<NugetPackage>;
  /** A notification with these answers; undefined when it was dismissed. */
  readonly ask: (message: string, answers: readonly OfferAnswer[]) => Promise<OfferAnswer | undefined>;
  readonly inform: (message: string) => void;
  readonly showError: (error: unknown) => void;
  /** Downloads and installs with progress and a cancel button. */
  readonly install: () => Promise<CudaInstallResult>;
  /** The engine process loads ONNX Runtime once, at start: it must start again to use CUDA. */
  readonly restartEngine: () => Promise<void>;
  readonly never: { readonly get: () => boolean; readonly set: () => Promise<void> };
  readonly log: (line: string) => void;
}

export type OfferOutcome =
  | "not-linux-x64"
  | "provider"
  | "provisioned"
  | "no-driver"
  | "never"
  | "already-asked"
  | "told-missing"
  | "declined"
  | "installed"
  | "cancelled"
  | "failed";

export class CudaOfferController {
  private asked = false;
  private running: Promise<OfferOutcome> | undefined;

  constructor(private readonly deps: CudaOfferDeps) {}

  /** Offers CUDA if this is the moment (see the top of the file); one offer runs at a time. */
  maybeOffer(): Promise<OfferOutcome> {
    this.running ??= this.offer().finally(() => (this.running = undefined));
    return this.running;
  }

  private async offer(): Promise<OfferOutcome> {
    const d = this.deps;
    if (d.platform !== "linux" || d.arch !== "x64") return "not-linux-x64";
    const setting = d.providerSetting();
    if (setting !== "auto" && setting !== "cuda") return "provider";
    if (this.asked) return "already-asked";
    if (d.never.get()) return "never";
    const status = await d.status();
    if (status.provisioned) return "provisioned";
    // `auto` on a machine without an NVIDIA driver: there is no GPU to offer CUDA for.
    if (!status.driver && setting === "auto") return "no-driver";
    this.asked = true;
    if (status.advice !== "") {
      const answer = await d.ask(`Easel could run on your NVIDIA GPU with CUDA. ${status.advice}; Easel then offers to download ONNX Runtime's CUDA libraries.`, ["Not now", "Never"]);
      if (answer === "Never") await d.never.set();
      return "told-missing";
    }
    let size = "about 250 MB";
    try {
      size = formatBytes((await d.lookup()).size);
    } catch (error) {
      d.log(`could not read the CUDA package's size from the feed: ${firstLine(error)}`);
    }
    const answer = await d.ask(`Run Easel on your NVIDIA GPU? It needs ONNX Runtime's CUDA libraries (${status.packageId} ${status.packageVersion}, ${size} download, verified), installed once into Easel's cache.`, OFFER_ANSWERS);
    if (answer === "Never") {
      await d.never.set();
      return "declined";
    }
    if (answer !== "Install") return "declined";
    return this.runInstall();
  }

  /** Easel: Install CUDA Libraries — the same install, asked for; what is missing is an error line. */
  async installNow(): Promise<OfferOutcome> {
    const d = this.deps;
    const status = await d.status();
    if (!status.supported) {
      d.showError(new EaselError("provider-unavailable", `CUDA is offered on Linux x64 only: use the provider auto`));
      return "not-linux-x64";
    }
    if (status.provisioned) {
      d.inform(`Easel: CUDA's libraries are already installed (${status.folder}).`);
      return "provisioned";
    }
    if (status.advice !== "") {
      d.showError(new EaselError("provider-unavailable", status.advice));
      return "told-missing";
    }
    return this.runInstall();
  }

  private async runInstall(): Promise<OfferOutcome> {
    const d = this.deps;
    let result: CudaInstallResult;
    try {
      result = await d.install();
    } catch (error) {
      if (error instanceof EaselError && error.code === "cancelled") {
        d.inform(`Easel: ${error.message}`);
        return "cancelled";
      }
      d.showError(error);
      return "failed";
    }
    if (result.status === "declined") return "declined";
    d.log(`CUDA libraries ${result.status === "installed" ? "installed" : "found"} in ${result.folder}`);
    await d.restartEngine();
    d.inform(`Easel: CUDA is ready${result.status === "installed" ? ` (${formatBytes(result.sizeBytes)} in ${result.folder})` : ""}; the next image runs on your GPU when CUDA works with it.`);
    return "installed";
  }
}
