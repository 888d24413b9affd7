// Small typed DOM helpers: elements by id with their tag checked, and an element builder that
// sets text (never HTML), so nothing from a message is ever parsed as markup.

export function byId<K extends keyof HTMLElementTagNameMap>(id: string, tag: K): HTMLElementTagNameMap[K] {
  const el = document.getElementById(id);
  if (!el || el.tagName.toLowerCase() !== tag) throw new Error(`the Studio page has no <${tag} id="${id}">`);
  return el as HTMLElementTagNameMap[K];
}

type Attributes = Readonly<Record<string, string | boolean | undefined>>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children);
  return el;
}

export function show(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
}

export interface SelectOption {
  readonly value: string;
  readonly label: string;
  readonly description?: string;
}

/**
 * Replaces a vscode-single-select's options and selects `value`. The option is also marked
 * `selected`: the element rebuilds its list from the options' own state when they change, so a
 * value set just before that would be lost.
 */
export function setOptions(select: HTMLElement & { value: string }, options: readonly SelectOption[], value: string): void {
  const chosen = options.some((o) => o.value === value) ? value : (options[0]?.value ?? "");
  select.replaceChildren(...options.map((o) => h("vscode-option", { value: o.value, description: o.description }, o.label)));
  selectValue(select, chosen);
}

/** Selects `value` in a vscode-single-select, on the element and on its options (see setOptions). */
export function selectValue(select: HTMLElement & { value: string }, value: string): void {
  for (const option of select.querySelectorAll("vscode-option")) option.toggleAttribute("selected", option.getAttribute("value") === value);
  select.value = value;
}
