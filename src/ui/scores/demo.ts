/**
 * The demo the studio opens with when the user has no table of their own: the Berkeley Function
 * Calling Leaderboard v3 (public/demo/bfcl-v3, Apache-2.0), and the paper's 70B candidates.
 */
export const DEMO_TABLE_URL = 'demo/bfcl-v3/data_overall.csv';
export const DEMO_TABLE_NAME = 'data_overall.csv';

export const DEMO_ATTRIBUTION = {
  title: 'Berkeley Function Calling Leaderboard v3',
  license: 'Apache-2.0',
  url: 'https://github.com/ShishirPatil/gorilla',
  detail: 'gorilla repository, gh-pages branch, commit afae868 (2025-04-30); 121 models',
} as const;

/**
 * The three 70B models the SoCE paper (arXiv 2511.13254) souped. The paper's candidate set also held
 * Functionary-Medium-v3.1; on this leaderboard snapshot it would win some AST categories, so the demo
 * starts from the paper's souped three and the UI says how to add the fourth.
 */
export const DEMO_CANDIDATES = ['xLAM-2-70b-fc-r (FC)', 'watt-tool-70B (FC)', 'CoALM-70B'];

/** Fetches the demo table relative to the page (works under any base path). */
export async function fetchDemoTable(fetcher: typeof fetch = fetch): Promise<{ name: string; text: string }> {
  const res = await fetcher(new URL(DEMO_TABLE_URL, document.baseURI).toString());
  if (!res.ok) throw new Error(`the demo table ${DEMO_TABLE_URL} could not be loaded (HTTP ${res.status})`);
  return { name: DEMO_TABLE_NAME, text: await res.text() };
}

/** The paper's fourth 70B candidate, on this leaderboard as well. */
export const DEMO_FOURTH_CANDIDATE = 'Functionary-Medium-v3.1 (FC)';
