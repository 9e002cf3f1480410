import { Component, type ReactNode } from 'react';

interface State {
  error: Error | null;
}

/**
 * Keeps a bug in one view from blanking the studio: says what broke, in words, and offers a retry.
 * Bad input never lands here (it is shown where it happens); only programming errors do.
 */
export class ViewErrorBoundary extends Component<{ view: string; children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override render() {
    if (this.state.error === null) return this.props.children;
    return (
      <div className="card" role="alert">
        <p className="error">
          The {this.props.view} view stopped because of a bug in SoupLab: {this.state.error.message}
        </p>
        <p className="muted">Your data is kept. Try again, or reload the page.</p>
        <button type="button" onClick={() => this.setState({ error: null })}>
          Try again
        </button>
      </div>
    );
  }
}
