import nodemailer, { type Transporter } from 'nodemailer';
import { PdmError } from '../../protocol/errors.js';
import type { NotificationText } from './message.js';

/** Where a notification goes: one recipient list or one incoming webhook. */
export interface NotificationChannel {
  readonly name: string;
  send(message: NotificationText): Promise<void>;
  close?(): void;
}

export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  user?: string | undefined;
  pass?: string | undefined;
  from: string;
  timeoutMs: number;
}

/** E-mail over SMTP through nodemailer; one transport (pooled connection) for every recipient list. */
export function smtpTransport(smtp: SmtpSettings): Transporter {
  return nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.pass ?? '' } } : {}),
    connectionTimeout: smtp.timeoutMs,
    greetingTimeout: smtp.timeoutMs,
    socketTimeout: smtp.timeoutMs,
  });
}

export function emailChannel(transport: Transporter, from: string, to: readonly string[]): NotificationChannel {
  return {
    name: `email:${to.join(',')}`,
    async send(message) {
      await transport.sendMail({ from, to: [...to], subject: message.subject, text: message.text });
    },
  };
}

export type ChatFormat = 'slack' | 'teams';

/**
 * A chat-style incoming webhook. Slack (and Mattermost, Rocket.Chat, Google Chat) take `{ text }`; Teams' incoming
 * webhooks take a MessageCard.
 */
export function chatChannel(
  name: string,
  url: string,
  format: ChatFormat,
  timeoutMs: number,
  doFetch: typeof fetch = fetch,
): NotificationChannel {
  return {
    name: `chat:${name}`,
    async send(message) {
      const body =
        format === 'teams'
          ? {
              '@type': 'MessageCard',
              '@context': 'https://schema.org/extensions',
              summary: message.subject,
              title: message.subject,
              text: message.text.replace(/\n/g, '\n\n'),
            }
          : { text: `*${message.subject}*\n${message.text}` };
      const res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      if (!res.ok) throw new PdmError('PDM_ERR_WEBHOOK', `chat webhook ${name} answered HTTP ${res.status}`);
    },
  };
}
