import { useState } from 'react';

export interface Action<A extends unknown[]> {
  run(...args: A): Promise<void>;
  busy: boolean;
  error: unknown;
  clearError(): void;
}

/** A user action (a button, a form): busy while it runs, and the API's error kept to show. */
export function useAction<A extends unknown[]>(act: (...args: A) => Promise<unknown>): Action<A> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return {
    busy,
    error,
    clearError: () => setError(undefined),
    run: async (...args: A) => {
      setBusy(true);
      setError(undefined);
      try {
        await act(...args);
      } catch (err) {
        setError(err);
      } finally {
        setBusy(false);
      }
    },
  };
}
