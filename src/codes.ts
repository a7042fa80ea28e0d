// Reason codes: defined once in src/registry.ts (layer, severity, retryable, README text); re-exported here for the
// modules that only need the names and links.

export { CODES, hintFor, README_URL, type Code, type CodeInfo } from './registry.js';
