// The output format names, in the order the help lists them. Light on purpose: options.ts (loaded on every start)
// validates -o against this list; index.ts maps each name to its reporter.

export const FORMATS = ['text', 'json', 'junit', 'sarif', 'github', 'prometheus', 'html'] as const;
export type FormatName = (typeof FORMATS)[number];

export function isFormat(s: string): s is FormatName {
  return (FORMATS as readonly string[]).includes(s);
}

/** One -o value: a format, written to a file or (file null) to stdout. */
export interface OutputSpec {
  format: FormatName;
  file: string | null;
}
