// Keeps a failing part (a preview that cannot render, a chunk that failed to load) from taking the page down.
import { Component, type ReactNode } from "react";

interface Props {
  children: ReactNode;
  /** When this changes, try again. */
  resetKey: unknown;
  what: string;
}

export class Boundary extends Component<Props, { error: string | null; key: unknown }> {
  state = { error: null as string | null, key: undefined as unknown };
  static getDerivedStateFromError(error: Error) {
    return { error: error.message };
  }
  static getDerivedStateFromProps(props: Props, state: { key: unknown }) {
    return props.resetKey !== state.key ? { error: null, key: props.resetKey } : null;
  }
  render() {
    return this.state.error ? (
      <p className="wf-inline-error">
        The {this.props.what} cannot be shown: {this.state.error}
      </p>
    ) : (
      this.props.children
    );
  }
}
