// The ICO container (Windows icon resource, what browsers read as favicon.ico): a 6-byte header,
// one 16-byte directory entry per image, then the images. Each image is stored as a PNG, which
// every browser and Windows since Vista read; a width or height of 256 is written as 0.
// Written here rather than with a dependency: the format is these few bytes, and the tests decode
// the result with an independent decoder (decode-ico).

export interface IcoImage {
  readonly size: number;
  /** A square 8-bit RGBA PNG of `size`². */
  readonly png: Uint8Array;
}

export function encodeIco(images: readonly IcoImage[]): Buffer {
  if (images.length === 0 || images.length > 0xffff) throw new RangeError("an ICO holds 1 to 65535 images");
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(0, 0); // reserved
  header.writeUInt16LE(1, 2); // 1: icon (2 would be a cursor)
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach((image, i) => {
    if (!Number.isInteger(image.size) || image.size < 1 || image.size > 256) throw new RangeError(`an ICO image is 1 to 256 pixels wide, not ${image.size}`);
    const at = 6 + 16 * i;
    header.writeUInt8(image.size === 256 ? 0 : image.size, at); // width
    header.writeUInt8(image.size === 256 ? 0 : image.size, at + 1); // height
    header.writeUInt8(0, at + 2); // palette colours: none
    header.writeUInt8(0, at + 3); // reserved
    header.writeUInt16LE(1, at + 4); // colour planes
    header.writeUInt16LE(32, at + 6); // bits per pixel
    header.writeUInt32LE(image.png.length, at + 8);
    header.writeUInt32LE(offset, at + 12);
    offset += image.png.length;
  });
  return Buffer.concat([header, ...images.map((i) => Buffer.from(i.png.buffer, i.png.byteOffset, i.png.byteLength))]);
}
