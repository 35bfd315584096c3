// A deterministic generator of hostile vassal files, for the fuzz test: valid files in the
// four formats, mutations of them, the attack shapes of issue 11 (placeholder bombs, deep
// nesting, huge keys and values, long lists), random bytes, NUL, BOMs, CRLF, invalid UTF-8.
// The same seed gives the same files, so a failure names a file that can be made again.

export type Ext = 'ini' | 'yaml' | 'yml' | 'json';
export const EXTS: readonly Ext[] = ['ini', 'yaml', 'yml', 'json'];

export interface HostileFile {
  readonly ext: Ext;
  /** What made it, for messages: `mutate(valid yaml)`, `deep json flow`… */
  readonly kind: string;
  readonly data: Buffer;
}

/** A seeded PRNG (mulberry32): fast, and the same sequence for the same seed. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

type Entry = readonly [string, string];

// Tokens that mean something to one of the parsers or to the expansion.
const TOKENS = [
  '%(', ')', '%(vassal_name)', '%(a0)', '%n', '%p', '%%', '$(', '$(HOME)', '[', ']', '{', '}', '- ', '"', "'", '\\', '\0', '\r\n', '\n',
  '\uFEFF', ': ', ':', '=', ',', '[jail]', '[uwsgi]', 'jail:', '"jail":', '&a ', '*a', '<<: *a', '!!binary ', '!!js/function ', '? ', '%YAML 1.1\n',
  '---\n', '...\n', '#', ';', '`', '\t', ' ', 'uid', 'exec-as-root', 'privileged-binary-patch', 'env', '__proto__', 'constructor', '\u2028',
];

// What a sysadmin or tenant might write: the options that reach the emperor's checks.
function validEntries(r: Rng): Entry[] {
  const out: Entry[] = [['vassal_name', '%n']];
  const pool: Array<() => Entry> = [
    () => ['unshare', r.pick(['fs,pid', 'fs', 'uts', 'ipc', 'net', 'pid'])],
    () => ['hostname', r.pick(['web', '%(vassal_name)', 'a.b'])],
    () => ['env', `K${r.int(9)}=%(vassal_name)-${r.int(99)}`],
    () => ['exec-as-root', r.pick(['hostname web', 'echo %(vassal_name)', 'true'])],
    () => ['tmp', r.pick(['private', 'shared'])],
    () => ['tmp-size', r.pick(['16m', '1g', '4k'])],
    () => ['max-procs', String(r.int(200))],
    () => ['cap', r.pick(['net_bind_service', 'kill', 'setuid'])],
    () => ['chdir', '/tmp'],
    () => ['no-new-privs', r.pick(['true', 'false'])],
    () => ['uid', r.pick(['1001', 'nobody', '0'])],
    () => [`p${r.int(5)}`, r.pick(['x', '%(vassal_name)', '%(p1)%(p2)', '$(touch /tmp/PWNED-fuzz)'])],
  ];
  for (let i = r.int(8); i > 0; i--) out.push(r.pick(pool)());
  out.push(['unprivileged-binary-patch-arg', `/nonexistent/jailctl-fuzz %(vassal_name)`]);
  return out;
}

const yamlScalar = (v: string): string => JSON.stringify(v);

// Entries written in a format; lists become YAML/JSON lists when a key repeats.
export function render(ext: Ext, entries: readonly Entry[], r: Rng): string {
  const eol = r.chance(0.1) ? '\r\n' : '\n';
  const bom = r.chance(0.05) ? '\uFEFF' : '';
  if (ext === 'ini') return bom + ['[jail]', ...entries.map(([k, v]) => `${k} = ${v}`), ''].join(eol);
  const grouped = new Map<string, string[]>();
  for (const [k, v] of entries) {
    const list = grouped.get(k);
    if (list) list.push(v);
    else grouped.set(k, [v]);
  }
  if (ext === 'json') {
    const body = Object.fromEntries([...grouped].map(([k, vs]) => [k, vs.length > 1 ? vs : vs[0]]));
    return bom + JSON.stringify({ jail: body }, null, r.chance(0.5) ? 2 : 0).replace(/\n/g, eol);
  }
  const lines = ['jail:'];
  for (const [k, vs] of grouped) {
    if (vs.length === 1) lines.push(`  ${k}: ${yamlScalar(vs[0]!)}`);
    else lines.push(`  ${k}:`, ...vs.map((v) => `    - ${yamlScalar(v)}`));
  }
  return bom + [...lines, ''].join(eol);
}

function mutate(text: string, r: Rng): Buffer {
  let buf = Buffer.from(text);
  for (let n = 1 + r.int(8); n > 0; n--) {
    const at = r.int(buf.length + 1);
    switch (r.int(6)) {
      case 0: // flip a byte
        if (buf.length > 0) buf[Math.min(at, buf.length - 1)] = r.int(256);
        break;
      case 1: // insert a token
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from(r.pick(TOKENS)), buf.subarray(at)]);
        break;
      case 2: // delete a range
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + r.int(40))]);
        break;
      case 3: { // repeat a range
        const len = 1 + r.int(60);
        const piece = buf.subarray(at, at + len);
        buf = Buffer.concat([buf.subarray(0, at), ...Array(1 + r.int(200)).fill(piece), buf.subarray(at)]);
        break;
      }
      case 4: // truncate
        buf = buf.subarray(0, at);
        break;
      default: // invalid UTF-8
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from([r.pick([0xff, 0xfe, 0xc0, 0xed, 0x80]), r.int(256)]), buf.subarray(at)]);
    }
  }
  return buf;
}

// The attack shapes, each sized at random up to about 1 MiB (the file limit; a few over it),
// the ones of many entries just past MAX_ENTRIES_PER_FILE (more only costs the generator).
function attack(r: Rng): { ext: Ext; kind: string; text: string } {
  const ext = r.pick(EXTS);
  const big = r.chance(0.1) ? 1 + r.int(1 << 20) : 1 + r.int(20_000);
  const entries = (list: Entry[]): string => render(ext, list, r);
  switch (r.int(13)) {
    case 0: { // placeholder doubling
      const depth = 10 + r.int(40);
      return { ext, kind: `doubling ${depth}`, text: entries([['a0', 'xxxxxxxx'], ...Array.from({ length: depth }, (_, i): Entry => [`a${i + 1}`, `%(a${i})%(a${i})`])]) };
    }
    case 1: { // many lines of wide placeholders
      const lines = 1 + r.int(3000);
      return { ext, kind: `wide ${lines}`, text: entries([['w', 'y'.repeat(1000)], ...Array.from({ length: lines }, (): Entry => ['env', `A=${'%(w)'.repeat(30)}`])]) };
    }
    case 2: { // deep nesting
      const n = Math.min(big, 400_000);
      const shape = r.int(5);
      const text = ext === 'json'
        ? `{"jail": {"a": ${shape < 2 ? '['.repeat(n) + ']'.repeat(shape === 0 ? n : 0) : '{"a":'.repeat(n)}}}`
        : shape === 0 ? `jail:\n  a: ${'['.repeat(n)}${']'.repeat(n)}\n`
        : shape === 1 ? `jail:\n  a:\n${'- '.repeat(n)}x\n`
        : shape === 2 ? `jail:\n  a: ${'{a: '.repeat(n)}\n`
        : shape === 3 ? `jail:\n${Array.from({ length: Math.min(n, 1400) }, (_, i) => `${' '.repeat(i + 2)}k${i}:`).join('\n')} x\n`
        : `[jail]\n${'['.repeat(n)}\n`;
      return { ext, kind: `deep ${ext} ${shape} ${n}`, text };
    }
    case 3: // a huge key
      return { ext, kind: `huge key ${big}`, text: entries([['k'.repeat(big), '1']]) };
    case 4: // a huge value
      return { ext, kind: `huge value ${big}`, text: entries([['env', `A=${'v'.repeat(big)}`]]) };
    case 5: { // a long list
      const n = Math.min(Math.floor(big / 8), 12_000);
      return { ext, kind: `list ${n}`, text: entries(Array.from({ length: n }, (): Entry => ['env', 'A=1'])) };
    }
    case 6: { // many distinct keys
      const n = Math.min(Math.floor(big / 12), 12_000);
      return { ext, kind: `keys ${n}`, text: entries(Array.from({ length: n }, (_, i): Entry => [`k${i}`, String(i)])) };
    }
    case 7: { // YAML aliases: a list repeated without repeating its text
      const n = 1 + r.int(2000);
      const refs = 1 + r.int(500);
      return { ext: 'yaml', kind: `aliases ${n}x${refs}`, text: `jail:\n  env: &l [${Array(n).fill('A=1').join(', ')}]\n${Array.from({ length: refs }, (_, i) => `  e${i}: *l\n`).join('')}` };
    }
    case 8: { // many unresolved placeholders
      const n = Math.min(Math.floor(big / 16), 12_000);
      return { ext, kind: `unresolved ${n}`, text: entries(Array.from({ length: n }, (_, i): Entry => ['env', `A=%(nope${i})`])) };
    }
    case 9: // a line of quotes and colons (the JSON and YAML key scanners)
      return { ext, kind: `quotes ${big}`, text: `${ext === 'ini' ? '[jail]\n' : ''}${r.pick(['"', '"a":', "'a': ", ': ', '"\\"', '[ ], ']).repeat(Math.ceil(big / 4))}` };
    case 10: { // placeholders nested deeply
      const n = 1 + r.int(200);
      return { ext, kind: `chain ${n}`, text: entries([['b0', 'x'], ...Array.from({ length: n }, (_, i): Entry => [`b${i + 1}`, `<%(b${i})>`])]) };
    }
    case 11: { // tenant values meant for the sysadmin's root hook
      const v = r.pick(['$(touch /tmp/PWNED-fuzz)', '`touch /tmp/PWNED-fuzz`', "'; touch /tmp/PWNED-fuzz; '", 'a\nb', 'x"y', '\\', "'"]);
      return { ext, kind: 'root hook value', text: entries([['vassal_name', v], ['unprivileged-binary-patch-arg', '/nonexistent/jailctl-fuzz']]) };
    }
    default: // NUL bytes everywhere
      return { ext, kind: 'nul', text: entries(validEntries(r)).replace(/ /g, () => (r.chance(0.2) ? '\0' : ' ')) };
  }
}

// The index-th file of a seeded run.
export function hostileFile(r: Rng): HostileFile {
  const roll = r.next();
  if (roll < 0.15) {
    const ext = r.pick(EXTS);
    return { ext, kind: `valid ${ext}`, data: Buffer.from(render(ext, validEntries(r), r)) };
  }
  if (roll < 0.6) {
    const ext = r.pick(EXTS);
    return { ext, kind: `mutate(valid ${ext})`, data: mutate(render(ext, validEntries(r), r), r) };
  }
  if (roll < 0.8) {
    const a = attack(r);
    return { ext: a.ext, kind: a.kind, data: Buffer.from(a.text) };
  }
  if (roll < 0.9) {
    const data = Buffer.alloc(r.int(4096));
    for (let i = 0; i < data.length; i++) data[i] = r.int(256);
    return { ext: r.pick(EXTS), kind: 'random bytes', data };
  }
  const chars = '[]{}:-"\'%()$=,#;\n\r\t \\ajl0';
  let text = '';
  for (let i = r.int(3000); i > 0; i--) text += chars[r.int(chars.length)];
  return { ext: r.pick(EXTS), kind: 'random text', data: Buffer.from(text) };
}
