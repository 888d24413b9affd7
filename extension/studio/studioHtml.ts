// The Studio page: a strict Content-Security-Policy (no inline script or style; scripts only with
// this load's nonce; images from the extension/workspace or data: previews), the bundled UI and
// its styles, and the static markup the script fills in. Element ids are stable: tests use them.
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";

function nonce(): string {
  return randomBytes(18).toString("base64").replace(/[+/=]/g, "");
}

export function studioHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const n = nonce();
  const asset = (...parts: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${n}'`,
  ].join("; ");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" id="vscode-codicon-stylesheet" href="${asset("dist", "webview", "studio.css")}">
<link rel="stylesheet" href="${asset("media", "studio.css")}">
<title>Easel Studio</title>
</head>
<body>
${STUDIO_MARKUP}
<script nonce="${n}" src="${asset("dist", "webview", "studio.js")}"></script>
</body>
</html>`;
}

const STUDIO_MARKUP = `<main id="studio">
<section id="form-pane" aria-label="Generation settings">
  <div class="field">
    <div class="label-row"><vscode-label for="prompt">Prompt</vscode-label><span id="prompt-tokens" class="tokens" aria-live="polite"></span></div>
    <vscode-textarea id="prompt" rows="4" resize="vertical" placeholder="Describe the image (Ctrl+Enter generates)" aria-haspopup="listbox" aria-expanded="false"></vscode-textarea>
    <ul id="lora-completions" class="completions" role="listbox" aria-label="LoRA names" hidden></ul>
    <p id="prompt-cut" class="cut-warning" hidden></p>
    <p id="prompt-loras" class="cut-warning" role="status" hidden></p>
  </div>
  <div class="field">
    <div class="label-row"><vscode-label for="negative-prompt">Negative prompt</vscode-label><span id="negative-prompt-tokens" class="tokens" aria-live="polite"></span></div>
    <vscode-textarea id="negative-prompt" rows="2" resize="vertical" placeholder="What to keep out of the image"></vscode-textarea>
    <p id="negative-prompt-cut" class="cut-warning" hidden></p>
  </div>
  <div class="field">
    <vscode-label for="model">Model</vscode-label>
    <div class="row">
      <vscode-single-select id="model" class="grow"></vscode-single-select>
      <vscode-button id="more-models" secondary title="Browse for a model folder or a Hugging Face repository">More…</vscode-button>
    </div>
    <div id="download" class="download" hidden>
      <vscode-progress-bar id="download-progress" aria-label="Model download"></vscode-progress-bar>
      <div class="row"><span id="download-text" class="grow" aria-live="polite"></span><vscode-button id="cancel-download" secondary>Cancel Download</vscode-button></div>
    </div>
  </div>
  <div class="field" id="loras-field">
    <div class="label-row"><vscode-label for="lora-choice">LoRAs</vscode-label><vscode-button id="refresh-loras" secondary title="Read the LoRA folders again (easel.loraFolders and the model store's loras/)">Refresh</vscode-button></div>
    <div class="row">
      <vscode-single-select id="lora-choice" class="grow" aria-describedby="lora-note"></vscode-single-select>
      <vscode-button id="add-lora" secondary disabled title="Add the chosen LoRA (Enter)">Add</vscode-button>
    </div>
    <p id="lora-note" class="muted" aria-live="polite"></p>
    <details id="lora-unusable" class="muted" hidden><summary id="lora-unusable-summary"></summary><ul id="lora-unusable-list"></ul></details>
    <ul id="lora-list" class="lora-list" aria-label="LoRAs used, with their weights" hidden></ul>
  </div>
  <div class="field">
    <vscode-label for="quality">Quality</vscode-label>
    <vscode-single-select id="quality" aria-describedby="fast-info">
      <vscode-option value="normal">Normal: the model's sampler, steps and guidance</vscode-option>
      <vscode-option value="fast">Fast: a few steps with a step-distillation LoRA</vscode-option>
    </vscode-single-select>
    <div id="fast-lora-field" class="field" hidden>
      <vscode-label for="fast-lora">Fast-mode LoRA</vscode-label>
      <vscode-single-select id="fast-lora" aria-describedby="fast-info"></vscode-single-select>
    </div>
    <p id="fast-info" class="muted" aria-live="polite"></p>
  </div>
  <div class="grid">
    <div class="field"><vscode-label for="scheduler">Scheduler</vscode-label><vscode-single-select id="scheduler"></vscode-single-select></div>
    <div class="field"><vscode-label for="steps">Steps</vscode-label><vscode-textfield id="steps" type="number" min="1" step="1" inputmode="numeric"></vscode-textfield></div>
    <div class="field"><vscode-label for="guidance">Guidance</vscode-label><vscode-textfield id="guidance" type="number" min="0" step="0.5" inputmode="decimal"></vscode-textfield></div>
    <div class="field"><vscode-label for="batch">Images</vscode-label><vscode-textfield id="batch" type="number" min="1" step="1" value="1" inputmode="numeric"></vscode-textfield></div>
  </div>
  <div class="field">
    <vscode-label for="seed-mode">Seed</vscode-label>
    <div class="row">
      <vscode-single-select id="seed-mode">
        <vscode-option value="random">Random</vscode-option>
        <vscode-option value="fixed">Fixed</vscode-option>
      </vscode-single-select>
      <vscode-textfield id="seed" class="grow" inputmode="numeric" placeholder="a new one each time" aria-label="Seed value"></vscode-textfield>
      <vscode-button id="reuse-seed" secondary disabled title="Use the seed of the last image">Reuse Last</vscode-button>
    </div>
  </div>
  <div class="field">
    <vscode-label for="size">Size</vscode-label>
    <vscode-single-select id="size"></vscode-single-select>
    <div id="custom-size" class="row" hidden>
      <vscode-textfield id="width" type="number" step="64" min="64" max="2048" aria-label="Width in pixels" placeholder="width"></vscode-textfield>
      <span aria-hidden="true">×</span>
      <vscode-textfield id="height" type="number" step="64" min="64" max="2048" aria-label="Height in pixels" placeholder="height"></vscode-textfield>
    </div>
  </div>
  <div class="field">
    <vscode-label for="decoder">Decode</vscode-label>
    <vscode-single-select id="decoder">
      <vscode-option value="default">As in the settings (easel.fastDecode)</vscode-option>
      <vscode-option value="vae">Full VAE</vscode-option>
      <vscode-option value="taesd">Draft: TAESD, fast, slightly softer</vscode-option>
    </vscode-single-select>
  </div>
  <div class="field row">
    <vscode-checkbox id="tileable" label="Seamless tiling (a texture that repeats without seams)">Seamless tiling (a texture that repeats without seams)</vscode-checkbox>
  </div>
  <div class="field">
    <vscode-label for="hires-scale">Hires fix</vscode-label>
    <div class="row">
      <vscode-textfield id="hires-scale" type="number" min="1.05" max="4" step="0.25" inputmode="decimal" placeholder="off" aria-label="Hires scale: generate, upscale by this, then refine"></vscode-textfield>
      <vscode-label for="hires-strength">Strength</vscode-label>
      <vscode-textfield id="hires-strength" type="number" min="0.05" max="1" step="0.05" value="0.5" inputmode="decimal"></vscode-textfield>
      <span class="muted">upscale ×scale, then redraw details</span>
    </div>
    <div class="row">
      <vscode-label for="hires-steps">Hires steps</vscode-label>
      <vscode-textfield id="hires-steps" type="number" min="1" step="1" inputmode="numeric" placeholder="as the first pass" aria-label="Hires steps: the second pass's steps, empty for the first pass's"></vscode-textfield>
      <vscode-label for="hires-upscaler">Upscaler</vscode-label>
      <vscode-single-select id="hires-upscaler" aria-label="Hires upscaler: what enlarges the image between the passes">
        <vscode-option value="">Automatic: a downloaded model, else Lanczos</vscode-option>
      </vscode-single-select>
    </div>
  </div>
  <div class="field">
    <vscode-label for="background">Background</vscode-label>
    <vscode-single-select id="background">
      <vscode-option value="opaque">Keep the background</vscode-option>
      <vscode-option value="transparent">Transparent: remove it (PNG with alpha)</vscode-option>
    </vscode-single-select>
    <div class="row">
      <vscode-label for="matte">Matte</vscode-label>
      <vscode-textfield id="matte" type="number" min="0.05" max="0.95" step="0.05" inputmode="decimal" placeholder="soft edges" aria-label="Matte threshold: with a transparent background, cut alpha at this level for hard edges (empty: soft edges)"></vscode-textfield>
      <span class="muted">transparent only: hard edges at this alpha</span>
    </div>
  </div>
  <fieldset class="field init-image">
    <legend>Start from an image (img2img)</legend>
    <div class="row">
      <img id="init-thumb" alt="" hidden>
      <span id="init-name" class="grow muted">None: the image starts from noise</span>
      <vscode-button id="pick-init" secondary>Choose Image…</vscode-button>
      <vscode-button id="clear-init" secondary hidden>Remove</vscode-button>
    </div>
    <div id="init-mode-field" class="row" hidden>
      <vscode-label for="init-mode">Use it to</vscode-label>
      <vscode-single-select id="init-mode" class="grow">
        <vscode-option value="img2img">Redraw it (img2img)</vscode-option>
        <vscode-option value="inpaint">Inpaint: repaint a painted area</vscode-option>
        <vscode-option value="outpaint">Extend it (outpaint)</vscode-option>
      </vscode-single-select>
    </div>
    <div id="strength-field" class="row" hidden>
      <vscode-label for="strength">Strength</vscode-label>
      <vscode-textfield id="strength" type="number" min="0.05" max="1" step="0.05" value="0.6" inputmode="decimal"></vscode-textfield>
      <span class="muted">low keeps the image, 1 redraws it</span>
    </div>
    <div id="mask-editor" class="mask-editor" hidden>
      <div class="row mask-tools" role="toolbar" aria-label="Mask tools">
        <vscode-button id="mask-brush" secondary title="Brush (B): paint what is repainted">Brush</vscode-button>
        <vscode-button id="mask-eraser" secondary title="Eraser (E)">Eraser</vscode-button>
        <label for="mask-size" class="muted">Size</label>
        <input id="mask-size" type="range" min="2" max="512" step="1" value="48" title="Brush size ([ and ])">
        <span id="mask-size-value" class="muted"></span>
        <vscode-button id="mask-invert" secondary title="Invert (I)">Invert</vscode-button>
        <vscode-button id="mask-clear" secondary title="Clear (Delete)">Clear</vscode-button>
      </div>
      <div id="mask-stage" class="mask-stage">
        <img id="mask-image" alt="The starting image">
        <canvas id="mask-canvas" tabindex="0" aria-label="Mask over the starting image: white is repainted. B brush, E eraser, [ and ] size, I invert, Delete clear, arrow keys move the brush, Space paints." aria-describedby="mask-help"></canvas>
        <div id="mask-cursor" class="mask-cursor" aria-hidden="true" hidden></div>
      </div>
      <p id="mask-help" class="muted">Paint where the image is repainted (white). Keys on the mask: B brush, E eraser, [ and ] brush size, I invert, Delete clear; arrow keys move the brush (Shift: further), Space paints.</p>
    </div>
    <div id="outpaint-field" class="outpaint" hidden>
      <div class="grid">
        <div class="field"><vscode-label for="outpaint-left">Left</vscode-label><vscode-textfield id="outpaint-left" type="number" min="0" step="8" value="0" inputmode="numeric"></vscode-textfield></div>
        <div class="field"><vscode-label for="outpaint-right">Right</vscode-label><vscode-textfield id="outpaint-right" type="number" min="0" step="8" value="0" inputmode="numeric"></vscode-textfield></div>
        <div class="field"><vscode-label for="outpaint-top">Top</vscode-label><vscode-textfield id="outpaint-top" type="number" min="0" step="8" value="0" inputmode="numeric"></vscode-textfield></div>
        <div class="field"><vscode-label for="outpaint-bottom">Bottom</vscode-label><vscode-textfield id="outpaint-bottom" type="number" min="0" step="8" value="0" inputmode="numeric"></vscode-textfield></div>
      </div>
      <p id="outpaint-size" class="muted" aria-live="polite"></p>
    </div>
  </fieldset>
  <p id="form-problem" class="form-problem" role="alert" hidden></p>
  <div class="actions">
    <vscode-button id="generate" title="Ctrl+Enter">Generate</vscode-button>
    <vscode-button id="cancel" secondary disabled title="Escape">Cancel</vscode-button>
  </div>
</section>
<section id="output-pane" aria-label="Result">
  <div id="error" class="error" role="alert" hidden>
    <p id="error-message"></p>
    <div id="error-actions" class="row"></div>
  </div>
  <p id="notice" class="notice" role="status" aria-live="polite" hidden></p>
  <figure id="preview" aria-label="Preview">
    <img id="preview-image" alt="" hidden>
    <div id="preview-tiles" class="tiles" role="img" hidden><img alt=""><img alt=""><img alt=""><img alt=""></div>
    <figcaption id="preview-empty" class="muted">The image appears here, step by step.</figcaption>
  </figure>
  <vscode-progress-bar id="progress" aria-label="Generation progress" hidden></vscode-progress-bar>
  <p id="status" class="status" aria-live="polite"></p>
  <div class="gallery-header">
    <h2 id="gallery-title">Gallery</h2>
    <vscode-button id="refresh-gallery" secondary title="Read the output folders again">Refresh</vscode-button>
  </div>
  <p id="gallery-empty" class="muted" hidden></p>
  <ul id="gallery" aria-labelledby="gallery-title"></ul>
</section>
</main>`;
