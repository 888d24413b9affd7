// Text that must survive a round trip through UTF-8 (a PNG's iTXt chunk, a file name, IPC): a
// JavaScript string can hold a lone UTF-16 surrogate, which no UTF-8 encoder can write faithfully.

/** The index of the first unpaired UTF-16 surrogate in `text`, or -1 when it is well-formed Unicode. */
export function loneSurrogateIndex(text: string): number {
  // With the u flag a paired surrogate is one astral code point, so \p{Cs} matches only lone halves.
  return text.search(/\p{Cs}/u);
}
