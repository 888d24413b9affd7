// The LoRA picker: the LoRAs the host found (easel.loraFolders and the model store's loras/), each
// with its base model; those made for another base, or that cannot be used at all, are shown but
// not selectable, with the reason. Chosen LoRAs are rows with a weight slider, the same weight as a
// typed number, and a Remove button. The "Fast" quality's line (what it will merge and run) lives
// here too: both come from the host's "loras" message.
import { DEFAULT_LORA_WEIGHT, type FastChoice, LORA_WEIGHT_STEP, MAX_STUDIO_LORAS, type LorasMessage, type LoraOption } from "../extension/protocol/studioMessages";
import { byId, h, setOptions, show } from "./dom";
import { DEFAULT_LORA_WEIGHT_LIMIT, type LoraField } from "./formValues";
import { post } from "./vscodeApi";

interface Row {
  readonly name: string;
  readonly li: HTMLLIElement;
  readonly slider: HTMLInputElement;
  readonly number: HTMLElementTagNameMap["vscode-textfield"];
  readonly note: HTMLParagraphElement;
}

/** A fast-mode LoRA's recipe in words: "4 steps of LCM at guidance 1", "4 steps of EULER (trailing timesteps) at guidance 0". */
function recipe(c: FastChoice): string {
  return `${c.steps} steps of ${c.scheduler.toUpperCase()}${c.timestepSpacing ? ` (${c.timestepSpacing} timesteps)` : ""} at guidance ${c.guidance}`;
}

/** What a LoRA is, for a label: "SD 1.x", or that its keys do not tell. */
function baseLabel(option: LoraOption | undefined): string {
  return option?.base ?? "base unknown";
}

export class LoraPicker {
  private readonly choice = byId("lora-choice", "vscode-single-select");
  private readonly add = byId("add-lora", "vscode-button");
  private readonly note = byId("lora-note", "p");
  private readonly list = byId("lora-list", "ul");
  private readonly unusable = byId("lora-unusable", "details");
  private readonly unusableSummary = byId("lora-unusable-summary", "summary");
  private readonly unusableList = byId("lora-unusable-list", "ul");
  private readonly fastInfo = byId("fast-info", "p");
  private readonly fastField = byId("fast-lora-field", "div");
  private readonly fastLora = byId("fast-lora", "vscode-single-select");
  /** The fast-mode LoRA the form names (a pick, a restored image's); "" follows the host's `chosen` (easel.fastLora, else the default). */
  private fastWanted = "";
  private rows: Row[] = [];
  private message: LorasMessage | undefined;

  constructor(private readonly onChange: () => void) {
    this.add.addEventListener("click", () => this.addChosen());
    this.choice.addEventListener("change", () => this.syncChoice());
    // Enter on the list of LoRAs adds the one shown (the select itself opens on Space).
    this.choice.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.ctrlKey && !e.metaKey && !this.add.disabled) {
        e.preventDefault();
        this.addChosen();
      }
    });
    byId("refresh-loras", "vscode-button").addEventListener("click", () => post({ type: "refreshLoras" }));
    this.fastLora.addEventListener("change", () => {
      const fast = this.message?.fast;
      this.fastWanted = fast?.available && this.fastLora.value !== fast.chosen ? this.fastLora.value : "";
      this.showFastInfo();
      this.onChange();
    });
  }

  /**
   * The form's fast-mode LoRA: the id picked (or restored), or "" for the host's choice. One this
   * model cannot use (a restored SDXL image's, an SD 1.5 model chosen since) is not sent: the list
   * shows the host's choice then, and that is what runs.
   */
  readFastLora(): string {
    const fast = this.message?.fast;
    if (!fast) return this.fastWanted;
    return fast.available && fast.choices.some((c) => c.id === this.fastWanted) ? this.fastWanted : "";
  }

  /** Puts a form's fast-mode LoRA back ("" follows the host's choice). */
  writeFastLora(id: string): void {
    this.fastWanted = id;
    if (this.message) this.showFast(this.message);
  }

  /** The host's reading: the choices, the model's base, the weight range, fast mode. */
  get options(): LorasMessage | undefined {
    return this.message;
  }

  get weightLimit(): number {
    return this.message?.weightLimit ?? DEFAULT_LORA_WEIGHT_LIMIT;
  }

  setLoras(message: LorasMessage): void {
    this.message = message;
    const usable = message.loras.filter((o) => !o.unfit && !o.problem);
    const options = message.loras.map((o) => ({
      value: o.name,
      label: o.problem ? `${o.name} (cannot be used)` : o.unfit ? `${o.name} (${baseLabel(o)}: not for this model)` : `${o.name} · ${baseLabel(o)}`,
      description: o.problem ?? o.unfit ?? (o.base ? `trained for ${o.base}` : "its keys do not say which base model it was trained for"),
    }));
    const placeholder = { value: "", label: message.loras.length === 0 ? "No LoRAs found" : usable.length === 0 ? "None fits this model" : "Choose a LoRA…" };
    setOptions(this.choice, [placeholder, ...options], "");
    // Options that cannot be chosen are disabled in the list (their description says why).
    for (const el of this.choice.querySelectorAll("vscode-option")) {
      const option = message.loras.find((o) => o.name === el.getAttribute("value"));
      el.toggleAttribute("disabled", !!option && !!(option.unfit || option.problem));
    }
    this.choice.disabled = message.loras.length === 0;
    // Why the others cannot be picked, readable without opening the list.
    const blocked = message.loras.filter((o) => o.unfit || o.problem);
    this.unusableSummary.textContent = `${blocked.length} ${blocked.length === 1 ? "LoRA" : "LoRAs"} not usable with this model`;
    this.unusableList.replaceChildren(...blocked.map((o) => h("li", {}, `${o.name}: ${o.problem ?? o.unfit ?? ""}`)));
    show(this.unusable, blocked.length > 0);
    for (const row of this.rows) {
      row.slider.min = String(-message.weightLimit);
      row.slider.max = String(message.weightLimit);
    }
    this.syncChoice();
    this.syncRows();
    this.showFast(message);
  }

  /** The chosen LoRAs, weights as typed. */
  read(): LoraField[] {
    return this.rows.map((r) => ({ name: r.name, weight: r.number.value }));
  }

  /** Puts a form's LoRAs back (a reload, a restored image). */
  write(loras: readonly LoraField[]): void {
    // The same LoRAs (the form written again on a models message): values only, so a weight being
    // typed keeps its focus.
    if (loras.length === this.rows.length && loras.every((l, i) => l.name === this.rows[i].name)) {
      loras.forEach((l, i) => {
        const row = this.rows[i];
        if (row.number.value !== l.weight) {
          row.number.value = l.weight;
          row.slider.value = l.weight;
        }
      });
      this.syncRows();
      return;
    }
    for (const row of this.rows) row.li.remove();
    this.rows = [];
    for (const l of loras) this.addRow(l.name, l.weight, false);
    this.syncRows();
    // The choice shown may be one of them now: Add is disabled for it.
    this.syncChoice();
  }

  /** A weight that is not valid: its field marked and focused. */
  focusInvalid(): void {
    const limit = this.weightLimit;
    const bad = this.rows.find((r) => !(Number(r.number.value) >= -limit && Number(r.number.value) <= limit) || r.number.value.trim() === "");
    const row = bad ?? this.rows[0];
    if (!row) return;
    row.number.invalid = true;
    row.number.focus();
  }

  /** The fast-mode LoRAs this model can use (the one the form names, else the host's choice, selected), and the quality's line. */
  private showFast(message: LorasMessage): void {
    const fast = message.fast;
    show(this.fastField, fast.available && fast.choices.length > 1);
    if (fast.available) {
      const options = fast.choices.map((c) => ({ value: c.id, label: c.id === fast.choices[0].id ? `${c.lora} (default)` : c.lora, description: `${c.license}; ${recipe(c)}` }));
      setOptions(this.fastLora, options, fast.choices.some((c) => c.id === this.fastWanted) ? this.fastWanted : fast.chosen);
    }
    this.showFastInfo();
  }

  /** What Fast merges and runs with the LoRA selected, or why it does not apply. */
  private showFastInfo(): void {
    const fast = this.message?.fast;
    if (!fast) return;
    if (!fast.available) {
      this.fastInfo.textContent = `Fast is not available: ${fast.reason}.`;
      return;
    }
    const c = fast.choices.find((x) => x.id === this.fastLora.value) ?? fast.choices.find((x) => x.id === fast.chosen) ?? fast.choices[0];
    this.fastInfo.textContent = `Fast merges ${c.lora} (${c.license}) and runs ${recipe(c)} (unless Scheduler, Steps or Guidance say otherwise)${c.downloaded ? "." : "; the LoRA is downloaded, after asking, the first time."}`;
  }

  private syncChoice(): void {
    const name = this.choice.value;
    const option = this.message?.loras.find((o) => o.name === name);
    const taken = this.rows.some((r) => r.name === name);
    const full = this.rows.length >= MAX_STUDIO_LORAS;
    this.add.disabled = !option || !!option.unfit || !!option.problem || taken || full;
    const m = this.message;
    const where = m && m.folders.length > 0 ? m.folders.join(", ") : "easel.loraFolders";
    this.note.textContent =
      m === undefined ? "" :
      m.loras.length === 0 ? `No LoRAs (.safetensors) in ${where}: put some there, or add a folder to easel.loraFolders, then Refresh.` :
      option?.problem ? `${option.name} cannot be used: ${option.problem}` :
      option?.unfit ? `${option.name} is ${option.unfit}.` :
      taken ? `${name} is already added: change its weight below.` :
      full ? `At most ${MAX_STUDIO_LORAS} LoRAs at once.` :
      m.modelBase ? `LoRAs for ${m.modelBase} fit this model.` : "";
    show(this.note, this.note.textContent !== "");
  }

  private addChosen(): void {
    if (this.add.disabled || this.rows.some((r) => r.name === this.choice.value)) return;
    this.addRow(this.choice.value, String(DEFAULT_LORA_WEIGHT), true);
    this.syncChoice();
    this.syncRows();
    this.onChange();
  }

  private addRow(name: string, weight: string, focus: boolean): void {
    const limit = this.weightLimit;
    const id = `lora-weight-${this.rows.length}-${Math.random().toString(36).slice(2, 8)}`;
    const slider = h("input", { type: "range", min: String(-limit), max: String(limit), step: String(LORA_WEIGHT_STEP), value: weight, "aria-label": `Weight of LoRA ${name}`, class: "grow" });
    const number = h("vscode-textfield", { id, type: "number", step: String(LORA_WEIGHT_STEP), inputmode: "decimal", value: weight, "aria-label": `Weight of LoRA ${name} (typed)`, class: "lora-weight" });
    const remove = h("vscode-button", { secondary: true, title: `Remove ${name}`, "aria-label": `Remove LoRA ${name}` }, "Remove");
    const label = h("span", { class: "lora-name" }, name);
    const base = h("span", { class: "muted" });
    const note = h("p", { class: "cut-warning", hidden: true });
    const li = h("li", { class: "lora-row", "data-lora": name }, h("div", { class: "row" }, label, base), h("div", { class: "row" }, slider, number, remove), note);
    const row: Row = { name, li, slider, number, note };
    slider.addEventListener("input", () => {
      number.value = slider.value;
      number.invalid = false;
      this.onChange();
    });
    number.addEventListener("input", () => {
      number.invalid = false;
      const v = Number(number.value);
      if (number.value.trim() !== "" && Number.isFinite(v)) slider.value = String(v);
      this.onChange();
    });
    remove.addEventListener("click", () => {
      const at = this.rows.indexOf(row);
      this.rows.splice(at, 1);
      li.remove();
      this.syncChoice();
      this.syncRows();
      this.onChange();
      // Focus stays in the list: the next row's Remove, else the picker.
      const next = this.rows[Math.min(at, this.rows.length - 1)];
      if (next) next.li.querySelector("vscode-button")?.focus();
      else this.choice.focus();
    });
    this.rows.push(row);
    this.list.append(li);
    if (focus) number.focus();
  }

  /** Each chosen row's base, and a line when it is no longer listed or does not fit the model. */
  private syncRows(): void {
    show(this.list, this.rows.length > 0);
    const m = this.message;
    for (const row of this.rows) {
      const option = m?.loras.find((o) => o.name === row.name);
      const base = row.li.querySelector(".muted");
      if (base) base.textContent = option ? baseLabel(option) : "";
      const problem = !m ? undefined : !option ? `not in the LoRA folders (${m.folders.join(", ") || "easel.loraFolders"}): the generation would fail; Refresh, or remove it` : option.problem ? `cannot be used: ${option.problem}` : option.unfit ? `${option.unfit}, or remove it` : undefined;
      row.note.textContent = problem ?? "";
      show(row.note, problem !== undefined);
    }
  }
}
