/** What people (`take`: assign to me) (and the hub, for SLA escalation) can do to an inspection: the workflow's verbs. */
export const ACTIONS = ['acknowledge', 'assign', 'take', 'start', 'resolve', 'false_alarm', 'escalate'] as const;
export type Action = (typeof ACTIONS)[number];
