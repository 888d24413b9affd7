import { MAX_BATCH, MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SEED, MAX_SIDE, MAX_STEPS, MIN_SIDE } from "../pipeline/resolveRequest";

export const MAIN_HELP = `easel — Stable Diffusion on your own machine (ONNX Runtime, no cloud)

Usage:
  easel generate --model DIR --prompt TEXT [options]   make images (img2img, inpainting with --mask)
  easel outpaint --image FILE --left N … [options]     extend an image on any side
  easel tokenize --model DIR [--json] TEXT             CLIP token ids, weights and chunks of a prompt
  easel info [--json] FILE.png                         the generation parameters stored in an image
  easel models list|pull|verify|rm|add …               the model catalog, downloads and local folders
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
  --provider NAME         auto | cpu | webgpu | dml | cuda | coreml (default auto)
  --decoder vae|taesd     the final decode: the full VAE (default), or a fast draft through the
                          TAESD decoder of the model's family (recorded in the PNG as
                          "VAE Decoder: TAESD"; get one with 'easel models pull taesd')
  --lora FILE[:WEIGHT]    merge a LoRA (.safetensors, kohya/A1111 or diffusers/PEFT keys, LoCon) into
                          the model; WEIGHT -10..10, default 1; repeatable (they add up). With
                          --prompt-syntax a1111, <lora:NAME:WEIGHT> in the prompt works too
  --lora-folder DIR       where <lora:NAME> finds NAME.safetensors (repeatable; the model store's
                          loras/ folder is searched after these)
  --fast                  fast mode: merge the catalog's LCM-LoRA for the model's family (SD 1.x,
                          SDXL; fetched the first time) and run the LCM sampler, 4 steps, guidance 1
                          unless --scheduler/--steps/--guidance say otherwise
  --no-taesd              when a catalog model is downloaded now, do not fetch its family's TAESD
                          decoder with it (remembered); by default it is fetched (a few MB)
  --out FILE.png          output file, replaced if it exists and is writable (refused if read-only);
                          default <prompt slug>-<seed>.png; a batch writes <stem>-<seed+i>.png;
                          names Easel makes up never replace a file: they get -2, -3…
  --json                  print one JSON line: {"images":[{"path","seed"}],"provider","vaeDecoder","seconds"};
                          each seed is a decimal string (seeds exceed what JSON numbers keep exactly)
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
--guidance, --seed, --batch, --prompt-syntax, --provider, --out, --json, --verbose, --accept-license);
--width/--height/--init-image/--mask are not taken: the size follows from the image and the sides.`;

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
