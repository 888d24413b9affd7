// The model picker: catalog models (marked when they still need a download), folders on this
// machine and whatever `easel.model` names. Picking one asks the host to switch (downloading
// first when needed, with the progress shown here).
import type { DownloadProgressMessage, ModelsMessage } from "../extension/protocol/studioMessages";
import { byId, setOptions, show } from "./dom";
import { post } from "./vscodeApi";

export class ModelPicker {
  private readonly select = byId("model", "vscode-single-select");
  private readonly box = byId("download", "div");
  private readonly bar = byId("download-progress", "vscode-progress-bar");
  private readonly text = byId("download-text", "span");
  private readonly cancelButton = byId("cancel-download", "vscode-button");
  private current = "";
  private downloading = false;

  constructor(private readonly notify: (kind: "info" | "warning", text: string) => void) {
    this.select.addEventListener("change", () => {
      const spec = this.select.value;
      if (spec !== "" && spec !== this.current) post({ type: "selectModel", spec });
    });
    byId("more-models", "vscode-button").addEventListener("click", () => post({ type: "moreModels" }));
    this.cancelButton.addEventListener("click", () => this.cancel());
  }

  get isDownloading(): boolean {
    return this.downloading;
  }

  cancel(): void {
    if (this.downloading) post({ type: "cancelDownload" });
  }

  setModels(message: ModelsMessage): void {
    this.current = message.current;
    const options = message.models.map((m) => ({
      value: m.spec,
      description: m.detail,
      label: m.notForThisMachine ? `${m.label} (not for this machine)` : m.downloaded ? m.label : `${m.label} (download)`,
    }));
    const placeholder = message.current === "" ? [{ value: "", label: "Choose a model…" }] : [];
    setOptions(this.select, [...placeholder, ...options], message.current);
  }

  download(message: DownloadProgressMessage): void {
    this.downloading = message.state === "running";
    show(this.box, this.downloading);
    this.select.disabled = this.downloading;
    if (message.state === "running") {
      this.bar.value = message.fraction === undefined ? undefined : Math.round(message.fraction * 1000) / 10;
      this.text.textContent = `Downloading ${message.spec}: ${message.line}`;
    } else if (message.state === "done") {
      // The host's line says "downloaded and verified", or which files were only size-checked.
      this.notify("info", `${message.spec} is ${message.line}.`);
    } else if (message.state === "failed") {
      this.notify("warning", `Easel: could not download ${message.spec}: ${message.line}`);
    } else {
      this.notify("info", `Download of ${message.spec} cancelled.`);
    }
  }
}
