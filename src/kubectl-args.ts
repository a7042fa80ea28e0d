// kubectl plugin conventions -> gwdoctor flags. kubectl passes everything after `kubectl gwdoctor` unchanged, so
// the plugin accepts kubectl's spellings: --context/--kubeconfig (gwdoctor's own), and -n/--namespace, which
// gives the namespace of a `--gateway NAME` written without one.

import { UsageError } from './errors.js';

export function kubectlArgs(argv: string[]): string[] {
  let namespace: string | null = null;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^(?:-n|--namespace)(?:=(.*))?$/.exec(a) ?? /^-n(.+)$/.exec(a);
    if (m) {
      const v = m[1] ?? argv[++i];
      if (!v) throw new UsageError(`${a}: expected a namespace`);
      namespace = v;
      continue;
    }
    out.push(a);
  }
  if (namespace === null) return out;
  const g = out.findIndex((a) => a === '--gateway' || a.startsWith('--gateway='));
  if (g < 0)
    throw new UsageError(
      `-n ${namespace}: the namespace applies to --gateway NAME (the Gateway's namespace); give --gateway too, or leave -n out`,
    );
  const inline = (out[g] as string).startsWith('--gateway=');
  const value = inline ? (out[g] as string).slice('--gateway='.length) : out[g + 1];
  if (value === undefined) return out; // the option parser reports the missing value
  if (value.includes('/')) {
    if (value.split('/')[0] !== namespace)
      throw new UsageError(`-n ${namespace} and --gateway ${value} name different namespaces`);
    return out;
  }
  if (inline) out[g] = `--gateway=${namespace}/${value}`;
  else out[g + 1] = `${namespace}/${value}`;
  return out;
}
