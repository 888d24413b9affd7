export const MAIN_HELP = `easel — Stable Diffusion on your own machine (ONNX Runtime, no cloud)

Usage:
  easel generate --model DIR --prompt TEXT [options]   make images
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
  --prompt TEXT           what to draw (may be empty)
  --negative-prompt TEXT  what to avoid (used when guidance > 1)
  --prompt-syntax NAME    plain | a1111 (default plain: the prompt as written, cut after 75 tokens;
                          a1111: (word) (word:1.3) [word] weights, \( escapes, BREAK, 75-token chunks)
  --scheduler NAME        default | euler | euler-a | ddim | pndm | lms | dpmpp-2m | dpmpp-2m-karras | lcm
  --steps N               denoising steps, 1..150 (default from the model family)
  --guidance F            classifier-free guidance scale (default from the model family)
  --seed N                0..18446744073709551615 (random when absent; image i uses seed + i)
  --width W, --height H   image size in pixels, a multiple of the model's granularity, 64..2048
  --batch N               how many images (default 1)
  --init-image FILE       start from this image (img2img)
  --strength F            img2img strength in (0, 1] (default 0.8)
  --provider NAME         auto | cpu | webgpu | dml | cuda | coreml (default auto)
  --out FILE.png          output file (default <prompt slug>-<seed>.png; a batch writes <stem>-<seed+i>.png)
  --json                  print one JSON line: {"images":[{"path","seed"}],"provider","seconds"}
  --verbose               stack traces and provider probing details on errors`;

export const TOKENIZE_HELP = `Usage: easel tokenize --model DIR [--prompt-syntax plain|a1111] [--json] TEXT

Prints the rows of 77 token ids the text encoder receives (one per 75-token chunk in the a1111
syntax, one truncated row in the plain syntax, the default), each token's weight, the prompt's own
token count and whether the plain syntax cut it at 75 tokens. --json prints
{"chunks":[{"ids":[…77],"weights":[…77]}],"ids":[…],"count":N,"truncated":bool}, where "ids" is the
first chunk's and "count" counts the tokens of every chunk.`;

export const INFO_HELP = `Usage: easel info [--json] FILE.png

Prints the generation parameters (A1111 infotext) stored in an image. --json prints the parsed
fields: {"prompt","negativePrompt","parameters":{…},"infotext"}.`;
