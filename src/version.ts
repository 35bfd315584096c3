// jailctl's version: `jailctl --version`, the emperor's stats (`version`) and the man page.
// test/unit/version.test.ts checks it is package.json's.
export const VERSION = '0.1.0';
