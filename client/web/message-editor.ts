import { element } from './dom.js';

/** The most lines the edit box grows to before it scrolls. */
const MAX_EDIT_ROWS = 8;

/**
 * A message's text turned into a box to edit it in place: Enter saves, Shift+Enter starts a
 * new line, Escape cancels. Unchanged text saves nothing; empty text is not sent (Delete is
 * for that). While the server answers, the box is read-only; a refusal leaves it open.
 */
export class MessageEditor {
  readonly element: HTMLTextAreaElement;
  private saving = false;

  constructor(
    private readonly original: string,
    /** Resolves with whether the server took it. */
    private readonly save: (text: string) => Promise<boolean>,
    /** Called once, when the editing is over (saved or cancelled). */
    private readonly finish: () => void,
  ) {
    this.element = element('textarea', 'edit-box');
    this.element.value = original;
    this.element.setAttribute('aria-label', 'Edit message (Enter saves, Escape cancels)');
    this.element.maxLength = 65_536;
    this.fit();
    this.element.addEventListener('input', () => {
      this.element.removeAttribute('aria-invalid');
      this.fit();
    });
    this.element.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        if (!this.saving) this.finish();
        return;
      }
      // Enter while an input method is composing picks a candidate; it does not send.
      if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      this.submit();
    });
  }

  /** Puts the caret at the end of the text. */
  focus(): void {
    this.element.focus();
    this.element.setSelectionRange(this.element.value.length, this.element.value.length);
  }

  private submit(): void {
    if (this.saving) return;
    const text = this.element.value;
    if (text === this.original) {
      this.finish();
      return;
    }
    if (text.trim() === '') {
      this.element.setAttribute('aria-invalid', 'true');
      return;
    }
    this.saving = true;
    this.element.readOnly = true;
    void this.save(text).then((saved) => {
      this.saving = false;
      this.element.readOnly = false;
      if (saved) this.finish();
    });
  }

  /** As many rows as the text has lines, up to MAX_EDIT_ROWS. */
  private fit(): void {
    this.element.rows = Math.min(MAX_EDIT_ROWS, this.element.value.split('\n').length);
  }
}
