// Cut a manifest file into units small enough to parse one at a time, without ever holding the whole file as one
// string: YAML documents (split at `---`), the items of a block-style `kind: List` (as `kubectl get -o yaml` prints
// it), the elements of a JSON `items` array (or of a top-level JSON array). Each unit carries its 1-based line.
// Memory follows the largest unit, not the file: a 1 GB dump is read in 1 MB chunks.

import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export type UnitKind = 'doc' | 'item' | 'envelope';

/**
 * One piece of text to parse. `doc`: a whole YAML/JSON document. `item`: one element of the document's `items`
 * (List) array, indented as in the file (YAML) or as its own JSON value. `envelope`: the document around the items
 * just emitted, with `items` left out; it tells whether the document was a List at all.
 */
export interface Unit {
  kind: UnitKind;
  text: string;
  /** Line of the object (its first key, or the `- ` of a List entry). */
  line: number;
  /** Line of the first line of `text` (a parser's line 1 is this line). */
  start: number;
  json: boolean;
}

const CHUNK = 1 << 20;
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Lines of a file (or of stdin: fd 0), read in 1 MB chunks. A trailing "\r" is removed, and a UTF-8 byte order mark at
 * the start. Each chunk is searched once: a line longer than a chunk (one-line JSON) is kept as pieces and joined once,
 * so reading stays linear in the size of the file whatever its shape.
 */
export function* readLines(path: string): Generator<string> {
  const fd = path === '/dev/stdin' || path === '-' ? 0 : openSync(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  const dec = new StringDecoder('utf8');
  const pieces: string[] = []; // the current line so far, when it began in an earlier chunk
  let first = true;
  const line = (s: string): string => (s.charCodeAt(s.length - 1) === 13 ? s.slice(0, -1) : s);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, CHUNK, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(PAUSE, 0, 0, 10); // a non-blocking stdin with nothing yet: wait 10 ms, without spinning
          continue;
        }
        if ((err as NodeJS.ErrnoException).code === 'EOF') break;
        throw err;
      }
      if (n === 0) break;
      let s = dec.write(buf.subarray(0, n));
      if (first && s !== '') {
        // A UTF-8 byte order mark (Windows editors write one) is not content: JSON.parse would refuse it as a token,
        // js-yaml skips it. Read JSON and YAML alike.
        first = false;
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      }
      let start = 0;
      for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', start)) {
        if (pieces.length > 0) {
          pieces.push(s.slice(start, i));
          yield line(pieces.join(''));
          pieces.length = 0;
        } else yield line(s.slice(start, i));
        start = i + 1;
      }
      if (start < s.length) pieces.push(start === 0 ? s : s.slice(start));
    }
    const rest = pieces.join('') + dec.end();
    if (rest !== '') yield line(rest);
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

/**
 * Leave out, before any parsing, the two blocks that make up most of a `kubectl get -o yaml` dump and that gwdoctor
 * never reads: `managedFields:` (a sequence, printed at the key's own indentation) and the
 * `kubectl.kubernetes.io/last-applied-configuration` annotation. Lines left out become empty lines, so line numbers
 * stay exact. A document marker always ends the skipping.
 */
export function* withoutBulk(lines: Iterable<string>): Generator<string> {
  let skipIndent = -1; // skipping lines indented more than this (and `- ` entries at it, for managedFields)
  let seq = false;
  for (const line of lines) {
    if (skipIndent !== -1) {
      const t = line.trimStart();
      const ind = line.length - t.length;
      if (t === '' || ind > skipIndent || (seq && ind === skipIndent && (t.startsWith('- ') || t === '-'))) {
        if (!(ind === 0 && (t.startsWith('---') || t.startsWith('...')))) {
          yield '';
          continue;
        }
      }
      skipIndent = -1;
    }
    const m = BULK.exec(line);
    if (m) {
      skipIndent = (m[1] as string).length;
      seq = m[2] === 'managedFields';
      yield '';
      continue;
    }
    yield line;
  }
}
const BULK =
  /^( +)(managedFields|kubectl\.kubernetes\.io\/last-applied-configuration):(?:[ \t]*(?:[|>][-+0-9]*)?[ \t]*$|[ \t]+(?:'|"|\{|\[)?)/;

const DOC_START = /^---(?:[ \t]|$)/;
const DOC_END = /^\.\.\.(?:[ \t]|$)/;
const ITEMS_KEY = /^items:[ \t]*(?:#.*)?$/;
const TOP_KEY = /^(?:[A-Za-z_][\w.\-/]*|"[^"]*"|'[^']*'):(?:[ \t]|$)/;
const blank = (l: string) => /^[ \t]*(?:#.*)?$/.test(l);
const indentOf = (l: string) => l.length - l.trimStart().length;

/**
 * YAML units. Documents are split at `---` / `...` lines (a document marker at column 0 ends any scalar, so this is
 * exact). Inside a document, a column-0 `items:` key followed by a block sequence is cut item by item; anything that
 * does not fit that shape is left whole in its document, for the parser to judge.
 */
export function* yamlUnits(lines: Iterable<string>): Generator<Unit> {
  let doc: string[] = [];
  let docLine = 1;
  let lineNo = 0;
  // doc: collecting a document; after-items: a column-0 `items:` was seen; items: cutting entries at column `dash`;
  // envelope: back at the top level after the items.
  let mode: 'doc' | 'after-items' | 'items' | 'envelope' = 'doc';
  let envelope: string[] = [];
  let dash = -1;
  let item: string[] = [];
  let itemLine = 0;

  const flushItem = function* (): Generator<Unit> {
    if (item.length > 0) yield { kind: 'item', text: item.join('\n'), line: itemLine, start: itemLine, json: false };
    item = [];
  };
  const endDoc = function* (): Generator<Unit> {
    const first = doc.findIndex((l) => !blank(l) && !l.startsWith('%'));
    const line = docLine + Math.max(0, first);
    if (mode === 'items') yield* flushItem();
    if (mode === 'items' || mode === 'envelope')
      yield { kind: 'envelope', text: envelope.join('\n'), line, start: docLine, json: false };
    else if (first !== -1) yield { kind: 'doc', text: doc.join('\n'), line, start: docLine, json: false };
    doc = [];
    envelope = [];
    mode = 'doc';
    dash = -1;
  };

  for (const line of lines) {
    lineNo++;
    if (DOC_START.test(line) || DOC_END.test(line)) {
      const onlyDirectives = mode === 'doc' && doc.every((l) => blank(l) || l.startsWith('%'));
      if (DOC_START.test(line) && onlyDirectives && doc.some((l) => l.startsWith('%'))) {
        doc.push(line); // `%YAML 1.2` then `---`: the directives belong to this document
        continue;
      }
      yield* endDoc();
      docLine = lineNo + 1;
      if (DOC_START.test(line) && !blank(line.slice(3))) {
        doc.push(`   ${line.slice(3)}`); // `--- {a: 1}`: the content stays on its line
        docLine = lineNo;
      }
      continue;
    }
    switch (mode) {
      case 'doc':
        doc.push(line);
        if (ITEMS_KEY.test(line)) mode = 'after-items';
        continue;
      case 'after-items': {
        if (blank(line)) {
          doc.push(line);
          continue;
        }
        const m = /^( *)-(?:[ \t]|$)/.exec(line);
        if (!m) {
          mode = 'doc'; // `items:` holding a mapping: not a List, the document is parsed whole
          doc.push(line);
          continue;
        }
        dash = (m[1] as string).length;
        mode = 'items';
        envelope = doc.slice(
          0,
          doc.findLastIndex((l) => ITEMS_KEY.test(l)),
        );
        envelope.push('items: []');
        doc = doc.slice(0, 1).concat(doc.slice(1).map(() => '')); // keep only what the first-line search needs
        item = [`${line.slice(0, dash)} ${line.slice(dash + 1)}`];
        itemLine = lineNo;
        continue;
      }
      case 'items': {
        const ind = indentOf(line);
        if (
          blank(line) ||
          ind > dash ||
          (!(ind === 0 && TOP_KEY.test(line)) && !(ind === dash && line.charAt(dash) === '-'))
        ) {
          // Inside the entry (anything the splitter does not understand stays in it: the parser judges).
          item.push(line);
          continue;
        }
        yield* flushItem();
        if (ind === dash && /^ *-(?:[ \t]|$)/.test(line)) {
          item = [`${line.slice(0, dash)} ${line.slice(dash + 1)}`];
          itemLine = lineNo;
        } else {
          mode = 'envelope'; // `kind: List`, `metadata:` after the items
          envelope.push(line);
        }
        continue;
      }
      case 'envelope':
        envelope.push(line);
        continue;
    }
  }
  yield* endDoc();
}

/**
 * JSON units: a top-level object whose `items` is an array (a List, `kubectl get -o json`) yields each element as an
 * `item` and the object without the elements as the `envelope`; a top-level array yields its elements; anything else
 * is one `doc`. A scanner tracks strings and nesting, so formatting does not matter.
 */
export function* jsonUnits(lines: Iterable<string>): Generator<Unit> {
  let depth = 0;
  let inStr = false;
  let esc = false;
  let lineNo = 0;
  let key = ''; // last string seen at depth 1 (an object key or a value)
  let strStart = -1;
  let topArray = false;
  let itemsDepth = -1; // depth inside the array whose elements are emitted
  let afterColon = false;
  const envelope: string[] = [];
  let item: string[] = [];
  let itemStart = -1; // column where the current element began on its first line, -1 when outside an element
  let itemLine = 0;
  let sawAny = false;
  let cut = false; // an items array was cut out of this document

  for (const line of lines) {
    lineNo++;
    let segStart = 0; // start of the part of this line that goes to the envelope or the element
    let nextBs = -2; // index of the next backslash at or after the scan (-1: none left on this line; -2: not searched yet)
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (inStr) {
        if (esc) {
          esc = false;
          continue;
        }
        if (c !== 34 && c !== 92) {
          // Jump to the next quote or backslash: most of a dump is inside strings. The next backslash is searched
          // again only once the scan has passed it: on a line without one (one-line JSON), searching at every string
          // would read the rest of the line each time (quadratic: 12 s for 9 MB).
          const q = line.indexOf('"', i);
          if (nextBs !== -1 && nextBs < i) nextBs = line.indexOf('\\', i);
          const b = nextBs;
          const next = q === -1 ? b : b === -1 ? q : Math.min(q, b);
          if (next === -1) {
            i = line.length;
            continue;
          }
          i = next - 1;
          continue;
        }
        if (c === 92) esc = true;
        else {
          inStr = false;
          if (depth === 1 && strStart !== -1) key = line.slice(strStart, i);
        }
        continue;
      }
      switch (c) {
        case 34: // "
          inStr = true;
          strStart = depth === 1 && !afterColon ? i + 1 : -1;
          break;
        case 58: // :
          if (depth === 1) afterColon = true;
          break;
        case 44: // ,
          if (depth === 1) afterColon = false;
          break;
        case 123: // {
        case 91: // [
          if (depth === 0 && !sawAny) {
            sawAny = true;
            if (c === 91) {
              topArray = true;
              itemsDepth = 1;
            }
          } else if (depth === 1 && c === 91 && !topArray && afterColon && key === 'items' && itemsDepth === -1) {
            itemsDepth = 2;
            cut = true;
            envelope.push(line.slice(segStart, i + 1));
            segStart = i + 1;
            depth++;
            continue;
          }
          if (itemsDepth > 0 && depth === itemsDepth && c === 123) {
            // An object element begins.
            if (itemStart === -1) {
              itemStart = i;
              itemLine = lineNo;
              segStart = i;
            }
          }
          depth++;
          break;
        case 125: // }
        case 93: // ]
          depth--;
          if (itemsDepth > 0 && depth === itemsDepth && itemStart !== -1) {
            item.push(line.slice(segStart, i + 1));
            yield { kind: 'item', text: item.join('\n'), line: itemLine, start: itemLine, json: true };
            item = [];
            itemStart = -1;
            segStart = i + 1;
          } else if (itemsDepth > 0 && depth === itemsDepth - 1) {
            // The items array (or the top-level array) closes: the envelope resumes here.
            segStart = i;
            if (topArray) itemsDepth = -1;
            else itemsDepth = -2; // done: only one items array per document
          }
          break;
      }
      // Between elements: commas (and any scalar element, which cannot be an object) are skipped.
      if (itemsDepth > 0 && depth === itemsDepth && itemStart === -1) segStart = i + 1;
    }
    if (itemStart !== -1) item.push(line.slice(segStart));
    else if (!(itemsDepth > 0 && depth === itemsDepth)) envelope.push(line.slice(segStart));
  }
  if (item.length > 0) yield { kind: 'item', text: item.join('\n'), line: itemLine, start: itemLine, json: true };
  if (topArray) return;
  const text = envelope.join('\n');
  const first = text.search(/\S/);
  if (first === -1) return;
  const line = 1 + (text.slice(0, first).match(/\n/g)?.length ?? 0);
  yield { kind: cut ? 'envelope' : 'doc', text, line, start: 1, json: true };
}
