// Code points no output may carry raw, for every writer of untrusted text (reporters, fixes, diff).

/**
 * C0 and C1 controls (but \t), DEL, the Unicode line and paragraph separators, the noncharacters U+FFFE/U+FFFF and
 * lone surrogates (the last three are not XML 1.0 characters: a JUnit file holding one is not well-formed). \n is in
 * the set: single-line text escapes it, multi-line text keeps it. Global: reset lastIndex, or use it with replace().
 */
export const UNSAFE =
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** true when s holds a character of UNSAFE. */
export function hasUnsafe(s: string): boolean {
  UNSAFE.lastIndex = 0;
  const r = UNSAFE.test(s);
  UNSAFE.lastIndex = 0;
  return r;
}
