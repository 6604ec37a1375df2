/**
 * Joining a message with a detail that may be empty (a host's stderr, an app's output, Swarm's update message), so a
 * blank part never leaves "failed:" or "failed: ; rolling back" behind: every joined message still reads as a sentence.
 */

/** `head: detail`, or `head: fallback` when the detail is blank, or `head` alone when there is no fallback either. */
export function withDetail(head: string, detail: string | undefined, fallback?: string): string {
  const text = detail?.trim() || fallback?.trim();
  return text ? `${head}: ${text}` : head;
}

/** The first line of a message as a clause that more can follow ("…; rolling back"): no trailing ":" or spaces. */
export function headline(message: string): string {
  const first = message.split('\n').find((l) => l.trim() !== '') ?? '';
  return first.replace(/[\s:;,]+$/, '');
}
