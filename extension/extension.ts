// Activation only registers: each feature exports registerX(...) returning a Disposable.
import type * as vscode from "vscode";
import { registerLanguageModelTools } from "./agents/registerLanguageModelTools";
import { registerAssetPackExport } from "./assets/assetPackExport";
import { registerRemoveBackground } from "./assets/backgroundRemoval";
import { registerAssetCommands } from "./assets/assetCommands";
import { registerAssetFileSync } from "./assets/assetLock";
import { EngineService } from "./engineService";
import { registerShowLog } from "./errorMessages";
import { registerCudaOffer } from "./gpu/registerCudaOffer";
import { registerCancelCommand } from "./generation/cancelCommand";
import { registerGenerateImageCommand } from "./generation/generateImageCommand";
import { registerGpuStatus } from "./gpuStatus";
import { PromptHistory } from "./generation/promptHistory";
import { registerUpscaleImage } from "./generation/upscaleImage";
import { registerVariations } from "./generation/variations";
import { registerImageDrop } from "./markdown/imageDrop";
import { registerImageHover } from "./markdown/imageHover";
import { registerMarkdownIllustration } from "./markdown/illustrate";
import { registerImportCheckpoint } from "./models/importCheckpoint";
import { registerModelCommands } from "./models/modelCommands";
import { registerStatusBar } from "./statusBar";
import { registerStudio } from "./studio/registerStudio";

export function activate(context: vscode.ExtensionContext): void {
  const engine = new EngineService(context);
  const history = new PromptHistory(context.globalState);
  context.subscriptions.push(
    engine,
    registerGenerateImageCommand(engine, history),
    registerCancelCommand(engine),
    registerShowLog(engine),
    registerGpuStatus(),
    registerVariations(engine, history),
    registerUpscaleImage(engine),
    registerMarkdownIllustration(engine),
    registerImageHover(),
    registerImageDrop(),
    registerAssetPackExport(),
    registerRemoveBackground(engine),
    registerModelCommands(engine),
    registerImportCheckpoint(context),
    registerStatusBar(engine),
    registerStudio(context, engine),
    registerCudaOffer(context, engine),
    registerAssetFileSync((line) => engine.output.warn(line)),
    registerAssetCommands(engine),
    registerLanguageModelTools(engine),
  );
}

export function deactivate(): void {
  // The engine process is stopped by EngineService.dispose, through context.subscriptions.
}
