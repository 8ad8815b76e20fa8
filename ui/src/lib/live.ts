import { onLedgerChanged } from '../api';
import { debounce } from './debounce';

/**
 * Re-runs `load` (debounced) whenever any process changes the shared ledger. Returns the cleanup,
 * so a component can `$effect(() => refetchOnLedgerChange(load))`.
 */
export function refetchOnLedgerChange(load: () => void, ms = 150): () => void {
  const run = debounce(load, ms);
  const unsubscribe = onLedgerChanged(run);
  return () => {
    unsubscribe();
    run.cancel();
  };
}
