// A1111's LoRA hash (modules/hashes.py `addnet_hash_safetensors`, kohya's "new" additional-networks
// hash): sha256 of everything after the header, so editing the metadata keeps it. The infotext's
// `Lora hashes` carry its first 12 hex digits (network.py's shorthash).

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { SafetensorsFile } from "../model/safetensors";

export async function a1111LoraHash(file: string): Promise<string> {
  const opened = await SafetensorsFile.open(file);
  await opened.close();
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { start: opened.dataStart })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
