import { useRef, useState, type DragEvent } from 'react';
import { useSoupStore } from '../state/soupStore';
import { collectDrop, fromDirectoryHandle, fromDirectoryInput, fromFileHandles, fromLooseFiles } from './collect';
import { hasDirectoryPicker, hasOpenFilePicker, isPickerCancel, showDirectoryPicker, showOpenFilePicker } from './fsAccess';
import { messageOf } from './openIngredient';

/** The drop area "Checkpoints", with buttons that open the pickers (or file inputs where they are missing). */
export function DropZone() {
  const addInputs = useSoupStore((s) => s.addInputs);
  const loadDemo = useSoupStore((s) => s.loadDemo);
  const busy = useSoupStore((s) => s.busy);
  const [over, setOver] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  const run = (work: () => Promise<void>) => {
    setError(null);
    work().catch((e: unknown) => {
      if (!isPickerCancel(e)) setError(messageOf(e));
    });
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    // collectDrop takes every item synchronously, before its first await.
    const collected = collectDrop(e.dataTransfer);
    run(async () => addInputs(await collected));
  };

  const addFiles = () => {
    if (hasOpenFilePicker()) run(async () => addInputs(fromFileHandles(await showOpenFilePicker())));
    else filesInput.current?.click();
  };
  const addFolder = () => {
    if (hasDirectoryPicker()) run(async () => addInputs(await fromDirectoryHandle(await showDirectoryPicker('read', 'souplab-checkpoints'))));
    else folderInput.current?.click();
  };

  return (
    <section
      className={`dropzone${over ? ' dropzone-over' : ''}`}
      aria-label="Checkpoints"
      onDragEnter={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
      }}
      onDragLeave={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setOver(false);
      }}
      onDrop={onDrop}
    >
      <p className="dropzone-title">Drop .safetensors files or checkpoint folders here</p>
      <p className="muted small">Only the headers are read now; tensors are read when you merge. Nothing leaves this page.</p>
      <div className="row">
        <button type="button" onClick={addFiles}>Add files…</button>
        <button type="button" onClick={addFolder}>Add folder…</button>
        <button type="button" onClick={() => void loadDemo()} disabled={busy}>Load demo checkpoints</button>
      </div>
      <input
        ref={filesInput}
        type="file"
        multiple
        accept=".safetensors,.json"
        hidden
        onChange={(e) => {
          const files = Array.from(e.currentTarget.files ?? []);
          e.currentTarget.value = '';
          run(async () => addInputs(fromLooseFiles(files.map((f) => ({ name: f.name, item: f })))));
        }}
      />
      <input
        ref={(el) => {
          folderInput.current = el;
          el?.setAttribute('webkitdirectory', '');
        }}
        type="file"
        multiple
        hidden
        onChange={(e) => {
          const files = Array.from(e.currentTarget.files ?? []);
          e.currentTarget.value = '';
          run(async () => addInputs(fromDirectoryInput(files)));
        }}
      />
      {error && <p role="alert" className="error">{error}</p>}
    </section>
  );
}
