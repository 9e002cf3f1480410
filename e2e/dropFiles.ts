import type { Page } from '@playwright/test';

/** A file to drop: text, or bytes as base64 (page.evaluate carries strings, not buffers). */
export interface DroppedFile {
  name: string;
  text?: string;
  base64?: string;
  type?: string;
}

/**
 * Drops files on a drop area (a section named by its aria-label: "Scores", "Checkpoints", "Task
 * files", ...) as a real drag does: dragenter, dragover and drop carrying a DataTransfer of File
 * objects. Waits for the area first: a view's code loads when its tab is first shown.
 */
export async function dropFiles(page: Page, area: string, files: DroppedFile[]): Promise<void> {
  await page.locator(`section[aria-label="${area}"]`).evaluate((el, list) => {
    const dt = new DataTransfer();
    for (const f of list) {
      const body = f.base64 !== undefined ? Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0)) : (f.text ?? '');
      dt.items.add(new File([body], f.name, f.type ? { type: f.type } : {}));
    }
    for (const type of ['dragenter', 'dragover', 'drop']) el.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files);
}

/** Drops one text file on a drop area. */
export async function dropFile(page: Page, area: string, name: string, text: string): Promise<void> {
  await dropFiles(page, area, [{ name, text }]);
}
