/**
 * The messages a set of expected reminders makes: one each, and one per guest where the guest
 * list is hidden (`individual`, as the sandbox's seed marks them).
 */
export function messagesOf(expected: readonly { recipients: string[]; individual?: true }[]): number {
  return expected.reduce((n, e) => n + (e.individual ? e.recipients.length : 1), 0);
}
