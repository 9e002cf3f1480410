/**
 * The parts of the File System Access API (WICG) that TypeScript's DOM library does not declare yet,
 * reached through feature checks: Chromium has them, Firefox and Safari do not.
 */

export type PermissionMode = 'read' | 'readwrite';

interface PermissionMethods {
  queryPermission?(d: { mode: PermissionMode }): Promise<PermissionState>;
  requestPermission?(d: { mode: PermissionMode }): Promise<PermissionState>;
}

interface PickerWindow {
  showOpenFilePicker?(opts?: {
    multiple?: boolean;
    types?: { description?: string; accept: Record<string, string[]> }[];
    excludeAcceptAllOption?: boolean;
  }): Promise<FileSystemFileHandle[]>;
  showDirectoryPicker?(opts?: { mode?: PermissionMode; id?: string }): Promise<FileSystemDirectoryHandle>;
  showSaveFilePicker?(opts?: {
    suggestedName?: string;
    types?: { description?: string; accept: Record<string, string[]> }[];
  }): Promise<FileSystemFileHandle>;
}

const w = (): PickerWindow => (typeof window === 'undefined' ? {} : (window as unknown as PickerWindow));

export const hasOpenFilePicker = (): boolean => typeof w().showOpenFilePicker === 'function';
export const hasDirectoryPicker = (): boolean => typeof w().showDirectoryPicker === 'function';
export const hasSaveFilePicker = (): boolean => typeof w().showSaveFilePicker === 'function';

export const SAFETENSORS_TYPES = [{ description: 'safetensors checkpoints', accept: { 'application/octet-stream': ['.safetensors'] } }];
export const GGUF_TYPES = [{ description: 'GGUF models (llama.cpp)', accept: { 'application/octet-stream': ['.gguf'] } }];

export function showOpenFilePicker(): Promise<FileSystemFileHandle[]> {
  return w().showOpenFilePicker!({ multiple: true, types: SAFETENSORS_TYPES });
}

export function showDirectoryPicker(mode: PermissionMode, id: string): Promise<FileSystemDirectoryHandle> {
  return w().showDirectoryPicker!({ mode, id });
}

export function showSaveFilePicker(suggestedName: string, types = SAFETENSORS_TYPES): Promise<FileSystemFileHandle> {
  return w().showSaveFilePicker!({ suggestedName, types });
}

/** 'granted' where the API has no permission model (OPFS handles, older builds). */
export async function queryPermission(h: FileSystemHandle, mode: PermissionMode): Promise<PermissionState> {
  const p = h as FileSystemHandle & PermissionMethods;
  return p.queryPermission ? p.queryPermission({ mode }) : 'granted';
}

/** Must run inside a user gesture (a click) when the answer is 'prompt'. */
export async function requestPermission(h: FileSystemHandle, mode: PermissionMode): Promise<PermissionState> {
  const p = h as FileSystemHandle & PermissionMethods;
  return p.requestPermission ? p.requestPermission({ mode }) : 'granted';
}

/** The entries of a folder handle (name, handle). */
export async function entriesOf(dir: FileSystemDirectoryHandle): Promise<[string, FileSystemHandle][]> {
  const out: [string, FileSystemHandle][] = [];
  const iterable = (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries();
  for await (const entry of iterable) out.push(entry);
  return out;
}

/** A user closing a picker is not an error. */
export function isPickerCancel(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}
