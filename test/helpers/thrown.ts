// The error a function throws, checked to be of the expected class (so a test can assert
// its fields); fails the test when nothing or something else is thrown.
export function thrown<T extends Error>(fn: () => unknown, type: new (...args: never[]) => T): T {
  try {
    fn();
  } catch (err: unknown) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}`);
}
