// A path a config line names, made absolute against the directory of the file it was written
// in. A config that is no file (a database row: its name is pg://…/NAME, not a path) has no
// directory, so a relative path there is refused with NO_DIRECTORY.
import { dirname, isAbsolute, resolve } from 'node:path';

/** Why a relative path is refused in a config that is no file. */
export const NO_DIRECTORY = 'is a relative path, and this config is no file (a database row) to be relative to: give an absolute path';

// The absolute path, or undefined when `value` is relative and `file` is no file.
export function pathFrom(file: string, value: string): string | undefined {
  if (isAbsolute(value)) return resolve(value);
  return isAbsolute(file) ? resolve(dirname(file), value) : undefined;
}
