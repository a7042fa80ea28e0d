// Types of scripts/scenario.mjs (plain JavaScript so that `npm run demo` runs from the packed tarball).
type K8sObject = Record<string, any>;
export interface Overlay {
  base: string;
  form: 'with-controller' | 'pre-sync';
  remove: string[];
  patch: { object: string; merge: Record<string, unknown> }[];
  replace: K8sObject[];
  add: K8sObject[];
}
export const ROOT: string;
export const FIXTURES: string;
export const SEED: string;
export const MATERIALISED: string;
export function scenarioNames(): string[];
export function overlayOf(name: string): Overlay | null;
export function ref(o: K8sObject): string;
export function presync(objs: K8sObject[]): K8sObject[];
export function applyMergePatch(target: unknown, patch: unknown): unknown;
export function merge(seed: K8sObject[], ov: Overlay): K8sObject[];
export function scenarioObjects(name: string): K8sObject[];
export function scenarioText(name: string): string;
export function materialise(name: string, out?: string): string;
export function compareWith(dir: string): string[];
