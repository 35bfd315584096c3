// The CLI's side of the emperor's control socket: one JSON request per line, one answer
// per line (src/emperor/control.ts has the protocol).
import { connect } from 'node:net';
import { binding } from '../native/binding';
import { badEmperorName, defaultControlSocket, EMPERORS_DIR, runningEmperors } from '../emperor/emperor-name';

/** jailctl's exit statuses for the control commands. */
export const EXIT_OK = 0;
/** The emperor refused or could not do it (unknown vassal, not yours, wrong state). */
export const EXIT_REFUSED = 1;
/** No emperor answers on the socket. */
export const EXIT_NO_EMPEROR = 3;

export class NoEmperorError extends Error {}

export interface ControlAnswer {
  readonly ok: boolean;
  readonly error?: string;
  readonly code?: string;
  readonly [key: string]: unknown;
}

// --socket, else $JAILCTL_SOCKET, else the socket of the emperor --emperor names, else that of
// the only emperor running (NoEmperorError when none or several run, naming them).
export function socketPath(flags: { readonly socket?: string; readonly emperor?: string }, env: NodeJS.ProcessEnv = process.env, running = runningEmperors): string {
  const given = flags.socket ?? env.JAILCTL_SOCKET;
  if (given !== undefined) return given;
  if (flags.emperor !== undefined) {
    const bad = badEmperorName(flags.emperor);
    if (bad) throw new NoEmperorError(`--emperor ${flags.emperor}: ${bad}`);
    return defaultControlSocket(flags.emperor);
  }
  const names = running();
  if (names.length === 1) return defaultControlSocket(names[0]!);
  if (names.length === 0)
    throw new NoEmperorError(`no emperor is running (none listens in ${EMPERORS_DIR}): start one with \`jailctl emperor\`, or point --socket or JAILCTL_SOCKET at its emperor-control-socket`);
  throw new NoEmperorError(`${names.length} emperors run (${names.join(', ')}): say which, with --emperor NAME`);
}

/** Who answers on the control socket, as the kernel says (SO_PEERCRED). */
export interface Answerer {
  readonly pid: number;
  readonly uid: number;
}

// Sends one request and resolves with the answer; `onConnect` sees who serves the socket
// first and may refuse it by throwing (root's enter trusts only a root emperor).
export function ask(path: string, request: Record<string, unknown>, onConnect?: (server: Answerer) => void): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let got = '';
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      if (onConnect) {
        try {
          onConnect(binding.peerCredentials((sock as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1));
        } catch (err: unknown) {
          sock.destroy();
          reject(err);
          return;
        }
      }
      sock.write(`${JSON.stringify(request)}\n`);
    });
    sock.on('data', (chunk: string) => {
      got += chunk;
      const nl = got.indexOf('\n');
      if (nl < 0) return;
      sock.destroy();
      try {
        resolve(JSON.parse(got.slice(0, nl)) as ControlAnswer);
      } catch {
        reject(new Error(`the emperor at ${path} answered something that is not JSON: ${got.slice(0, 200)}`));
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) =>
      reject(new NoEmperorError(`no emperor answers at ${path} (${err.code ?? err.message}): is \`jailctl emperor\` running? Point --socket or JAILCTL_SOCKET at its emperor-control-socket`)));
    sock.on('end', () => {
      if (!got.includes('\n')) reject(new NoEmperorError(`the emperor at ${path} closed the connection without an answer`));
    });
  });
}

// Sends one request and hands every answer line to `onAnswer` until the emperor hangs up
// or `onAnswer` returns false (the first line is the answer itself; `logs --follow` sends
// more). Resolves when the connection is over.
export function askStreaming(path: string, request: Record<string, unknown>, onAnswer: (answer: ControlAnswer) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buffered = '';
    let answered = false;
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        answered = true;
        if (!onAnswer(JSON.parse(line) as ControlAnswer)) {
          sock.destroy();
          resolve();
          return;
        }
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) =>
      reject(new NoEmperorError(`no emperor answers at ${path} (${err.code ?? err.message}): is \`jailctl emperor\` running? Point --socket or JAILCTL_SOCKET at its emperor-control-socket`)));
    sock.on('close', () => (answered ? resolve() : reject(new NoEmperorError(`the emperor at ${path} closed the connection without an answer`))));
  });
}
