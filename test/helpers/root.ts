// Jail tests need root and real namespaces: fail loudly without them, never skip silently.
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    console.error('test/jail needs root (real namespaces, uid changes): run it as root, e.g. `sudo npm run test:jail`');
    process.exit(1);
  }
}
