import { BackendLine } from './BackendLine';

export function App() {
  return (
    <main className="app">
      <header>
        <h1>SoupLab</h1>
        <p className="tagline">Soup fine-tunes of one base model into one better model, on your own GPU.</p>
      </header>
      <BackendLine />
    </main>
  );
}
