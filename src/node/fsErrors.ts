import { InputError } from '../errors';

/** A Node fs error as one line for people: "<path>: no such file or folder". */
export function fsInputError(path: string, e: unknown, doing = ''): InputError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or folder',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a folder, not a file',
    ENOTDIR: 'a part of the path is not a folder',
    ENOSPC: 'no space left on the disk',
    EROFS: 'the file system is read-only',
    EMFILE: 'too many open files',
    EEXIST: 'already exists',
    EIO: 'input/output error',
  };
  const reason = (code && reasons[code]) ?? (e instanceof Error ? e.message.split('\n')[0] : String(e));
  return new InputError(`${path}: ${doing ? `${doing}: ` : ''}${reason}`);
}
