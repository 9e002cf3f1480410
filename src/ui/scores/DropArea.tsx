import { useId, useRef, useState, type DragEvent, type ReactNode } from 'react';

interface DropAreaProps {
  /** The accessible name of the area ("Scores", "Trials"). */
  label: string;
  /** What to drop, in words. */
  hint: ReactNode;
  accept: string;
  multiple: boolean;
  buttonText: string;
  onFiles(files: File[]): void;
  children?: ReactNode;
}

/** A drop target with a file-picker button, for browsers and people who do not drag. */
export function DropArea({ label, hint, accept, multiple, buttonText, onFiles, children }: DropAreaProps) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const hintId = useId();
  const take = (list: FileList | null | undefined) => {
    const files = list ? Array.from(list) : [];
    if (files.length > 0) onFiles(files);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    take(e.dataTransfer?.files);
  };
  return (
    <section
      aria-label={label}
      aria-describedby={hintId}
      className="drop-area"
      data-dragover={over || undefined}
      onDragOver={(e) => {
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <p id={hintId} className="drop-hint">{hint}</p>
      <div className="drop-actions">
        <button type="button" onClick={() => input.current?.click()}>
          {buttonText}
        </button>
        {children}
      </div>
      <input
        ref={input}
        type="file"
        accept={accept}
        multiple={multiple}
        hidden
        onChange={(e) => {
          take(e.target.files);
          e.target.value = '';
        }}
      />
    </section>
  );
}
