// Small checks for messages crossing a process or webview boundary: each returns the typed value or
// throws a ProtocolError naming the field, so a malformed message is refused, never half-used.

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

export type Fields = Readonly<Record<string, unknown>>;

export function object(value: unknown, what: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ProtocolError(`${what} must be an object`);
  return value as Fields;
}

export function str(o: Fields, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== "string") throw new ProtocolError(`${what}.${key} must be a string`);
  return v;
}

export function optStr(o: Fields, key: string, what: string): string | undefined {
  return o[key] === undefined ? undefined : str(o, key, what);
}

export function num(o: Fields, key: string, what: string): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ProtocolError(`${what}.${key} must be a finite number`);
  return v;
}

export function optNum(o: Fields, key: string, what: string): number | undefined {
  return o[key] === undefined ? undefined : num(o, key, what);
}

export function int(o: Fields, key: string, what: string): number {
  const v = num(o, key, what);
  if (!Number.isSafeInteger(v)) throw new ProtocolError(`${what}.${key} must be a whole number`);
  return v;
}

export function optInt(o: Fields, key: string, what: string): number | undefined {
  return o[key] === undefined ? undefined : int(o, key, what);
}

export function bool(o: Fields, key: string, what: string): boolean {
  const v = o[key];
  if (typeof v !== "boolean") throw new ProtocolError(`${what}.${key} must be true or false`);
  return v;
}

export function optBool(o: Fields, key: string, what: string): boolean | undefined {
  return o[key] === undefined ? undefined : bool(o, key, what);
}

export function big(o: Fields, key: string, what: string): bigint {
  const v = o[key];
  if (typeof v !== "bigint") throw new ProtocolError(`${what}.${key} must be a bigint`);
  return v;
}

export function optBig(o: Fields, key: string, what: string): bigint | undefined {
  return o[key] === undefined ? undefined : big(o, key, what);
}

export function bytes(o: Fields, key: string, what: string): Uint8Array {
  const v = o[key];
  if (!(v instanceof Uint8Array)) throw new ProtocolError(`${what}.${key} must be bytes`);
  return v;
}

export function optBytes(o: Fields, key: string, what: string): Uint8Array | undefined {
  return o[key] === undefined ? undefined : bytes(o, key, what);
}

export function oneOf<T extends string>(o: Fields, key: string, allowed: readonly T[], what: string): T {
  const v = str(o, key, what);
  if (!(allowed as readonly string[]).includes(v)) throw new ProtocolError(`${what}.${key} must be one of ${allowed.join(", ")}`);
  return v as T;
}

export function optOneOf<T extends string>(o: Fields, key: string, allowed: readonly T[], what: string): T | undefined {
  return o[key] === undefined ? undefined : oneOf(o, key, allowed, what);
}
