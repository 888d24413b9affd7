// CUDA on Linux x64 in VS Code: the offer (cudaOfferController.ts) made when the engine first
// starts and when `easel.provider` changes, and Easel: Install CUDA Libraries. Downloads use VS
// Code's `http.proxy`, as model downloads do, and show bytes, rate and ETA with a cancel button.
import * as vscode from "vscode";
import { readSettings } from "../config";
import { CUDA_PACKAGE_ID, cudaStatus, defaultCudaLocations, installCuda } from "../engine/gpu/cudaInstall";
import { nugetConfig, resolveNugetPackage } from "../engine/gpu/nuget";
import { formatProgressLine } from "../engine/hub/progress";
import { showError } from "../errorMessages";
import type { EngineService } from "../engineService";
import { vscodeProxy } from "../models/modelResolver";
import { CudaOfferController, type OfferAnswer } from "./cudaOfferController";

const NEVER_KEY = "easel.cuda.neverOffer";

export function registerCudaOffer(context: vscode.ExtensionContext, engine: EngineService): vscode.Disposable {
  const controller = new CudaOfferController({
    platform: process.platform,
    arch: process.arch,
    providerSetting: () => readSettings().provider,
    status: () => cudaStatus(),
    lookup: () => resolveNugetPackage(nugetConfig({ proxy: vscodeProxy() }), CUDA_PACKAGE_ID, defaultCudaLocations().ortVersion),
    ask: (message, answers) => Promise.resolve(vscode.window.showInformationMessage<OfferAnswer>(`Easel: ${message}`, ...answers)),
    inform: (message) => void vscode.window.showInformationMessage(message),
    showError: (error) => void showError(error),
    install: async () =>
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Easel: downloading CUDA libraries", cancellable: true }, async (progress, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        let last = 0;
        try {
          return await installCuda({
            proxy: vscodeProxy(),
            signal: abort.signal,
            progressIntervalMs: 250,
            onProgress: (p) => {
              const pct = p.total > 0 ? (p.bytes / p.total) * 100 : 0;
              progress.report({ message: formatProgressLine(p), increment: pct - last });
              last = pct;
            },
            onWait: (pid) => progress.report({ message: `another Easel window (process ${pid}) is installing them: waiting` }),
          });
        } finally {
          sub.dispose();
        }
      }),
    restartEngine: () => engine.restartWhenIdle(),
    never: { get: () => context.globalState.get<boolean>(NEVER_KEY) === true, set: () => Promise.resolve(context.globalState.update(NEVER_KEY, true)) },
    log: (line) => engine.output.info(line),
  });
  const offer = () => {
    controller.maybeOffer().then(
      (outcome) => engine.output.info(`CUDA offer: ${outcome}`),
      (error: unknown) => engine.output.warn(`CUDA offer failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  };
  // Offered when the engine first starts (the user is generating), not at activation.
  let started = false;
  return vscode.Disposable.from(
    vscode.commands.registerCommand("easel.installCuda", async () => {
      await controller.installNow();
    }),
    engine.onDidChangeState((state) => {
      if (started || state.kind === "stopped") return;
      started = true;
      offer();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("easel.provider")) offer();
    }),
  );
}
