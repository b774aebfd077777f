/** What an audit event's action means, in words, for the history and audit log tables. */

const WORDS: Record<string, string> = {
  "branding.changed": "Branding changed",
  "calendar.deleted": "Calendar deleted",
  "calendar.saved": "Calendar saved",
  "comment.added": "Comment added",
  "document.deleted": "Document deleted",
  "document.uploaded": "Document attached",
  "email.test_sent": "Test email sent",
  "event_delivery.retried": "Event delivery retried",
  "event_endpoint.created": "Event endpoint added",
  "event_endpoint.deleted": "Event endpoint removed",
  "event_endpoint.disabled": "Event endpoint switched off",
  "event_endpoint.secret_rotated": "Event endpoint secret rotated",
  "event_endpoint.updated": "Event endpoint changed",
  "incident.raised": "Problem raised",
  "incident.retried": "Problem retried",
  "incident.skipped": "Problem skipped",
  "instance.cancelled": "Request cancelled",
  "instance.completed": "Request completed",
  "instance.data_corrected": "Data corrected",
  "instance.finished": "Request finished",
  "instance.purged": "Request deleted (retention)",
  "instance.rejected": "Request rejected",
  "instance.resumed": "Request resumed",
  "instance.stage": "Stage reached",
  "instance.stage_changed": "Stage reached",
  "instance.started": "Request started",
  "instance.suspended": "Request paused",
  "message.held": "Message held until awaited",
  "message.received": "Message received",
  "message_hook.deleted": "Message hook removed",
  "message_hook.saved": "Message hook saved",
  "message_hook.secret_created": "Message hook secret made",
  "message_hook.secret_revoked": "Message hook secret revoked",
  "out_of_office.ended": "Out of office ended",
  "out_of_office.set": "Out of office set",
  "role.created": "Role added",
  "role.deleted": "Role removed",
  "subworkflow.not_started": "Sub-workflow could not start",
  "table.created": "Data table added",
  "table.deleted": "Data table removed",
  "table.imported": "Data table imported",
  "table.row_created": "Table row added",
  "table.row_deleted": "Table row removed",
  "table.row_updated": "Table row changed",
  "task.action_link": "Task answered from a link",
  "task.claimed": "Task claimed",
  "task.completed": "Task completed",
  "task.covered": "Task handed to a cover",
  "task.created": "Task created",
  "task.delegated": "Task delegated",
  "task.overdue": "Task overdue",
  "task.reassigned": "Task reassigned",
  "task.returned": "Task returned",
  "task.unclaimed": "Task given back",
  "template.published": "Template published",
  "template.removed": "Template removed",
  "timer.failed": "Timer failed",
  "token.created": "API token made",
  "token.revoked": "API token revoked",
  "user.created": "Person added",
  "user.password_set": "Password set",
  "user.updated": "Person changed",
  "webhook.dead_letter": "Webhook kept as a dead letter",
  "webhook.dead_letter_discarded": "Dead letter set aside",
  "webhook.received": "Webhook received",
  "webhook.replay_failed": "Dead letter replay failed",
  "webhook.replayed": "Dead letter replayed",
  "webhook.secret_created": "Webhook secret made",
  "webhook.secret_revoked": "Webhook secret revoked",
  "workflow.archived": "Workflow archived",
  "workflow.created": "Workflow created",
  "workflow.published": "Workflow published",
  "workflow.restored": "Workflow restored",
  "workflow.retention": "Retention set",
  "workflow.updated": "Workflow changed",
};

/** ``task.claimed`` → "Task claimed"; an action not listed is spelled out from its name. */
export function actionWords(action: string): string {
  const known = WORDS[action];
  if (known) return known;
  const text = action.replace(/[._]/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The action code for what the audit log shows in words ("Task completed" → ``task.completed``);
 * anything else as typed (a code, or the first part of codes: ``task``). */
export function actionCode(typed: string): string {
  const text = typed.trim().toLowerCase();
  const found = Object.entries(WORDS).find(([, words]) => words.toLowerCase() === text);
  return found ? found[0] : typed.trim();
}

/** Every action's words, for suggestions while typing a filter. */
export const ACTION_WORDS: string[] = [...new Set(Object.values(WORDS))].sort();
