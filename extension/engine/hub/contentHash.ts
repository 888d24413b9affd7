// The hash a downloaded file is checked against: the sha256 the Hub lists for LFS files, or, for
// small files kept in git itself, the git blob id (sha1 of "blob <size>\0" + content); a NuGet
// feed publishes a package's sha512.
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";

export type HashKind = "sha256" | "sha512" | "git-sha1";

export class ContentHasher {
  private hash: Hash;
  bytes = 0;

  constructor(readonly kind: HashKind, size: number) {
    this.hash = ContentHasher.start(kind, size);
  }

  private static start(kind: HashKind, size: number): Hash {
    if (kind === "sha256" || kind === "sha512") return createHash(kind);
    return createHash("sha1").update(`blob ${size}\0`);
  }

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): string {
    return this.hash.digest("hex");
  }

  /** A hasher that has already seen the first `length` bytes of `file`: resuming needs the prefix's state. */
  static async ofPrefix(kind: HashKind, size: number, file: string, length: number): Promise<ContentHasher> {
    const hasher = new ContentHasher(kind, size);
    if (length === 0) return hasher;
    for await (const chunk of createReadStream(file, { start: 0, end: length - 1 })) hasher.update(chunk as Buffer);
    return hasher;
  }
}

export async function hashFile(kind: HashKind, file: string, size: number): Promise<string> {
  const hasher = await ContentHasher.ofPrefix(kind, size, file, size);
  return hasher.digest();
}
