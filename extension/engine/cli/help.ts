import { fastLorasForFamily } from "../hub/catalog";
import { MAX_BATCH, MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SEED, MAX_SIDE, MAX_STEPS, MIN_SIDE } from "../pipeline/resolveRequest";

/**
 * The catalog's fast-mode LoRAs for a family, its default first, as help lines in the option
 * column (listed from the catalog, not by hand; wrapped at 100 columns).
 */
function fastLoraLines(label: string, family: string): string {
  const indent = " ".repeat(26);
  const ids = fastLorasForFamily(family).map((l, i, all) => `${l.id}${i < all.length - 1 ? "," : ""}`);
  const lines: string[] = [];
  let line = `${indent}${label}:`;
  for (const id of ids) {
    if (line.length + 1 + id.length > 100) {
      lines.push(line);
      line = `${indent}  ${id}`;
    } else line += ` ${id}`;
  }
  return [...lines, line].join("\n");
}

export const MAIN_HELP = `easel — Stable Diffusion on your own machine (ONNX Runtime, no cloud)

Usage:
  easel generate --model DIR --prompt TEXT [options]   make images (img2img, inpainting with --mask)
  easel outpaint --image FILE --left N … [options]     extend an image on any side
  easel upscale FILE [--scale 2|4] [--out FILE.png]    enlarge an image (super-resolution or Lanczos)
  easel rembg FILE [--out FILE.png] [--matte T]        make the background transparent
  easel pack FILE --preset NAME --out DIR              favicon/app-icon/social-card asset packs
  easel tokenize --model DIR [--json] TEXT             CLIP token ids, weights and chunks of a prompt
  easel info [--json] FILE.png                         the generation parameters stored in an image
  easel models list|pull|verify|rm|add …               the model catalog, downloads and local folders
  easel gpu install cuda [--yes]                       Linux x64 + NVIDIA: fetch CUDA's ONNX Runtime libraries
  easel doctor [--json]                                which GPU providers work here, and how to enable the others
  easel assets list|check|regenerate [FILES…]         the workspace's easel-assets.json: check or remake images
  easel mcp [--root DIR] [--model MODEL]               the image tools for AI agents (MCP over stdio)
  easel --version

Run 'easel <command> --help' for a command's options.`;

export const GENERATE_HELP = `Usage: easel generate --model DIR --prompt TEXT [options]

  --model MODEL           a model folder in the diffusers ONNX layout (model_index.json, unet/, …),
                          a catalog id (easel models list) or a Hugging Face owner/name[@revision]
                          (downloaded and verified first when missing)
  --accept-license        accept the model's licence without asking (needed when not on a terminal)
  --prompt TEXT           what to draw (may be empty; at most ${MAX_PROMPT_CHARS} characters)
  --prompt-file FILE      read the prompt from a UTF-8 file instead (- for standard input)
  --negative-prompt TEXT  what to avoid (used when guidance > 1)
  --negative-prompt-file FILE   the same from a file (- for standard input)
  --prompt-syntax NAME    plain | a1111 (default plain: the prompt as written, cut after 75 tokens;
                          a1111: (word) (word:1.3) [word] weights, \( escapes, BREAK, 75-token chunks)
  --scheduler NAME        default | euler | euler-a | ddim | pndm | lms | dpmpp-2m | dpmpp-2m-karras | lcm
  --steps N               denoising steps, 1..${MAX_STEPS} (default from the model family)
  --guidance F            classifier-free guidance scale, 0..${MAX_GUIDANCE} (default from the model family)
  --seed N                0..${MAX_SEED} (random when absent; image i uses seed + i)
  --width W, --height H   image size in pixels, a multiple of the model's granularity, ${MIN_SIDE}..${MAX_SIDE}
  --batch N               how many images, 1..${MAX_BATCH} (default 1)
  --init-image FILE       start from this image (img2img)
  --mask FILE             inpaint: repaint the white part of the init image, keep the black part
                          (the image's size, which is the output's unless --width/--height say
                          otherwise; an inpainting model uses its own 9-channel UNet,
                          any other model keeps the black part's latents at every step)
  --strength F            img2img strength in (0, 1] (default 0.8; 1 with --mask)
  --tileable              seamless tiling: every convolution of the UNet and VAE pads circularly, so
                          the image repeats without seams (recorded as "Tiling: True")
  --hires-scale F         hires fix: generate at --width x --height, upscale by F (1 < F <= 4; the
                          result at most ${MAX_SIDE} a side), then img2img at that size
  --hires-strength F      the hires pass's denoising strength in (0, 1] (needed with --hires-scale)
  --hires-steps N         the hires pass's steps (default: --steps)
  --hires-upscaler NAME   lanczos, a catalog upscaler (easel models list) or an .onnx file (default:
                          the first upscaler downloaded, else lanczos)
  --provider NAME         auto | cpu | webgpu | dml | cuda | coreml (default auto); cuda (Linux x64)
                          needs 'easel gpu install cuda' once
  --decoder vae|taesd     the final decode: the full VAE (default), or a fast draft through the
                          TAESD decoder of the model's family (recorded in the PNG as
                          "VAE Decoder: TAESD"; get one with 'easel models pull taesd')
  --lora FILE[:WEIGHT]    merge a LoRA (.safetensors, kohya/A1111 or diffusers/PEFT keys, LoCon) into
                          the model; WEIGHT -10..10, default 1; repeatable (they add up). With
                          --prompt-syntax a1111, <lora:NAME:WEIGHT> in the prompt works too
  --lora-folder DIR       where <lora:NAME> finds NAME.safetensors (repeatable; the model store's
                          loras/ folder is searched after these)
  --fast                  fast mode: merge a step-distillation LoRA from the catalog (fetched the
                          first time; by default LCM-LoRA for the model's family, SD 1.x or SDXL)
                          and run its card's recipe (LCM-LoRA: the LCM sampler, 4 steps, guidance 1)
                          unless --scheduler/--timestep-spacing/--steps/--guidance say otherwise
  --fast-lora ID          fast mode with this catalog LoRA instead of the family's default (the first
                          listed; 'easel models list' shows each one's recipe and licence):
${fastLoraLines("SD 1.x", "sd1")}
${fastLoraLines("SDXL", "sdxl")}
  --timestep-spacing S    linspace | leading | trailing: how the sampler spaces its steps
                          (diffusers' timestep_spacing; default: the model's scheduler config;
                          SDXL-Lightning and Hyper-SD use trailing; recorded in the PNG)
  --transparent           remove the background of each image (the catalog's background-removal
                          model, downloaded the first time): a PNG with a real alpha channel
  --matte T               with --transparent: hard edges, alpha cut at T in (0, 1)
  --rembg-model MODEL     with --transparent: a background-removal catalog id or .onnx file
  --no-taesd              when a catalog model is downloaded now, do not fetch its family's TAESD
                          decoder with it (remembered); by default it is fetched (a few MB)
  --out FILE.png          output file, replaced if it exists and is writable (refused if read-only);
                          default <prompt slug>-<seed>.png; a batch writes <stem>-<seed+i>.png;
                          names Easel makes up never replace a file: they get -2, -3…
  --json                  print one JSON line: {"images":[{"path","seed"}],"provider","vaeDecoder","seconds"};
                          each seed is a decimal string (seeds exceed what JSON numbers keep exactly)
  --record                add each image to easel-assets.json (how to make it again; see 'easel assets')
  --workspace DIR         with --record: the folder holding easel-assets.json (default the current
                          folder); the images and input images must lie inside it
  --verbose               stack traces and provider probing details on errors`;

export const OUTPAINT_HELP = `Usage: easel outpaint --model DIR --image FILE --prompt TEXT [--left N] [--right N] [--top N] [--bottom N] [options]

Extends the image by N pixels on each side given, then inpaints the new area (and an overlap band of
the original along each extended side, so the seam is repainted too).

  --image FILE            the image to extend; the output is its size plus the sides, each a multiple
                          of the model's granularity and at most 2048
  --left/--right/--top/--bottom N   pixels to add on that side (default 0; at least one)
  --overlap N             pixels of the original repainted along each extended side (default 8)
  --fill edge|noise       how the new area starts: its nearest edge pixel repeated (default), or
                          random colours (seeded by --seed); only --strength below 1 starts from it
  --strength F            in (0, 1] (default 1: the new area starts from pure noise; e.g. 0.8 keeps
                          the fill's colours)

The other options are generate's (--model, --prompt, --negative-prompt, --scheduler, --steps,
--guidance, --seed, --batch, --prompt-syntax, --provider, --out, --json, --verbose, --accept-license,
--transparent, --matte, --rembg-model, --record, --workspace);
--width/--height/--init-image/--mask are not taken: the size follows from the image and the sides.`;

export const UPSCALE_HELP = `Usage: easel upscale FILE [--scale 2|4] [--out FILE.png] [--model NAME]

Enlarges an image with a super-resolution model, tile by tile (any size runs in bounded memory),
then Lanczos to exactly --scale times its size; with no model, Lanczos alone. The image's generation
parameters (a PNG's "parameters" text) are kept.

  --scale 2|4             the factor (default 4)
  --model NAME            lanczos, a catalog upscaler id (easel models pull realesrgan-x4plus) or an
                          .onnx file (default: the first catalog upscaler downloaded, else lanczos)
  --out FILE.png          default FILE-x<scale>.png beside the image (never replacing a file)
  --tile N                tile core in pixels, 16..2048 (default 192; a fixed-size graph sets its own)
  --overlap N             context around each tile, 0..256 (default 16)
  --provider NAME         auto | cpu | webgpu | dml | cuda | coreml (default auto)
  --json                  print {"path","width","height","upscaler","seconds"}
  --record                add the written image(s) to easel-assets.json: the source image's path
                          and pixel hash and this step, so 'easel assets check|regenerate' can
                          make them again (every file read and written inside the workspace)
  --workspace DIR         with --record: the folder holding easel-assets.json (default the current folder)`;

export const TOKENIZE_HELP = `Usage: easel tokenize --model DIR [--prompt-syntax plain|a1111] [--json] TEXT

Prints the rows of 77 token ids the text encoder receives (one per 75-token chunk in the a1111
syntax, one truncated row in the plain syntax, the default), each token's weight, the prompt's own
token count and whether the plain syntax cut it at 75 tokens. --json prints
{"chunks":[{"ids":[…77],"weights":[…77]}],"ids":[…],"count":N,"truncated":bool}, where "ids" is the
first chunk's and "count" counts the tokens of every chunk. An SDXL
model's second tokenizer (tokenizer_2/, its own padding) adds its ids: "ids (tokenizer_2)" under each
chunk's, in JSON "tokenizer_2":{"chunks","ids","count","truncated"}.`;

export const INFO_HELP = `Usage: easel info [--json] FILE.png

Prints the generation parameters (A1111 infotext) stored in an image, control characters shown as
\\xNN. --json prints the parsed fields, every value a string: {"prompt","negativePrompt",
"parameters":{…},"infotext"}. FILE must be a regular file of at most 64 MiB.`;

export const REMBG_HELP = `Usage: easel rembg FILE [--out FILE.png|FILE.webp] [--matte T] [--model ID|FILE.onnx] [--provider NAME] [--json]

Makes the background of an image transparent with a background-removal model (the catalog's
birefnet-lite, BiRefNet_lite, MIT, about 224 MB, downloaded into the model store the first time;
'easel models pull birefnet-lite' fetches it ahead). The model's mask becomes the alpha channel;
the colour at soft edges is re-estimated (blur-fusion foreground estimation) so no fringe of the
old background remains.

  --out FILE              a .png (default) or .webp file, replaced if it exists; JPEG cannot hold
                          transparency and is refused. Default: FILE-nobg.png beside the image
                          (never replacing a file: -2, -3…)
  --matte T               hard edges: alpha at or above T (0 < T < 1) opaque, below it transparent
  --model ID|FILE.onnx    another catalog background remover, or a graph file read with
                          birefnet-lite's preprocessing (1024², ImageNet mean/std, sigmoid)
  --provider NAME         auto | cpu | webgpu | dml | cuda | coreml (default auto)
  --json                  print {"path","seconds"}
  --record                add the written image(s) to easel-assets.json: the source image's path
                          and pixel hash and this step, so 'easel assets check|regenerate' can
                          make them again (every file read and written inside the workspace)
  --workspace DIR         with --record: the folder holding easel-assets.json (default the current folder)`;

export const PACK_HELP = `Usage: easel pack FILE --preset NAME --out DIR [options]
       easel pack --prompt TEXT --model MODEL --preset NAME --out DIR [options]

Writes an asset pack made from one image into DIR (created; an existing DIR must not already hold
the pack's files). Everything is rendered first and staged beside DIR, so a failure leaves nothing.

Presets:
  web               favicon.ico (16, 32, 48), favicon-16x16.png, favicon-32x32.png,
                    apple-touch-icon.png (180, opaque), android-chrome-192x192.png,
                    android-chrome-512x512.png, maskable-icon-512x512.png (picture in the central
                    80% safe zone, opaque), site.webmanifest, head-tags.html (the <link> tags,
                    also printed)
  ios               AppIcon.appiconset/ with AppIcon-1024.png (opaque) and Contents.json in
                    Xcode 14+'s single-size format
  android           mipmap-{mdpi,hdpi,xhdpi,xxhdpi,xxxhdpi}/ic_launcher.png (48..192) and
                    ic_launcher_round.png
  vscode-extension  icon.png, 128x128
  social            og-image.png, 1200x630, cropped around the most salient part, opaque; the
                    <meta> tags in head-tags.html (also printed)

Options:
  --name TEXT       the app name in site.webmanifest (default "App")
  --background #RRGGBB  the fill of opaque icons and the manifest's colours (default #ffffff)
  --title TEXT      social: a title drawn on the card (sans-serif) and in og:title
  --base-url URL    the prefix of the tags' hrefs (default /; Open Graph wants an absolute URL)
  --no-upscale      refuse an image smaller than the pack's largest file instead of upscaling it
                    with Lanczos (a warning says when it is upscaled)
  --json            print {"dir","files","headTags","notes"}

From a prompt (instead of FILE): one image is generated first and packed (it is in the pack as
source.png, with its parameters): square presets at the model's default size, social at the
model's nearest size to 1200:630 (e.g. 1024x536), then cropped around its subject.
  --prompt TEXT --model MODEL   as for generate; also --negative-prompt, --seed, --steps,
                    --guidance, --provider, --accept-license
  --width W         the generated image's (long) side (default: the model's default width)
  --record          add each image file of the pack (and a generated source.png) to
                    easel-assets.json, so 'easel assets check|regenerate' can make them again
  --workspace DIR   with --record: the folder holding easel-assets.json (default the current folder)`;
export const DOCTOR_HELP = `Usage: easel doctor [--json]

Tries every execution provider ONNX Runtime has on this platform (a one-node graph in a child
process each), and prints what each said, the graphics adapters and driver the operating system
reports, what \`auto\` uses, how many models each provider failed with this driver (remembered),
and what to do to enable a provider that does not work.

  --json   one line of JSON: {"platform","adapters","providers":[{"provider","state","detail","fp16","fix","rememberedFailures"}],"autoOrder","autoUses"}`;

export const MCP_HELP = `Usage: easel mcp [--root DIR] [--model MODEL] [--provider NAME]

Serves Easel's image tools over the Model Context Protocol on standard input and output, for
agents (Claude Code, Cursor, VS Code, any MCP client): generate_image, edit_image (img2img,
inpainting, outpainting), icon_set and list_models.

  --root DIR        the only folder the tools read images from and write images into
                    (default: the current folder); paths outside it are refused
  --model MODEL     the default model: a catalog id, owner/name or folder already downloaded
                    (the tools never download; 'easel models pull ID' does)
  --provider NAME   auto | cpu | webgpu | dml | cuda | coreml (default auto)

The model loads once and serves every call, one at a time; a client that disconnects cancels
the generation in progress. Files are never replaced: a taken name gets -2, -3…`;
