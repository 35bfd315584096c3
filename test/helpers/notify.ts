// An sd_notify receiver, as systemd's: what an emperor sends to its NOTIFY_SOCKET.
import { spawn, type ChildProcess } from 'node:child_process';

// Datagrams on a UNIX socket at `path`, one line each (python3: Node has no AF_UNIX datagrams).
export function receiver(path: string): { proc: ChildProcess; got: () => string[] } {
  const proc = spawn('python3', ['-u', '-c', [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    `s.bind(${JSON.stringify(path)})`,
    'import os; os.chmod(sys.argv[1], 0o777)',
    'print("LISTENING", flush=True)',
    'while True:',
    '    print(s.recv(4096).decode().replace("\\n", " | "), flush=True)',
  ].join('\n'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return { proc, got: () => out.split('\n').filter(Boolean) };
}
