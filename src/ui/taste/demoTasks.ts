/** The demo task set shipped in public/demo/tasks (written for SoupLab; see its SOURCE.md), fetched as text. */
import { InputError } from '../../errors';
import type { TaskText } from './protocol';

export const DEMO_TASK_FILES = ['arithmetic.jsonl', 'facts.jsonl', 'prose.txt', 'tool-calls.jsonl'] as const;

export async function fetchDemoTasks(): Promise<TaskText[]> {
  return Promise.all(
    DEMO_TASK_FILES.map(async (file) => {
      const url = `${import.meta.env.BASE_URL}demo/tasks/${file}`;
      let res: Response;
      try {
        res = await fetch(url);
      } catch (e) {
        throw new InputError(`demo tasks: ${url} could not be fetched (${e instanceof Error ? e.message : String(e)})`);
      }
      if (!res.ok) throw new InputError(`demo tasks: ${url} answered ${res.status}`);
      return { file, text: await res.text() };
    }),
  );
}
