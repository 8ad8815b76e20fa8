// App-wide state: the current view, alerts, the key list (for empty states and the sidebar).

import { keysList, type AlertRow, type KeyView } from '../api';
import type { ViewName } from './shortcuts';

export class AppState {
  view = $state<ViewName>('ocr');
  helpOpen = $state(false);
  alerts = $state<AlertRow[]>([]);
  /** null until loaded. */
  keys = $state<KeyView[] | null>(null);
  keysError = $state<string | null>(null);
  /** Bumped to ask the OCR view to open its file picker (Ctrl+O from anywhere). */
  pickFiles = $state(0);

  usableKeys = $derived((this.keys ?? []).filter((k) => k.availability.state === 'usable').length);

  go(view: ViewName): void {
    this.view = view;
  }

  async refreshKeys(): Promise<void> {
    try {
      this.keys = await keysList();
      this.keysError = null;
    } catch (e) {
      this.keysError = e instanceof Error ? e.message : String(e);
    }
  }

  pushAlert(alert: AlertRow): void {
    const same = (a: AlertRow) => a.day === alert.day && a.rule === alert.rule && a.subject === alert.subject;
    this.alerts = [...this.alerts.filter((a) => !same(a)), alert];
  }

  dismissAlert(alert: AlertRow): void {
    this.alerts = this.alerts.filter((a) => a !== alert);
  }
}

export const app = new AppState();
