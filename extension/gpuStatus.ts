// Easel: Show GPU Status — `easel doctor`'s report (engine/doctor.ts, tested there) in an output
// channel: what each execution provider said on this machine, the adapter, and how to enable a
// missing provider. The probes run in child processes, so a GPU runtime that aborts cannot take
// the extension host down.
import * as vscode from "vscode";
import { formatDoctor, realDoctorDeps, runDoctor } from "./engine/doctor";
import { memoryFileIn, ProviderMemory } from "./engine/onnx/providerMemory";
import { readSettings } from "./config";
import { modelStore } from "./models/modelResolver";

export function registerGpuStatus(): vscode.Disposable {
  let channel: vscode.OutputChannel | undefined;
  const command = vscode.commands.registerCommand("easel.showGpuStatus", async () => {
    channel ??= vscode.window.createOutputChannel("Easel GPU Status");
    const out = channel;
    out.clear();
    out.appendLine("Trying each execution provider on this machine…");
    out.show(true);
    try {
      const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: "Easel: checking GPU providers" }, () => {
        // Remembered verdicts are read from the cache folder the engine uses (easel.cacheFolder).
        return runDoctor(realDoctorDeps({ memory: ProviderMemory.open(memoryFileIn(modelStore(readSettings()).root)) }));
      });
      out.clear();
      for (const line of formatDoctor(report)) out.appendLine(line);
    } catch (error) {
      out.appendLine(`Could not check the providers: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  return vscode.Disposable.from(command, { dispose: () => channel?.dispose() });
}
