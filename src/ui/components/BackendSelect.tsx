/** The studio's "Run on" choice (WebGPU or the CPU) and the line saying what that means; the Merge and Taste steps use it alike. */
export type BackendKind = 'webgpu' | 'cpu';

export function BackendSelect({
  choice,
  line,
  available,
  disabled,
  cpuLabel,
  onChange,
}: {
  choice: BackendKind;
  /** What the choice runs on, and why (shown under the select). */
  line: string;
  /** False: no WebGPU adapter, so only the CPU can be chosen. */
  available: boolean;
  disabled: boolean;
  cpuLabel: string;
  onChange: (choice: BackendKind) => void;
}) {
  return (
    <div className="backend">
      <label>
        Run on{' '}
        <select value={choice} disabled={disabled} onChange={(e) => onChange(e.currentTarget.value as BackendKind)}>
          <option value="webgpu" disabled={!available}>
            WebGPU
          </option>
          <option value="cpu">{cpuLabel}</option>
        </select>
      </label>
      <p className="backend-line" data-backend={choice}>
        {line}
      </p>
    </div>
  );
}
