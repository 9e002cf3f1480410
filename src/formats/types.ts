import type { Dtype } from './dtype';

/** Random-access bytes: a browser File/Blob, a FileSystemFileHandle, a Node file. */
export interface ByteSource {
  /** What people call it in messages: a file name or path. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes from `offset`, or an error naming the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: reads exactly `target.length` bytes from `offset` into `target` (which may be a view on a
   * SharedArrayBuffer), so a caller can reuse its buffers. Without it, callers copy what read() returns.
   */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
  /**
   * Optional: a file path by which another thread of this process can open the same bytes (Node
   * files), so the CPU backend's worker threads read method tensors themselves.
   */
  readonly path?: string;
}

/** Where a writer appends bytes. Nothing is visible under the final name until close() succeeds. */
export interface ByteSink {
  readonly name: string;
  write(data: Uint8Array): Promise<void>;
  /** Completes the file (rename into place, or close the writable stream). */
  close(): Promise<void>;
  /** Discards everything written; the target is left as it was before. */
  abort(): Promise<void>;
}

/** One tensor as a safetensors header describes it. */
export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute offset of the first byte in the file (8 + header length + data_offsets[0]). */
  byteOffset: number;
  byteLength: number;
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  /** In data order (sorted by offset). */
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** Header length N from the first 8 bytes. */
  headerLength: number;
  /** Absolute offset of the data buffer (8 + N). */
  dataStart: number;
}
