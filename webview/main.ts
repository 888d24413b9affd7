// The Studio page: wires the views to the host's messages, keeps the form in the webview state
// (so it survives reloads and the panel being restored), and handles the keyboard shortcuts:
// Ctrl/Cmd+Enter generates, Escape cancels.
import "@vscode/codicons/dist/codicon.css";
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import "@vscode-elements/elements/dist/vscode-label/index.js";
import "@vscode-elements/elements/dist/vscode-option/index.js";
import "@vscode-elements/elements/dist/vscode-progress-bar/index.js";
import "@vscode-elements/elements/dist/vscode-single-select/index.js";
import "@vscode-elements/elements/dist/vscode-textarea/index.js";
import "@vscode-elements/elements/dist/vscode-textfield/index.js";
import type { HostMessage, InitMessage, ModelsMessage, StudioForm } from "../extension/protocol/studioMessages";
import { byId } from "./dom";
import { FormView } from "./formView";
import { applyPatch, DEFAULT_FORM, draftForm, formFromFields, formFromSaved } from "./formValues";
import { GalleryView } from "./galleryView";
import { GenerationView } from "./generationView";
import { MessagesView } from "./messagesView";
import { ModelPicker } from "./modelPicker";
import { TokenCounts } from "./tokenCounts";
import { loadState, post, saveState } from "./vscodeApi";

/** What the page keeps across reloads (webview getState/setState). */
interface PageState {
  readonly form: StudioForm;
  readonly lastSeed?: string;
  readonly image?: { readonly src: string; readonly alt: string };
}

function restoredState(): PageState {
  const raw = loadState();
  const s = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>) : {};
  const image = s.image as Record<string, unknown> | undefined;
  return {
    form: s.form === undefined ? DEFAULT_FORM : formFromSaved(s.form),
    lastSeed: typeof s.lastSeed === "string" && /^\d+$/.test(s.lastSeed) ? s.lastSeed : undefined,
    image: image && typeof image.src === "string" && typeof image.alt === "string" ? { src: image.src, alt: image.alt } : undefined,
  };
}

let state = restoredState();
let init: InitMessage | undefined;
let models: ModelsMessage | undefined;

const messages = new MessagesView();
const generation = new GenerationView();
const gallery = new GalleryView();
const picker = new ModelPicker((kind, text) => messages.showNotice(kind, text));
const form = new FormView(() => persist({ form: currentForm() }));
const tokens = new TokenCounts((field) => (field === "prompt" ? form.prompt.value : form.negativePrompt.value));

function persist(patch: Partial<PageState>): void {
  state = { ...state, ...patch };
  saveState(state);
}

/** The form as it stands, even when a field is not valid yet (so typing is never lost). */
function currentForm(): StudioForm {
  return draftForm(form.read(), state.form);
}

/** What the form is checked against: the host's limits and schedulers, sent in "init". */
function context(from: InitMessage) {
  return {
    limits: from.limits,
    granularity: models?.geometry.granularity ?? 64,
    schedulers: from.schedulers.map((s) => s.value),
    initSize: form.initSize,
  };
}

function generate(): void {
  // Before "init" the page cannot check the form; the host sends it as soon as the page is ready.
  if (generation.isRunning || !init) return;
  const checked = formFromFields(form.read(), context(init));
  if ("problem" in checked) {
    form.showProblem(checked.problem);
    return;
  }
  form.showProblem(undefined);
  messages.clearError();
  persist({ form: checked.form });
  post({ type: "generate", form: checked.form });
  generation.started();
}

function cancel(): void {
  if (generation.isRunning) post({ type: "cancel" });
  else if (picker.isDownloading) picker.cancel();
}

function receive(message: HostMessage): void {
  switch (message.type) {
    case "init":
      init = message;
      form.setSchedulers(message.schedulers);
      form.setLimits(message.limits.maxSteps, message.limits.maxBatch, message.limits.minSide, message.limits.maxSide);
      form.write(state.form);
      return;
    case "models":
      models = message;
      picker.setModels(message);
      form.setModel(message);
      form.write(state.form);
      tokens.refresh();
      return;
    case "upscalers":
      form.setUpscalers(message.upscalers);
      return;
    case "tokenCount":
      tokens.receive(message);
      return;
    case "download":
      picker.download(message);
      return;
    case "started":
      messages.clearError();
      generation.started();
      return;
    case "loading":
      generation.loading(message);
      return;
    case "progress":
      generation.progress(message);
      return;
    case "preview":
      generation.preview(message);
      return;
    case "done": {
      const first = message.images[0];
      // A tileable image is shown as a 2×2 repeat, so its seams (or their absence) show.
      const image = first ? { src: first.thumb, alt: first.info?.prompt ?? first.name, tiled: first.info?.tiling === true } : undefined;
      const what = message.images.length === 1 ? (first?.name ?? "the image") : `${message.images.length} images`;
      const seeds = message.seeds.length === 1 ? `seed ${message.seeds[0]}` : `seeds ${message.seeds.join(", ")}`;
      generation.finished(`Saved ${what} in ${message.seconds.toFixed(1)} s · ${seeds}`, image);
      form.setLastSeed(message.seeds[0]);
      persist({ lastSeed: message.seeds[0], image });
      return;
    }
    case "showResult": {
      const { image } = message;
      generation.finished(image.info?.tiling ? `${image.name}: a seamless texture, shown repeated 2×2` : image.name, { src: image.thumb, alt: image.info?.prompt ?? image.name, tiled: image.info?.tiling === true });
      return;
    }
    case "failed":
      generation.finished("Failed.");
      messages.showError(message.error);
      return;
    case "cancelled":
      generation.finished("Cancelled: nothing was saved.");
      return;
    case "gallery":
      gallery.render(message.items, message.folders);
      return;
    case "restoreForm": {
      const restored = applyPatch(currentForm(), message.form);
      form.write(restored);
      persist({ form: restored });
      tokens.refresh();
      messages.showNotice("info", `Settings restored from ${message.source}.`);
      form.prompt.focus();
      return;
    }
    case "initImage":
      form.setInitImage(message.image);
      if (message.mask !== undefined) form.mask.setMask(message.mask);
      if (message.mode) form.setInitMode(message.mode);
      return;
    case "notice":
      messages.showNotice(message.kind, message.text);
      return;
  }
}

form.write(state.form);
form.setLastSeed(state.lastSeed);
if (state.image) generation.showImage(state.image.src, state.image.alt);
form.prompt.addEventListener("input", () => tokens.schedule("prompt"));
form.negativePrompt.addEventListener("input", () => tokens.schedule("negativePrompt"));
generation.generateButton.addEventListener("click", generate);
generation.cancelButton.addEventListener("click", cancel);
byId("pick-init", "vscode-button").addEventListener("click", () => post({ type: "pickInitImage" }));
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
    e.preventDefault();
    generate();
  } else if (e.key === "Escape" && (generation.isRunning || picker.isDownloading)) {
    e.preventDefault();
    cancel();
  }
});
window.addEventListener("message", (e: MessageEvent<HostMessage>) => receive(e.data));
post({ type: "ready" });
