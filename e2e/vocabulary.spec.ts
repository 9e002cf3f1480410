/**
 * Issue 21 §2 in the studio: checkpoints whose tokenizers differ (a base, a model that adds chat tokens,
 * one that adds tool tokens, one token added by both at different ids). The pre-flight says how each
 * model's vocabulary differs, one line per model, and blocks the merge until a vocabulary is chosen;
 * with union chosen the rows are aligned, the pre-flight passes and the exported recipe says
 * tokenizer_source: union; the page's merge (CPU, into a folder) has the tensors `souplab merge` writes for
 * that recipe and the union's tokenizer.json.
 *
 * Run against the production build: npm run build && npx playwright test e2e/vocabulary.spec.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { readSafetensors } from '../test/merge/models';
import { writeVocabularyModels } from '../test/merge/vocabularyModels';
import { openFreshStudio } from './freshSession';

let dir: string;
test.beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-e2e-vocab-'));
  writeVocabularyModels(dir);
});
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('vocabularies that differ: one line per model, and union or base to choose', async ({ page }) => {
  await openFreshStudio(page);
  await page.getByRole('tab', { name: 'Ingredients' }).click();
  await page.getByRole('button', { name: 'Remove all' }).click();
  const folderInput = page.locator('input[type=file][webkitdirectory]');
  for (const name of ['base', 'chat', 'tool']) await folderInput.setInputFiles(join(dir, name));
  await expect(page.getByRole('article')).toHaveCount(3, { timeout: 30_000 });

  const preflight = page.getByRole('region', { name: 'Pre-flight check' });
  const vocabulary = preflight.getByRole('group', { name: 'Vocabularies differ' });
  await expect(vocabulary.getByRole('listitem').nth(0)).toHaveText('chat: +2 tokens: <|im_start|>, <|im_end|>; added at other ids than elsewhere: <|im_start|> (8 here, 10 in tool)');
  await expect(vocabulary.getByRole('listitem').nth(1)).toHaveText('tool: +3 tokens: <tool_call>, </tool_call>, <|im_start|>; added at other ids than elsewhere: <|im_start|> (10 here, 8 in chat)');
  // Without a choice the rows are merged as they are: embeddings of 8, 10 and 11 rows do not fit.
  await expect(preflight.getByRole('status')).toContainText('block the merge');

  // The Search view says so before Start, in souplab search's words, and where to choose a vocabulary.
  await page.getByRole('tab', { name: 'Search' }).click();
  await expect(page.getByTestId('search-vocabulary')).toHaveText(
    /^Warning: the models' vocabularies differ \(chat: \+2 tokens: .*\): their embedding and LM-head rows are souped by position; choose the output vocabulary \(union or base\) in the Ingredients view’s pre-flight to align them\.$/,
  );
  await page.getByRole('tab', { name: 'Ingredients' }).click();

  await vocabulary.getByLabel('Output vocabulary').selectOption('union');
  await expect(preflight.getByRole('status')).toHaveText('Headers fit together: every ingredient matches base tensor by tensor.');
  await expect(vocabulary).toContainText('output vocabulary: the union, 12 tokens; +4 over base: <|im_start|> (from chat, tool), <|im_end|> (from chat), <tool_call> (from tool), </tool_call> (from tool)');

  // With union chosen the search aligns the rows: no warning.
  await page.getByRole('tab', { name: 'Search' }).click();
  await expect(page.getByRole('button', { name: /Start the search|Resume the search/ })).toBeVisible();
  await expect(page.getByTestId('search-vocabulary')).toHaveCount(0);
  await page.getByRole('tab', { name: 'Ingredients' }).click();

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export recipe' }).click()]);
  const recipe = readFileSync((await download.path())!, 'utf8');
  expect(recipe).toContain('tokenizer_source: union');

  // The merge in the page, into a folder of the origin private file system (the picker stubbed).
  await page.getByRole('tab', { name: 'Merge & export' }).click();
  await page.getByLabel('Run on').selectOption('cpu');
  await page.evaluate(() => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = async () =>
      (await navigator.storage.getDirectory()).getDirectoryHandle('union', { create: true });
  });
  await page.getByRole('radio', { name: /A folder/ }).check();
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  await expect(page.getByText(/Verified: 1 file, 4 tensors/)).toBeVisible({ timeout: 90_000 });
  const files = await page.evaluate(async () => {
    const d = await (await navigator.storage.getDirectory()).getDirectoryHandle('union');
    const read = async (name: string) => new Uint8Array(await (await (await d.getFileHandle(name)).getFile()).arrayBuffer());
    const b64 = (bytes: Uint8Array) => {
      let bin = '';
      for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(bin);
    };
    return { model: b64(await read('model.safetensors')), tokenizer: new TextDecoder().decode(await read('tokenizer.json')) };
  });
  const fromPage = readSafetensors(Buffer.from(files.model, 'base64')).tensors;
  writeFileSync(join(dir, 'union.yaml'), recipe);
  execFileSync(process.execPath, ['bin/souplab.js', 'merge', join(dir, 'union.yaml'), '--out', join(dir, 'union.safetensors'), '--backend', 'cpu', '--quiet'], { timeout: 120_000 });
  const fromCli = readSafetensors(readFileSync(join(dir, 'union.safetensors'))).tensors;
  expect(fromPage.get('lm_head.weight')!.shape).toEqual([12, 4]);
  for (const [name, t] of fromCli) expect(Buffer.from(fromPage.get(name)!.data).equals(Buffer.from(t.data)), name).toBe(true);
  const added = (JSON.parse(files.tokenizer) as { added_tokens: { id: number; content: string }[] }).added_tokens;
  expect(added.map((a) => `${a.id} ${a.content}`)).toEqual(['6 <s>', '7 </s>', '8 <|im_start|>', '9 <|im_end|>', '10 <tool_call>', '11 </tool_call>']);
  await page.getByRole('tab', { name: 'Ingredients' }).click();

  await vocabulary.getByLabel('Output vocabulary').selectOption('base');
  await expect(preflight.getByRole('status')).toHaveText('Headers fit together: every ingredient matches base tensor by tensor.');
  await expect(vocabulary).toContainText('output vocabulary: base\'s, 8 tokens');
});
