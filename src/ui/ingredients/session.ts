/**
 * The ingredient list across reloads. Demo checkpoints are fetched again; checkpoints added through a
 * picker or a drop keep their FileSystemHandles in IndexedDB and need read permission again (asked on a
 * click: "Reconnect files"); files given as plain Files (file inputs, some drops) cannot be kept.
 */
import { idbGet, idbSet } from '../state/idb';
import { queryPermission, requestPermission } from './fsAccess';
import { fromDirectoryHandle, fromFileHandles } from './collect';
import type { IngredientInput } from './types';

export type SavedIngredient =
  | { name: string; kind: 'demo' }
  | { name: string; kind: 'handle'; handle: FileSystemFileHandle | FileSystemDirectoryHandle }
  | { name: string; kind: 'lost' };

const KEY = 'souplab.soup.ingredients';

export function savedFormOf(input: IngredientInput, name: string): SavedIngredient {
  if (input.demo) return { name, kind: 'demo' };
  if (input.handle) return { name, kind: 'handle', handle: input.handle };
  return { name, kind: 'lost' };
}

export async function saveSession(list: SavedIngredient[]): Promise<void> {
  await idbSet(KEY, list);
}

/** undefined on the very first visit (nothing was ever saved). */
export async function loadSession(): Promise<SavedIngredient[] | undefined> {
  return idbGet<SavedIngredient[]>(KEY);
}

export async function permissionOf(saved: SavedIngredient & { kind: 'handle' }, ask: boolean): Promise<PermissionState> {
  const state = await queryPermission(saved.handle, 'read');
  if (state === 'granted' || !ask) return state;
  return requestPermission(saved.handle, 'read');
}

/** The input again, from its handle (the folder is listed anew). */
export async function reopenHandle(saved: SavedIngredient & { kind: 'handle' }): Promise<IngredientInput | undefined> {
  const h = saved.handle;
  const r = h.kind === 'directory' ? await fromDirectoryHandle(h as FileSystemDirectoryHandle) : fromFileHandles([h as FileSystemFileHandle]);
  const input = r.inputs[0];
  return input ? { ...input, name: saved.name, handle: h } : undefined;
}
